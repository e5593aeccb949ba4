"""Raw sockets against a real server: what a client that does not follow HTTP's pace sees."""

from __future__ import annotations

import json
import socket
import time

from maas_nb.registry import Registry

INFER = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}
MARGIN_S = 2.0  # a timer firing late on a busy machine, plus the attacker noticing the close


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
