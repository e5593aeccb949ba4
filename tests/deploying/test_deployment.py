"""A Deployment handle is printed without any network call, whatever its server does."""

from __future__ import annotations

import socket

import pytest

import maas_nb
from maas_nb.deploying import Deployment


@pytest.fixture
def silent_server():
    """A port that accepts connections (the kernel completes the handshake) but never
    answers: a call to it would hang, and leaves a connection waiting to be accepted."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    sock.setblocking(False)
    yield sock
    sock.close()


def connections_made(sock):
    count = 0
    while True:
        try:
            conn, _ = sock.accept()
        except BlockingIOError:
            return count
        conn.close()
        count += 1


@pytest.fixture
def handle(registry, classifier, iris):
    version = maas_nb.register(classifier, "iris", sample=iris[0][:5], alias="production")

    def make(server):
        return Deployment(
            "iris", "iris@production", {}, version.created_at, server, str(registry.home)
        )

    return make


def test_repr_and_html_make_no_network_call(silent_server, handle):
    url = f"http://127.0.0.1:{silent_server.getsockname()[1]}"
    dep = handle(url)
    text = repr(dep)
    page = dep._repr_html_()
    assert connections_made(silent_server) == 0
    assert text.startswith(
        f"Deployment('iris' -> iris@production, {url}/v2/models/iris/infer)\n"
        f"  curl -s -X POST {url}/v2/models/iris/infer "
    )
    assert f"Endpoint: <code>{url}/v2/models/iris/infer</code>" in page


def test_a_handle_of_a_stopped_server_prints_its_endpoint(handle, iris):
    dep = maas_nb.deploy("iris@production")
    url = dep.url
    assert maas_nb.stop_server() is not None
    assert repr(dep).startswith(f"Deployment('iris' -> iris@production, {url})\n")
    assert dep.status == "unknown"  # asked for, the status does call the (gone) server
    [listed] = maas_nb.deployments()  # no server runs now: the handle says so
    assert repr(listed) == (
        "Deployment('iris' -> iris@production, no server running: deploy it again to start one)"
    )
    assert listed.status == "stopped"
    assert "no server running" in listed._repr_html_()
