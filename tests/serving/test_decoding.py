"""Big bodies decoded off the event loop, within memory, and untyped bodies from web pages."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import httpx
import numpy as np
import pytest
from starlette.applications import Starlette
from starlette.requests import Request

import maas_nb
from maas_nb.flavors.signature import TENSOR, Signature, TensorSpec
from maas_nb.serving import mlflow
from maas_nb.serving.batching import Batcher
from maas_nb.serving.decoding import BIG, Decoder
from maas_nb.serving.errors import NotFound, Unavailable
from maas_nb.serving.loaded import Loaded
from maas_nb.serving.requests import DEFAULT_MAX_BODY, _decode
from maas_nb.serving.slot import Slot
from maas_nb.serving.split import Split
from maas_nb.serving.status import READY

MiB = 1024 * 1024
BODY_LIMIT = DEFAULT_MAX_BODY - 1024


def empty_rows_body() -> bytes:
    """The issue's body: ``{"instances": [[], [], ...]}`` just under the 16 MiB limit."""
    n = (BODY_LIMIT - 20) // 4
    return b'{"instances": [' + b", ".join([b"[]"] * n) + b"]}"


def float_rows_body() -> bytes:
    """Rows of four floats as a client's ``json.dumps(X.tolist())`` writes them."""
    block = json.dumps(np.random.default_rng(0).random((1000, 4)).tolist())[1:-1].encode()
    copies = (BODY_LIMIT - 30) // (len(block) + 2)
    return b'{"instances": [' + b", ".join([block] * copies) + b"]}"


def memory(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith(key + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError(f"no {key} in /proc/{pid}/status")


def reset_peak(pid: int) -> None:
    """Make VmHWM start again from the current RSS (``5`` in clear_refs, Linux >= 4.0)."""
    with open(f"/proc/{pid}/clear_refs", "w") as refs:
        refs.write("5")


def raw_post(url: str, path: str, body: bytes, sent: threading.Event | None = None) -> bytes:
    """POST *body* over a plain socket; set *sent* once all of it is written."""
    host, port = url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port))) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        ).encode()
        sock.sendall(head + body)
        if sent is not None:
            sent.set()
        answer = b""
        while chunk := sock.recv(1 << 16):
            answer += chunk
    return answer


def status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1])


def json_of(answer: bytes) -> dict:
    return json.loads(answer.split(b"\r\n\r\n", 1)[1])


def warm_up(server, X) -> None:
    with server.client() as c:
        for _ in range(3):
            assert c.post("/v1/models/iris:predict", json={"instances": X[:2].tolist()}).is_success


@pytest.mark.parametrize(
    ("make_body", "status", "message"),
    [
        (empty_rows_body, 400, "instances: the request has no rows."),
        (
            float_rows_body,
            413,
            "The request has 201000 rows; model 'iris:1' queues at most 4096. "
            "Split it into smaller requests.",
        ),
    ],
)
def test_a_16_mib_body_costs_at_most_twice_its_size(iris_server, iris, make_body, status, message):
    body = make_body()
    assert len(body) > 15 * MiB
    warm_up(iris_server, iris[0])
    pid = iris_server.proc.pid
    idle = memory(pid, "VmRSS")
    reset_peak(pid)
    answer = raw_post(iris_server.url, "/v1/models/iris:predict", body)
    peak = memory(pid, "VmHWM")
    assert (status_of(answer), json_of(answer)) == (status, {"error": message})
    assert peak - idle <= 2 * len(body), f"peak {(peak - idle) / len(body):.2f}x the body"


def health_latencies_during(server, body: bytes) -> list[float]:
    """Latencies of back-to-back liveness checks from the moment *body* is fully sent
    until its answer arrives."""
    sent, answered = threading.Event(), threading.Event()
    latencies: list[float] = []

    def ping() -> None:
        with httpx.Client(base_url=server.url, trust_env=False, timeout=30) as client:
            client.get("/v2/health/live")  # connect before the big body goes out
            sent.wait(60)
            while not answered.is_set():
                start = time.perf_counter()
                assert client.get("/v2/health/live").json() == {"live": True}
                latencies.append(time.perf_counter() - start)
                answered.wait(0.002)  # a check every few ms until the big body is answered

    pinger = threading.Thread(target=ping)
    pinger.start()
    try:
        answer = raw_post(server.url, "/v1/models/iris:predict", body, sent)
    finally:
        answered.set()
        pinger.join()
    assert status_of(answer) in (400, 413)
    return latencies


