"""Slow, idle and too many clients: header and body deadlines, idle keep-alive, the
connection cap. Real sockets against a real server."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import time

import httpx
import numpy as np
import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.registry import Registry
from maas_nb.serving import ConnectionLimits
from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT, running, wait_for
from tests.serving.conftest import stop

INFER = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}
MARGIN_S = 2.0  # a timer firing late on a busy machine, plus the attacker noticing the close

# Holds SLOW slowloris sockets (a header byte every second) and IDLE silent sockets open
# for DURATION seconds, opening a new one whenever the server closes one, and prints
# how long each lived until the server closed it, as JSON.
ATTACKER = r"""
import asyncio, json, resource, sys, time
port, slow, idle, duration = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), float(sys.argv[4])
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
lived = {"slow": [], "idle": []}
stop_at = time.monotonic() + duration
connected = set()

async def one(kind, i):
    while time.monotonic() < stop_at:
        reader, writer = await asyncio.open_connection("127.0.0.1", port)
        start = time.monotonic()
        if len(connected) < slow + idle:
            connected.add((kind, i))
            if len(connected) == slow + idle:  # every socket is open: the test may measure
                sys.stderr.write("connected\n")
                sys.stderr.flush()
        try:
            if kind == "slow":
                writer.write(b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n")
                sent = 0
                while not reader.at_eof():
                    try:
                        await asyncio.wait_for(reader.read(4096), timeout=1.0)
                    except asyncio.TimeoutError:
                        writer.write(b"X-Slow: y\r\n"[sent % 11:sent % 11 + 1])
                        sent += 1
            else:
                while await reader.read(4096):
                    pass
        except (ConnectionError, OSError):
            pass
        lived[kind].append(time.monotonic() - start)
        writer.close()

async def main():
    await asyncio.gather(
        *[one("slow", i) for i in range(slow)], *[one("idle", i) for i in range(idle)]
    )

asyncio.run(main())
print(json.dumps(lived))
"""


def deploy_iris(home, classifier, X) -> None:
    registry = Registry(home)
    registry.register(classifier, "iris", sample=X[:5])
    registry.put_deployment("iris", "iris", {"max_batch_size": 8, "max_latency_ms": 1})


def connect(server) -> socket.socket:
    port = int(server.url.rsplit(":", 1)[1])
    return socket.create_connection(("127.0.0.1", port), timeout=60)


def lifetime(
    sock: socket.socket, *, trickle: bytes = b"", every: float = 1.0
) -> tuple[float, bytes]:
    """Seconds until the server closes *sock* (sending *trickle* a byte at a time meanwhile),
    and everything it sent. Closes *sock*."""
    start = time.monotonic()
    sock.settimeout(every)
    with sock:
        received = _read_until_closed(sock, trickle, every)
    return time.monotonic() - start, received


def _read_until_closed(sock: socket.socket, trickle: bytes, every: float) -> bytes:
    received = b""
    sent = 0
    while True:
        try:
            chunk = sock.recv(65536)
        except TimeoutError:
            if trickle:
                sock.sendall(trickle[sent % len(trickle) : sent % len(trickle) + 1])
                sent += 1
            continue
        except ConnectionResetError:
            break
        if not chunk:
            break
        received += chunk
    return received


def error_of(response: bytes) -> tuple[str, dict[str, str], dict]:
    head, _, body = response.partition(b"\r\n\r\n")
    status, *lines = head.decode().split("\r\n")
    headers = dict(line.lower().split(": ", 1) for line in lines)
    return status, headers, json.loads(body)


def test_slowloris_and_idle_sockets_do_not_starve_a_normal_client(
    start_server, home, classifier, iris
):
    """The issue's test: 200 slowloris and 500 idle sockets, held (and reopened) for 30 s;
    a normal client's p99 stays under 50 ms and the server closes every slow socket
    within its timeout."""
    X, _ = iris
    deploy_iris(home, classifier, X)
    header_timeout = 4.0
    server = start_server("--header-timeout", str(header_timeout), "--log-level", "warning")
    server.reconcile()
    port = server.url.rsplit(":", 1)[1]
    latencies = []
    with running(ATTACKER, port, "200", "500", "30") as attacker, server.client() as c:
        assert c.post("/v2/models/iris/infer", json=INFER).status_code == 200  # warm
        assert attacker.stderr.readline() == "connected\n"  # every attacking socket is open
        deadline = time.monotonic() + 28
        while time.monotonic() < deadline:
            start = time.perf_counter()
            r = c.post("/v2/models/iris/infer", json=INFER)
            latencies.append(time.perf_counter() - start)
            assert r.status_code == 200, r.text
        output, errors = attacker.communicate(timeout=header_timeout + 60)
    assert attacker.returncode == 0, errors
    lived = json.loads(output)
    # Each socket lived until its deadline, not forever and not much less.
    assert len(lived["slow"]) >= 200 * 6 and len(lived["idle"]) >= 500 * 6
    for kind in ("slow", "idle"):
        assert max(lived[kind]) <= header_timeout + MARGIN_S, (kind, max(lived[kind]))
        assert min(lived[kind]) >= header_timeout - 0.5, (kind, min(lived[kind]))
    p99 = float(np.percentile(latencies, 99))
    assert p99 < 0.050, f"p99 {p99 * 1000:.1f} ms over {len(latencies)} requests"
    with server.client() as c:
        assert c.post("/v2/models/iris/infer", json=INFER).status_code == 200


def test_default_limits_close_a_slowloris_and_an_idle_socket_within_10_s(iris_server):
    info = json.loads((iris_server.home / "server.json").read_text())
    assert info["limits"] == {
        "header_timeout": 10.0,
        "min_body_rate": 1024.0,
        "body_grace": 10.0,
        "keep_alive_timeout": 5.0,
        "max_connections": 1000,
    }
    idle = connect(iris_server)
    slow = connect(iris_server)
    slow.sendall(b"POST /v2/models/iris/infer HTTP/1.1\r\n")
    took, answer = lifetime(slow, trickle=b"Host: 127.0.0.1\r\n", every=2.0)
    assert 10.0 - 0.5 <= took <= 10.0 + MARGIN_S
    status, headers, body = error_of(answer)
    assert status == "HTTP/1.1 408 Request Timeout"
    assert headers["connection"] == "close"
    assert headers["content-type"] == "application/json"
    assert body == {
        "error": "The request headers did not arrive within 10 s of the connection opening "
        "(or of the previous response); this server closes such connections (maas serve "
        "--header-timeout). Send the whole request at once."
    }
    idle_took, nothing = lifetime(idle)
    assert idle_took <= MARGIN_S  # closed at the same 10 s deadline, meanwhile
    assert nothing == b""  # nothing was asked, so nothing is answered


def test_a_body_at_one_byte_per_second_is_cut_off(start_server, home, classifier, iris):
    deploy_iris(home, classifier, iris[0])
    server = start_server("--min-body-rate", "100", "--body-grace", "2")
    server.reconcile()
    sock = connect(server)
    sock.sendall(
        b"POST /v2/models/iris/infer HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        b"Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n"
    )
    took, answer = lifetime(sock, trickle=b" ", every=1.0)
    # 2 s of grace plus 1/100 s per byte received: cut off at about 2 s.
    assert 2.0 - 0.5 <= took <= 2.0 + MARGIN_S
    status, headers, body = error_of(answer)
    assert status == "HTTP/1.1 408 Request Timeout"
    assert headers["connection"] == "close"
    assert body["error"].startswith("The request body arrived too slowly: ")
    assert body["error"].endswith(
        "; this server needs at least 100 bytes/s after the first 2 s "
        "(maas serve --min-body-rate, --body-grace)."
    )
    with server.client() as c:
        assert c.post("/v2/models/iris/infer", json=INFER).status_code == 200


def test_a_slow_body_above_the_minimum_rate_is_served(start_server, home, classifier, iris):
    deploy_iris(home, classifier, iris[0])
    server = start_server("--min-body-rate", "100", "--body-grace", "1")
    server.reconcile()
    body = json.dumps(INFER).encode().ljust(600)  # 600 bytes at 300 bytes/s: 2 s, over the grace

    def trickle():
        for i in range(0, len(body), 30):
            time.sleep(0.1)
            yield body[i : i + 30]

    with server.client() as c:
        r = c.post(
            "/v2/models/iris/infer",
            content=trickle(),
            headers={"Content-Type": "application/json", "Content-Length": str(len(body))},
        )
    assert r.status_code == 200, r.text


def test_an_idle_kept_alive_connection_is_closed(start_server):
    server = start_server("--keep-alive-timeout", "1", "--header-timeout", "30")
    sock = connect(server)
    sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    sock.settimeout(60)
    first = sock.recv(65536)
    assert first.startswith(b"HTTP/1.1 200 OK")
    took, rest = lifetime(sock)
    assert took <= 1.0 + MARGIN_S
    assert rest in (b"", b'{"live":true}')


def test_headers_of_a_kept_alive_request_have_their_own_deadline(start_server):
    server = start_server("--header-timeout", "2", "--keep-alive-timeout", "30")
    sock = connect(server)
    sock.sendall(b"GET /v2/health/live HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    sock.settimeout(60)
    assert sock.recv(65536).startswith(b"HTTP/1.1 200 OK")
    sock.sendall(b"GET /v2/health/live HTTP/1.1\r\n")
    took, answer = lifetime(sock, trickle=b"Host: 127.0.0.1\r\n", every=0.5)
    assert took <= 2.0 + MARGIN_S
    assert b"408 Request Timeout" in answer


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
