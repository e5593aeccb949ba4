"""The connection cap, the header size cap, and how limits are set (``maas serve``,
``deploy()``, the CLI) and checked. Real sockets against a real server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys

import httpx
import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.registry import Registry
from maas_nb.serving import ConnectionLimits
from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT, wait_for
from tests.serving.conftest import spawn_server, stop
from tests.serving.sockets import INFER, MARGIN_S, connect, deploy_iris, error_of, lifetime


def test_connections_past_the_cap_are_refused_with_503(start_server):
    server = start_server("--max-connections", "5")
    held = []
    for _ in range(5):
        sock = connect(server)
        sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        sock.settimeout(60)
        assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")  # accepted and counted
        held.append(sock)
    with httpx.Client(base_url=server.url, trust_env=False, timeout=60) as c:
        r = c.get("/v2/health/live")
    assert r.status_code == 503
    assert r.headers["connection"] == "close"
    assert r.headers["retry-after"] == "1"
    assert r.json() == {
        "error": "This server has reached its limit of 5 open connections "
        "(maas serve --max-connections); retry shortly."
    }
    held.pop().close()

    def served():
        with httpx.Client(base_url=server.url, trust_env=False, timeout=60) as c:
            return c.get("/v2/health/live").status_code == 200

    wait_for(served, timeout=30, interval=0.05, what="a connection under the cap")
    for sock in held:
        sock.close()
    output = stop(server)
    assert "refused 1 connection(s): 5 are open, the limit is 5 (--max-connections)" in output


TOO_LARGE = {
    "error": "The request line and headers are larger than 65536 bytes, this server's limit "
    "(maas serve --max-header-bytes); send smaller headers, such as a shorter cookie or token."
}


def request(path: str = "/v2/health/live", *, header: int = 0, body: bytes = b"") -> bytes:
    """An HTTP/1.1 request with an X-Pad header of *header* bytes of value."""
    head = f"{'POST' if body else 'GET'} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    if body:
        head += f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    return head.encode() + b"X-Pad: " + b"a" * header + b"\r\n\r\n" + body


@pytest.fixture(scope="module", name="default_server")
def default_server_fixture(tmp_path_factory, classifier, iris):
    """A server with the default limits and iris deployed, shared by the header tests."""
    home = tmp_path_factory.mktemp("limits")
    deploy_iris(home, classifier, iris[0])
    server = spawn_server(home)
    try:
        server.reconcile()
        yield server
    finally:
        stop(server)


def test_oversized_headers_get_431_and_the_connection_closes(default_server):
    sock = connect(default_server)
    sock.sendall(request(header=70 * 1024))
    answer = lifetime(sock)[1]
    status, headers, body = error_of(answer)
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"
    assert (headers["connection"], headers["content-type"]) == ("close", "application/json")
    assert body == TOO_LARGE
    with default_server.client() as c:
        assert c.post("/v2/models/iris/infer", json=INFER).status_code == 200


def test_headers_sent_in_pieces_are_refused_once_past_the_limit(default_server):
    """A header that never ends is not buffered: 431 as soon as it passes the limit."""
    sock = connect(default_server)
    sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Pad: ")
    try:
        for _ in range(20):  # 80 KiB, in reads the parser sees one at a time
            sock.sendall(b"a" * 4096)
    except (BrokenPipeError, ConnectionResetError):
        pass  # the server stopped reading at the limit, as it should
    answer = lifetime(sock)[1]
    assert error_of(answer)[2] == TOO_LARGE


def test_headers_under_the_limit_and_big_bodies_are_served(default_server):
    """The limit counts the request line and headers only: not a body that arrives in the
    same read, nor the requests before this one on a kept-alive connection, which are
    answered before the oversized one is refused."""
    sock = connect(default_server)
    infer = json.dumps(INFER).encode().ljust(300 * 1024)  # JSON allows trailing spaces
    sock.sendall(
        request(header=60 * 1024)
        + request("/v2/models/iris/infer", body=infer)
        + request(header=70 * 1024)
    )
    answer = lifetime(sock)[1]
    live, infer_answer, refused = answer.split(b"HTTP/1.1 ")[1:]
    assert live.startswith(b"200 OK") and live.endswith(b'{"live":true}')
    assert infer_answer.startswith(b"200 OK") and b'"model_name": "iris"' in infer_answer
    assert refused.startswith(b"431 Request Header Fields Too Large")
    assert error_of(b"HTTP/1.1 " + refused)[2] == TOO_LARGE


def test_the_header_limit_is_configurable(start_server):
    server = start_server("--max-header-bytes", "1024")
    sock = connect(server)
    sock.sendall(request(header=2000))
    status, _, body = error_of(lifetime(sock)[1])
    assert status == "HTTP/1.1 431 Request Header Fields Too Large"
    assert body["error"].startswith("The request line and headers are larger than 1024 bytes")
    # Thousands of small requests pipelined in one write are each within the limit.
    sock = connect(server)
    sock.sendall(request(header=900) + request() * 3000)
    sock.settimeout(60)
    answer = b""
    while answer.count(b"HTTP/1.1 ") < 3001:
        chunk = sock.recv(1 << 20)
        assert chunk, answer.count(b"HTTP/1.1 ")
        answer += chunk
    assert answer.count(b"HTTP/1.1 200 OK") == 3001
    sock.close()


@pytest.mark.parametrize(
    ("flag", "value", "message"),
    [
        (
            "--header-timeout",
            "-1",
            "header_timeout (maas serve --header-timeout) must be a finite number >= 0 (0 "
            "turns the check off), got -1.0.",
        ),
        (
            "--max-connections",
            "-5",
            "max_connections (maas serve --max-connections) must be a finite number >= 0 (0 "
            "turns the check off), got -5.",
        ),
        (
            "--min-body-rate",
            "inf",
            "min_body_rate (maas serve --min-body-rate) must be a finite number >= 0 (0 "
            "turns the check off), got inf.",
        ),
        (
            "--keep-alive-timeout",
            "1e309",
            "keep_alive_timeout (maas serve --keep-alive-timeout) must be a finite number >= 0 "
            "(0 turns the check off), got inf.",
        ),
    ],
)
def test_a_negative_limit_is_refused(home, flag, value, message):
    result = subprocess.run(
        [sys.executable, "-m", "maas_nb.serving", "--home", str(home), "--port", "0", flag, value],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert result.stderr == f"maas: error: {message}\n"


def test_the_open_file_limit_is_raised_or_the_cap_fitted_to_it(home):
    import resource

    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 4096:
        pytest.skip("needs a hard open-file limit of at least 4096 to lower it")
    Registry(home)

    def limited(soft: int, hard: int):
        return lambda: resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))

    def serve_with(preexec, *args: str) -> tuple[dict, str]:
        proc = subprocess.Popen(
            [sys.executable, "-m", "maas_nb.serving", "--home", str(home), "--port", "0", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            preexec_fn=preexec,
        )

        def live():
            info = read_server_file(home)
            if info is None or info["pid"] != proc.pid:
                return None
            with httpx.Client(trust_env=False) as c:
                return c.get(info["url"] + "/v2/health/live").status_code == 200 and info

        info = wait_for(live, timeout=60, interval=0.05, what="the server to start")
        proc.terminate()
        output, _ = proc.communicate(timeout=60)
        assert proc.returncode == 0, output
        return info, output

    info, output = serve_with(limited(256, 4096), "--max-connections", "1000")
    assert info["limits"]["max_connections"] == 1000
    assert "raised the open-file limit (ulimit -n) from 256 to 1128 for 1000 connections" in output
    info, output = serve_with(limited(256, 256), "--max-connections", "1000")
    assert info["limits"]["max_connections"] == 128
    assert (
        "the open-file limit (ulimit -n) is 256 and its hard limit 256: serving at most 128 "
        "connections instead of 1000 (raise the hard limit to allow more)" in output
    )


def test_deploy_starts_its_server_with_the_given_limits(home, classifier, iris):
    X, _ = iris
    maas_nb.register(classifier, "iris", sample=X[:5])
    limits = ConnectionLimits(header_timeout=3, max_connections=50)
    dep = maas_nb.deploy("iris", limits=limits)
    info = read_server_file(home)
    assert info["limits"] == {
        **ConnectionLimits().as_dict(),
        "header_timeout": 3,
        "max_connections": 50,
    }
    port = int(dep.server.rsplit(":", 1)[1])
    took, _ = lifetime(socket.create_connection(("127.0.0.1", port), timeout=60))
    assert 3.0 - 0.5 <= took <= 3.0 + MARGIN_S
    # A running server keeps its limits, and says so to whoever asks for others.
    with pytest.warns(UserWarning) as caught:
        maas_nb.deploy("iris", name="again", limits=ConnectionLimits(header_timeout=7))
    assert str(caught[0].message).startswith(
        f"The model server at {dep.server} already runs with other connection limits "
    )
    assert str(caught[0].message).endswith("stop it first (maas server stop).")
    assert read_server_file(home)["pid"] == info["pid"]


def test_cli_deploy_passes_the_limits_to_the_server_it_starts(home, classifier, iris, capsys):
    maas_nb.register(classifier, "iris", sample=iris[0][:5])
    assert main(["deploy", "iris", "--keep-alive-timeout", "2", "--min-body-rate", "10"]) == 0
    limits = read_server_file(home)["limits"]
    assert (limits["keep_alive_timeout"], limits["min_body_rate"]) == (2, 10)
    assert limits["header_timeout"] == 10
