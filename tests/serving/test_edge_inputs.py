"""Inputs found in review: each once made the server hang, answer 500 or silently guess."""

import asyncio

import httpx
import numpy as np
import pytest

import maas_nb
from tests.conftest import CORPUS

INFER = "/v2/models/iris/infer"


def tensor(shape, data, datatype="FP64"):
    return {"inputs": [{"name": "input", "shape": shape, "datatype": datatype, "data": data}]}


@pytest.mark.parametrize(
    ("method", "path", "body", "headers", "status", "message"),
    [
        (
            "POST",
            "/v2/models/iris/versions/%C2%B2/infer",
            tensor([1, 4], [1, 2, 3, 4]),
            {},
            404,
            "Version '²' is not a positive integer.",
        ),
        (
            "POST",
            INFER,
            tensor([1, 4], [1, 2, 3, 4]),
            {"Inference-Header-Content-Length": "²".encode("latin-1")},
            400,
            "Inference-Header-Content-Length must be the byte length of the JSON header at the "
            "start of the body, a whole number from 0 to 78 (the body's size); got '²'.",
        ),
        (
            "POST",
            INFER,
            tensor([1] * 70, [1]),
            {},
            400,
            '"shape" must be a list of non-negative integers',
        ),
        (
            "POST",
            INFER,
            tensor([1, 4], [99999999999999999999999999, 2, 3, 4], "INT64"),
            {},
            400,
            "inputs[0] ('input'): 99999999999999999999999999 does not fit in 64 bits; model 'iris:1' expects "
            "integers (int64). Send values within the range of int64.",
        ),
        (
            "POST",
            INFER,
            tensor([1, 4], [300, 2, 3, 4], "UINT8"),
            {},
            400,
            "values must lie in [0, 255] for uint8, got 2..300.",
        ),
        (
            "POST",
            INFER,
            tensor([1, 4], [1, 2, 3, 4]) | {"outputs": [{"name": "nope"}]},
            {},
            400,
            "Unknown output 'nope'",
        ),
        ("GET", "/v2/models/iris/versions/2/ready", None, {}, 404, "version 2 is not deployed"),
    ],
)
def test_odd_requests_get_clear_4xx(
    shared_iris_server, method, path, body, headers, status, message
):
    with shared_iris_server.client() as c:
        r = c.request(method, path, json=body, headers=headers)
    assert r.status_code == status, r.text
    assert message in r.json()["error"]


def test_records_are_read_by_key_not_by_position(shared_iris_server, classifier, iris):
    X, _ = iris
    row = X[0].tolist()
    records = [
        dict(zip("abcd", row, strict=True)),
        {k: v for k, v in reversed(list(zip("abcd", row, strict=True)))},
    ]
    with shared_iris_server.client() as c:
        r = c.post("/invocations", json={"dataframe_records": records})
        assert r.json() == {"predictions": classifier.predict(X[[0, 0]]).tolist()}
        r = c.post(
            "/invocations", json={"dataframe_records": [{"a": 1, "b": 2, "c": 3, "d": 4}, {"a": 1}]}
        )
        assert r.status_code == 400 and "every record needs the same keys" in r.json()["message"]


def test_non_finite_outputs_are_a_400(start_server):
    from sklearn.linear_model import LinearRegression

    model = LinearRegression().fit(np.eye(4), [1.0, 2.0, 3.0, 4.0])
    registry = maas_nb.api.registry()
    registry.register(model, "lin", sample=np.eye(4))
    registry.put_deployment("lin", "lin", {})
    server = start_server()
    server.reconcile()
    with server.client() as c:
        r = c.post("/invocations", json={"instances": [[1e308] * 4]})
    assert r.status_code == 400
    assert r.json()["message"].startswith(
        "The model's output 'predictions' holds inf or NaN for this input"
    )


def test_request_larger_than_the_queue_is_413_not_a_retry(start_server, classifier, iris):
    X, _ = iris
    registry = maas_nb.api.registry()
    registry.register(classifier, "iris", sample=X[:5])
    registry.put_deployment("iris", "iris", {"max_batch_size": 4, "max_queue_rows": 10})
    server = start_server()
    server.reconcile()
    with server.client() as c:
        r = c.post("/invocations", json={"instances": X[:11].tolist()})
        assert r.status_code == 413
        assert (
            r.json()["message"]
            == "The request has 11 rows; model 'iris:1' queues at most 10. Split it into smaller requests."
        )
        assert c.post("/invocations", json={"instances": X[:10].tolist()}).status_code == 200


def test_rows_of_different_layouts_are_never_batched_together(start_server, text_pipeline):
    # Registered without a sample: no signature, so each request's shape is its own.
    registry = maas_nb.api.registry()
    registry.register(text_pipeline, "reviews")
    registry.put_deployment("reviews", "reviews", {"max_batch_size": 64, "max_latency_ms": 20})
    server = start_server()
    server.reconcile()

    async def mixed():
        async with httpx.AsyncClient(base_url=server.url, timeout=30, trust_env=False) as c:
            bodies = [{"instances": [d for d, _ in CORPUS[:2]]}, {"instances": [[1, 2]]}] * 10
            return await asyncio.gather(
                *(c.post("/models/reviews/invocations", json=b) for b in bodies)
            )

    responses = asyncio.run(mixed())
    assert [r.status_code for r in responses] == [200, 400] * 10
    assert responses[0].json() == {
        "predictions": text_pipeline.predict([d for d, _ in CORPUS[:2]]).tolist()
    }
    with server.client() as c:  # and the model keeps serving
        assert (
            c.post("/models/reviews/invocations", json={"instances": ["great film"]}).status_code
            == 200
        )


def test_booleans_sent_as_uint64_are_numbers_not_a_500(shared_iris_server, classifier):
    # Found by schemathesis: NumPy cannot compare a bool with 2**64 - 1 (OverflowError, 500).
    data = [True, False, True, False]
    with shared_iris_server.client() as c:
        r = c.post(INFER, json=tensor([1, 4], data, "UINT64"))
        assert r.status_code == 200, r.text
        assert r.json()["outputs"][0]["data"] == classifier.predict([[1, 0, 1, 0]]).tolist()
        r = c.post(INFER, json=tensor([1, 4], [-1, 0, 1, 2], "UINT64"))
    assert r.status_code == 400
    assert r.json()["error"] == (
        "inputs[0] ('input'): values must lie in [0, 18446744073709551615] for uint64, got -1..2."
    )
