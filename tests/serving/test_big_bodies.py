"""16 MiB bodies of every shape: health checks answered within 50 ms, memory within bounds.

One server holds a numeric model (iris), a text pipeline and a DataFrame model. Each body
is sent whole; from then until its answer, liveness checks run back to back. The server's
peak RSS over its idle RSS is read from /proc (VmHWM reset through clear_refs).
"""

from __future__ import annotations

import gzip
import json
import socket
import struct
import threading
import time

import httpx
import numpy as np
import pandas as pd
import pytest

import maas_nb
from maas_nb.serving.requests import DEFAULT_MAX_BODY
from tests.serving.test_decoding import json_of, memory, reset_peak, status_of

MiB = 1024 * 1024
SIZE = DEFAULT_MAX_BODY - 1024
REFUSED = "The request holds"


MODELS = {"/v1/models/iris": "iris", "/v2/models/iris": "iris", "/v1/models/text": "text"}


def serve(start_server, text_pipeline, path: str):
    """A fresh server (so its idle RSS holds no earlier body) with the model *path* calls."""
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    registry = maas_nb.api.registry()
    name = next((m for prefix, m in MODELS.items() if path.startswith(prefix)), "frame")
    if name == "iris":
        registry.register(LogisticRegression(max_iter=500).fit(X, y), "iris", sample=X[:5])
    elif name == "text":
        registry.register(text_pipeline, "text", sample=["good", "bad"])
    else:
        frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
        model = LogisticRegression(max_iter=500).fit(frame, y)
        registry.register(model, "frame", sample=frame[:5])
    registry.put_deployment(name, name, {})
    server = start_server()
    assert [s["status"] for s in server.reconcile()] == ["ready"]
    with server.client() as client:  # first use of the decoding threads and parsers
        warm = json.dumps({"instances": [[0.5] * 4] * 20_000}).encode()
        client.post(path, content=warm, headers={"Content-Type": "application/json"})
    return server


def repeated(head: bytes, item: bytes, tail: bytes, size: int = SIZE) -> bytes:
    """``head + item, item, ... + tail`` of about *size* bytes."""
    n = (size - len(head) - len(tail)) // (len(item) + 2)
    return head + b", ".join([item] * n) + tail


def strings(length: int) -> bytes:
    return repeated(b'{"instances": [', json.dumps("x" * length).encode(), b"]}")


def records() -> bytes:
    record = json.dumps({"sl": 5.1, "sw": 3.5, "pl": 1.4, "pw": 0.2}).encode()
    return repeated(b'{"dataframe_records": [', record, b"]}")


def oip_bytes() -> bytes:
    n = (SIZE - 200) // 19
    head = b'{"inputs": [{"name": "input", "datatype": "BYTES", "shape": [%d], "data": [' % n
    return head + b", ".join([b'"abcdefghijklmno"'] * n) + b"]}]}"


def oip_binary() -> tuple[bytes, dict[str, str]]:
    """tritonclient's binary form: 15-byte BYTES elements after the JSON header."""
    n = (SIZE - 200) // 19
    blob = (struct.pack("<I", 15) + b"abcdefghijklmno") * n
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "datatype": "BYTES",
                    "shape": [n],
                    "parameters": {"binary_data_size": len(blob)},
                }
            ]
        }
    ).encode()
    return header + blob, {
        "Inference-Header-Content-Length": str(len(header)),
        "Content-Type": "application/octet-stream",
    }


def gzipped() -> tuple[bytes, dict[str, str]]:
    """16 MiB of strings in 50 KB: decoded off the event loop although the body is small."""
    return gzip.compress(strings(15)), {"Content-Encoding": "gzip"}


NUMBERS = "model 'iris:1' takes numbers (4 features of float64), got BYTES."
SHAPES = {
    # name: (route, body, status, message start, within 2x the body)
    "strings of 1": ("/v1/models/iris:predict", lambda: strings(1), 413, REFUSED, True),
    "strings of 4": ("/v1/models/iris:predict", lambda: strings(4), 413, REFUSED, True),
    "strings of 10": ("/v1/models/text:predict", lambda: strings(10), 413, REFUSED, True),
    "strings of 15": ("/v1/models/text:predict", lambda: strings(15), 413, "The request has", True),
    "strings of 100": ("/v1/models/text:predict", lambda: strings(100), 413, REFUSED, True),
    "gzip strings of 15": ("/v1/models/text:predict", gzipped, 413, "The request has", False),
    "records": ("/models/frame/invocations", records, 413, "The request has", True),
    "OIP BYTES": ("/v2/models/iris/infer", oip_bytes, 400, "input 'input': " + NUMBERS, True),
    "OIP BYTES binary": (
        "/v2/models/iris/infer",
        oip_binary,
        400,
        "input 'input': " + NUMBERS,
        True,
    ),
}


