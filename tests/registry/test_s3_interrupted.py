"""An S3 server that goes away in the middle of an upload: a clear error, nothing half-visible.

A relay on loopback stands between the registry and a real moto server. It passes requests
through until the body of the first PUT is half sent, then stops the server (or only drops
the connection) and closes, so the upload dies with half its bytes on the wire. Told to
damage the upload instead, it changes one byte of the first PUT body and relays the rest.
With the records in PostgreSQL as with SQLite, a failed upload leaves no row behind.
"""

from __future__ import annotations

import contextlib
import socket
import sqlite3
import threading
from collections.abc import Callable, Iterator

import pytest

from maas_nb.exceptions import ArtifactCorruptedError, ArtifactStoreUnavailableError
from maas_nb.registry import Registry
from tests.s3 import BUCKET, client, moto_server


class CuttingRelay:
    """Relays TCP to *upstream*; halfway through the first PUT body, calls *cut* and closes
    (or, with *damage*, flips a byte of that body and goes on)."""

    def __init__(
        self, upstream: tuple[str, int], cut: Callable[[], None], damage: bool = False
    ) -> None:
        self.upstream, self._cut, self.damage = upstream, cut, damage
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.endpoint = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.done = threading.Event()
        self._sockets: list[socket.socket] = [self.listener]
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.done.is_set():
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            up = socket.create_connection(self.upstream)
            self._sockets += [conn, up]
            threading.Thread(target=self._responses, args=(up, conn), daemon=True).start()
            threading.Thread(target=self._requests, args=(conn, up), daemon=True).start()

    def _responses(self, up: socket.socket, conn: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while chunk := up.recv(65536):
                conn.sendall(chunk)

    def _requests(self, conn: socket.socket, up: socket.socket) -> None:
        pending = b""
        with contextlib.suppress(OSError):
            while chunk := conn.recv(65536):
                pending += chunk
                while b"\r\n\r\n" in pending:
                    head, _, body = pending.partition(b"\r\n\r\n")
                    if not head.startswith(b"PUT "):
                        up.sendall(head + b"\r\n\r\n")  # HEAD and GET carry no body
                        pending = body
                        continue
                    length = _content_length(head)
                    if len(body) < (length if self.damage else length // 2):
                        break  # wait for more of the body
                    if self.damage and not self.done.is_set():
                        self.done.set()
                        flipped = bytes([body[length // 2] ^ 0xFF])
                        damaged = body[: length // 2] + flipped + body[length // 2 + 1 : length]
                        up.sendall(head + b"\r\n\r\n" + damaged)
                        pending = body[length:]
                        continue
                    if self.damage:
                        up.sendall(head + b"\r\n\r\n" + body[:length])
                        pending = body[length:]
                        continue
                    up.sendall(head + b"\r\n\r\n" + body[: length // 2])
                    self.stop(cut=True)
                    return

    def stop(self, *, cut: bool = False) -> None:
        if cut and not self.done.is_set():
            self._cut()
        self.done.set()
        for sock in self._sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()


def _content_length(head: bytes) -> int:
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return int(value)
    raise AssertionError(f"a PUT without Content-Length: {head!r}")


@contextlib.contextmanager
def relay(upstream: str, cut: Callable[[], None], damage: bool = False) -> Iterator[CuttingRelay]:
    host, _, port = upstream.removeprefix("http://").partition(":")
    proxy = CuttingRelay((host, int(port)), cut, damage)
    try:
        yield proxy
    finally:
        proxy.stop()


def assert_nothing_registered(home) -> None:
    db = sqlite3.connect(home / "registry.db")
    assert db.execute("SELECT count(*) FROM versions").fetchone() == (0,)
    assert db.execute("SELECT count(*) FROM models").fetchone() == (0,)


def register_through(proxy: CuttingRelay, home, uri, classifier, monkeypatch) -> str:
    """Register through *proxy*; return the error's message."""
    monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # one retry, which finds the endpoint gone
    with pytest.raises(ArtifactStoreUnavailableError) as info:
        Registry(home, artifacts_uri=uri).register(classifier, "iris")
    assert proxy.done.is_set(), "the upload finished before the relay cut it"
    return str(info.value)


def test_the_s3_server_stopped_mid_upload_gives_a_clear_error_and_no_version(
    tmp_path, s3_uri, classifier, monkeypatch
):
    with moto_server(tmp_path) as server:
        client(server.endpoint).create_bucket(Bucket=BUCKET)
        with relay(server.endpoint, cut=server.stop) as proxy:
            message = register_through(proxy, tmp_path / "home", s3_uri, classifier, monkeypatch)
        assert server.process.poll() is not None  # really stopped, mid-upload
    assert message.startswith(f"Cannot reach the artifact store '{s3_uri}' (endpoint ")
    assert " while uploading sha256:" in message
    assert message.endswith(
        "Check that the S3 server is running and that AWS_ENDPOINT_URL names it; nothing was "
        "registered, so try again once it answers."
    )
    assert_nothing_registered(tmp_path / "home")


def test_with_postgres_records_a_stopped_s3_server_leaves_no_row_and_no_number(
    tmp_path, postgres_uri, s3_server, s3_uri, classifier, monkeypatch
):
    with moto_server(tmp_path) as server:
        client(server.endpoint).create_bucket(Bucket=BUCKET)
        with relay(server.endpoint, cut=server.stop) as proxy:
            message = register_through(proxy, tmp_path / "home", s3_uri, classifier, monkeypatch)
    assert message.startswith(f"Cannot reach the artifact store '{s3_uri}' (endpoint ")
    assert message.endswith("nothing was registered, so try again once it answers.")

    # The database holds no model and gave out no number: the next registration is 1.
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    registry = Registry(tmp_path / "home", artifacts_uri=s3_uri)
    assert registry.registry_uri == postgres_uri
    assert registry.list_models() == []
    assert registry.register(classifier, "iris").version == 1


def test_an_upload_cut_off_halfway_leaves_no_object_and_no_version(
    tmp_path, s3_server, s3_uri, classifier, iris, monkeypatch
):
    with relay(s3_server.endpoint, cut=lambda: None) as proxy:
        message = register_through(proxy, tmp_path / "home", s3_uri, classifier, monkeypatch)
    assert " while uploading sha256:" in message
    assert_nothing_registered(tmp_path / "home")
    listed = client(s3_server.endpoint).list_objects_v2(
        Bucket=BUCKET, Prefix=s3_uri.removeprefix(f"s3://{BUCKET}/")
    )
    assert listed.get("Contents", []) == []  # the server kept none of the half upload

    # Once the endpoint answers again, the same registration succeeds, as version 1.
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    registry = Registry(tmp_path / "home", artifacts_uri=s3_uri)
    assert registry.register(classifier, "iris").version == 1
    X, _ = iris
    assert registry.load("iris:1").predict(X[:3]).tolist() == classifier.predict(X[:3]).tolist()


def test_an_upload_damaged_on_the_way_is_caught_before_the_version_commits(
    tmp_path, s3_server, s3_uri, classifier, monkeypatch
):
    with relay(s3_server.endpoint, cut=lambda: None, damage=True) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        with pytest.raises(ArtifactCorruptedError) as info:
            Registry(tmp_path / "home", artifacts_uri=s3_uri).register(classifier, "iris")
    assert proxy.done.is_set()
    assert str(info.value).startswith("The upload of sha256:")
    assert str(info.value).endswith(
        "Nothing was registered; try again, and check the endpoint (AWS_ENDPOINT_URL) if it recurs."
    )
    assert_nothing_registered(tmp_path / "home")