@pytest.mark.parametrize("make_body", [empty_rows_body, float_rows_body])
def test_health_checks_are_answered_within_50_ms_while_16_mib_decode(iris_server, make_body):
    # Six helpers share two cores here, so the scheduler alone sometimes stalls one check;
    # the bound must hold for every check of one of three decodes. Decoding on the event
    # loop stalls them for the whole decode (1.7 s for the empty rows) every time.
    body = make_body()
    slowest, counts = [], []
    for _ in range(3):
        latencies = health_latencies_during(iris_server, body)
        slowest.append(max(latencies))
        counts.append(len(latencies))
        if slowest[-1] <= 0.050:
            break
    assert min(slowest) <= 0.050, f"slowest health checks: {[round(s * 1000) for s in slowest]} ms"
    assert counts[-1] >= 5, f"only {counts[-1]} health checks during the decode"


def test_eight_16_mib_bodies_at_once_are_decoded_within_the_budget(iris_server, iris):
    body = empty_rows_body()
    warm_up(iris_server, iris[0])
    pid = iris_server.proc.pid
    idle = memory(pid, "VmRSS")
    reset_peak(pid)
    answers: list[bytes] = []
    threads = [
        threading.Thread(
            target=lambda: answers.append(
                raw_post(iris_server.url, "/v1/models/iris:predict", body)
            )
        )
        for _ in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    peak = memory(pid, "VmHWM")
    statuses = sorted(status_of(a) for a in answers)
    # Two bodies at a time (the budget); a body that waits over 10 s is told to retry.
    assert statuses.count(400) >= 2 and set(statuses) <= {400, 503}, statuses
    for answer in answers:
        if status_of(answer) == 503:
            assert b"Retry-After: 1" in answer.split(b"\r\n\r\n")[0].replace(
                b"retry-after", b"Retry-After"
            )
    assert peak - idle <= 4 * len(body), f"peak {(peak - idle) / len(body):.2f}x one body"


@pytest.fixture
def roomy_server(start_server, classifier, iris):
    """iris as 'big', with a queue long enough for 20,000-row requests."""
    X, _ = iris
    registry = maas_nb.api.registry()
    registry.register(classifier, "big", sample=X[:5])
    registry.put_deployment("big", "big", {"max_batch_size": 64, "max_queue_rows": 50_000})
    server = start_server()
    assert [s["status"] for s in server.reconcile()] == ["ready"]
    return server


def test_big_bodies_predict_the_same_on_every_protocol(roomy_server, classifier, iris):
    X, _ = iris
    rows = np.tile(X, (134, 1))[:20_000]
    expected = classifier.predict(rows).tolist()
    bodies = {
        "/v1/models/big:predict": {"instances": rows.tolist()},
        "/invocations": {"dataframe_split": {"columns": list("abcd"), "data": rows.tolist()}},
        "/models/big/invocations": {"inputs": rows.tolist()},
        "/v2/models/big/infer": {
            "inputs": [
                {
                    "name": "input",
                    "shape": [20_000, 4],
                    "datatype": "FP64",
                    "data": rows.ravel().tolist(),
                }
            ]
        },
    }
    with roomy_server.client() as c:
        for path, body in bodies.items():
            content = json.dumps(body).encode()
            assert len(content) > BIG
            answer = c.post(path, content=content, headers={"Content-Type": "application/json"})
            assert answer.status_code == 200, (path, answer.text)
            got = answer.json()
            if "predictions" in got:
                predictions = got["predictions"]
                if predictions and isinstance(predictions[0], dict):
                    predictions = [p["predictions"] for p in predictions]
            else:
                predictions = next(o["data"] for o in got["outputs"] if o["name"] == "predictions")
            assert predictions == expected, path
        ragged = json.dumps({"instances": [*rows.tolist(), [1.0]]}).encode()
        answer = c.post(
            "/v1/models/big:predict", content=ragged, headers={"Content-Type": "application/json"}
        )
        assert answer.status_code == 400
        assert answer.json()["error"] == (
            "instances: rows have different lengths; every row needs the same number of features."
        )


# -- the budget and the version a body is decoded for ----------------------------------------


def test_the_budget_admits_in_order_and_tells_late_ones_to_retry():
    async def scenario() -> None:
        decoder = Decoder(100, wait=0.2)
        first = await decoder.acquire(60)
        waiting = asyncio.ensure_future(decoder.acquire(60))
        await asyncio.sleep(0.01)
        assert not waiting.done() and decoder.in_flight == 60
        decoder.release(first)  # synchronous: no await between a decode and its queueing
        assert await waiting == 60
        with pytest.raises(Unavailable) as info:
            await decoder.acquire(1000)  # bigger than the budget: waits for all of it
        assert info.value.message == (
            "The server is already decoding 60 bytes of large request bodies (its limit is "
            "100) and this one waited 0.2 s; retry, or send smaller requests."
        )
        assert info.value.headers == {"Retry-After": "1"}
        decoder.release(60)
        assert await decoder.acquire(1000) == 100
        assert decoder.in_flight == 100

    asyncio.run(scenario())


def tensor(dtype: str) -> Signature:
    return Signature(TENSOR, (TensorSpec("input", dtype, (-1, 4)),), ())


def request() -> Request:
    app = Starlette()
    app.state.max_body = DEFAULT_MAX_BODY
    return Request({"type": "http", "app": app, "method": "POST", "path": "/", "headers": []})


@pytest.mark.parametrize("same_signature", [False, True])
def test_a_body_is_decoded_for_the_version_it_is_queued_on(same_signature):
    body = json.dumps({"instances": [[1, 2, 3, 4]] * 20_000}).encode()
    assert len(body) > BIG

    async def scenario() -> None:
        batcher = Batcher(lambda rows: {}, name="m")
        v1 = Loaded("m", 1, "sklearn", tensor("float64"), batcher, {})
        v2 = Loaded(
            "m", 2, "sklearn", tensor("float64" if same_signature else "int64"), batcher, {}
        )
        slot = Slot("m", "m", {}, split=Split.of(v1), status=READY)
        decoded_for: list[str] = []

        def decode(body, signature, model):
            decoded_for.append(model)
            slot.split = Split.of(v2)  # the pool swaps versions while the first decode runs
            return mlflow.decode_json(body, signature, model)

        try:
            arm, rows = await _decode(slot, body, request(), decode, None)
            assert arm.loaded is v2
            assert rows.data.dtype == v2.signature.inputs[0].dtype
            assert decoded_for == (["m:1"] if same_signature else ["m:1", "m:2"])
            slot.split = Split.of(v1)
            with pytest.raises(NotFound) as info:
                await _decode(slot, body, request(), decode, 1)
            assert info.value.message == (
                "Deployment 'm' serves m:2; version 1 is not deployed. "
                "Deploy it under another name to serve both."
            )
        finally:
            await batcher.close()

    asyncio.run(scenario())


# -- item 8: an untyped body from a web page -------------------------------------------------

BROWSER = {  # what Chromium adds to fetch(url, {method: "POST", mode: "no-cors", body: blob})
    "Origin": "https://attacker.example",
    "Sec-Fetch-Site": "cross-site",
    "Sec-Fetch-Mode": "no-cors",
    "Sec-Fetch-Dest": "empty",
}
INFER = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}
PREDICT_ROUTES = [
    ("/v2/models/iris/infer", INFER),
    ("/v2/models/iris/versions/1/infer", INFER),
    ("/v1/models/iris:predict", {"instances": [[1, 2, 3, 4]]}),
    ("/v1/models/iris/versions/1:predict", {"instances": [[1, 2, 3, 4]]}),
    ("/v1/models/iris/labels/production:predict", {"instances": [[1, 2, 3, 4]]}),
    ("/invocations", {"instances": [[1, 2, 3, 4]]}),
    ("/models/iris/invocations", {"instances": [[1, 2, 3, 4]]}),
]