def post(url: str, path: str, body: bytes, headers: dict[str, str], sent: threading.Event):
    host, port = url.removeprefix("http://").rsplit(":", 1)
    fields = {"Content-Type": "application/json", **headers, "Content-Length": str(len(body))}
    head = f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n" + "".join(
        f"{k}: {v}\r\n" for k, v in fields.items()
    )
    with socket.create_connection((host, int(port))) as sock:
        sock.sendall(head.encode() + b"\r\n" + body)
        sent.set()
        answer = b""
        while chunk := sock.recv(1 << 16):
            answer += chunk
    return answer


def measure(server, path: str, body: bytes, headers: dict[str, str]):
    """The answer, the slowest health check while it was decoded, and the peak RSS over idle."""
    sent, answered = threading.Event(), threading.Event()
    latencies: list[float] = []

    def ping() -> None:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=30) as client:
            client.get("/v2/health/live")
            sent.wait(60)
            while not answered.is_set():
                start = time.perf_counter()
                assert client.get("/v2/health/live").status_code == 200
                latencies.append(time.perf_counter() - start)
                answered.wait(0.002)

    pid = server.proc.pid
    idle = memory(pid, "VmRSS")
    reset_peak(pid)
    pinger = threading.Thread(target=ping)
    pinger.start()
    try:
        answer = post(server.url, path, body, headers, sent)
    finally:
        answered.set()
        pinger.join()
    return answer, max(latencies), (memory(pid, "VmHWM") - idle) / len(body)


@pytest.mark.parametrize("shape", SHAPES)
def test_a_16_mib_body_of_any_shape_keeps_health_and_memory(start_server, text_pipeline, shape):
    path, make, status, message, bounded = SHAPES[shape]
    server = serve(start_server, text_pipeline, path)
    made = make()
    body, headers = made if isinstance(made, tuple) else (made, {})
    assert len(body) > 15 * MiB or headers.get("Content-Encoding") == "gzip"
    slowest = []
    for _ in range(3):  # two shared cores: the scheduler alone sometimes stalls one check
        answer, latency, peak = measure(server, path, body, headers)
        got = json_of(answer)
        text = got.get("error") or got.get("message")
        assert (status_of(answer), text[: len(message)]) == (status, message), text
        slowest.append(latency)
        print(f"{shape}: {status_of(answer)}, health {latency * 1000:.0f} ms, peak {peak:.2f}x")
        if latency <= 0.050:
            break
    assert min(slowest) <= 0.050, f"slowest health checks: {[round(s * 1000) for s in slowest]} ms"
    if bounded:
        assert peak <= 2, f"peak {peak:.2f}x the body"


def test_big_text_bodies_predict_the_same_on_every_protocol(start_server, text_pipeline):
    """Compact strings reach the model: TF Serving, MLflow and OIP (JSON and tritonclient's
    binary BYTES), two requests at once so the batcher joins compact rows."""
    import concurrent.futures

    import tritonclient.http as triton

    registry = maas_nb.api.registry()
    registry.register(text_pipeline, "text", sample=["good", "bad"])
    registry.put_deployment("text", "text", {"max_batch_size": 8192, "max_queue_rows": 50_000})
    server = start_server()
    assert [s["status"] for s in server.reconcile()] == ["ready"]
    texts = [f"a {w} film number {i}" for i, w in enumerate(["wonderful", "awful"] * 2_000)]
    expected = text_pipeline.predict(texts).tolist()
    bodies = {
        "/v1/models/text:predict": {"instances": texts},
        "/models/text/invocations": {"dataframe_records": [{"text": t} for t in texts]},
        "/v2/models/text/infer": {
            "inputs": [{"name": "text", "datatype": "BYTES", "shape": [len(texts)], "data": texts}]
        },
    }

    def predictions(path: str) -> list:
        content = json.dumps(bodies[path]).encode()
        assert len(content) > 64 * 1024
        with server.client() as client:
            answer = client.post(
                path, content=content, headers={"Content-Type": "application/json"}
            )
        assert answer.status_code == 200, answer.text
        got = answer.json()
        if "outputs" in got:
            return next(o["data"] for o in got["outputs"] if o["name"] == "predictions")
        return [p["predictions"] if isinstance(p, dict) else p for p in got["predictions"]]

    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        for path in bodies:
            assert list(pool.map(predictions, [path, path])) == [expected, expected], path
    client = triton.InferenceServerClient(server.url.removeprefix("http://"))
    try:
        for binary in (True, False):
            tensor = triton.InferInput("text", [len(texts)], "BYTES")
            tensor.set_data_from_numpy(np.array(texts, dtype=object), binary_data=binary)
            result = client.infer("text", [tensor]).as_numpy("predictions")
            assert [v.decode() if isinstance(v, bytes) else v for v in result] == expected
    finally:
        client.close()