@pytest.mark.parametrize(("path", "body"), PREDICT_ROUTES)
def test_an_untyped_cross_site_post_is_refused(shared_iris_server, path, body):
    content = json.dumps(body).encode()
    with httpx.Client(base_url=shared_iris_server.url, trust_env=False) as browser:
        answer = browser.post(path, content=content, headers=BROWSER)
        assert answer.status_code == 415
        if path.endswith("/invocations"):  # MLflow refuses every untyped body, in its words
            assert answer.json() == {
                "error_code": "BAD_REQUEST",
                "message": "This predictor only supports the following content types: Types: "
                "['text/csv', 'application/json']. Got no Content-Type.",
            }
            return
        assert answer.json() == {
            "error": "A request body without a Content-Type is not accepted from a web page: "
            "send 'Content-Type: application/json' (or application/octet-stream for binary "
            "tensors)."
        }
        # Scripts and tritonclient send no Content-Type either, and no browser headers.
        assert browser.post(path, content=content).status_code == 200


def test_tritonclient_without_content_type_still_works(shared_iris_server, iris):
    import tritonclient.http as triton

    X, _ = iris
    client = triton.InferenceServerClient(shared_iris_server.url.removeprefix("http://"))
    for binary in (False, True):
        tensor_in = triton.InferInput("input", [2, 4], "FP64")
        tensor_in.set_data_from_numpy(X[:2], binary_data=binary)
        result = client.infer("iris", [tensor_in])
        assert result.as_numpy("predictions").shape == (2,)
    client.close()
