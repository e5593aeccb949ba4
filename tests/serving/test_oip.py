"""Open Inference Protocol v2 over a real server."""

import json
import struct

import numpy as np
import pytest

import maas_nb
from tests.conftest import CORPUS


def test_server_metadata_and_health(shared_iris_server):
    with shared_iris_server.client() as c:
        assert c.get("/v2").json()["name"] == "maas_nb"
        assert c.get("/v2/health/live").json() == {"live": True}
        assert c.get("/v2/health/ready").status_code == 200
        meta = c.get("/v2/models/iris").json()
        assert meta == {
            "name": "iris",
            "versions": ["1"],
            "platform": "maas_nb-sklearn",
            "inputs": [{"name": "input", "datatype": "FP64", "shape": [-1, 4]}],
            "outputs": [
                {"name": "predictions", "datatype": "INT64", "shape": [-1]},
                {"name": "probabilities", "datatype": "FP64", "shape": [-1, 3]},
            ],
        }
        assert c.get("/v2/models/iris/versions/1").status_code == 200
        assert c.get("/v2/models/iris/ready").json() == {"name": "iris", "ready": True}
        assert c.get("/v2/models/iris/versions/1/ready").status_code == 200


def test_infer_matches_the_model(shared_iris_server, classifier, iris):
    X, _ = iris
    body = {
        "id": "req-1",
        "inputs": [{"name": "input", "shape": [3, 4], "datatype": "FP64", "data": X[:3].tolist()}],
    }
    with shared_iris_server.client() as c:
        r = c.post("/v2/models/iris/infer", json=body)
    assert r.status_code == 200, r.text
    out = r.json()
    assert (out["model_name"], out["model_version"], out["id"]) == ("iris", "1", "req-1")
    preds = {o["name"]: o for o in out["outputs"]}
    assert preds["predictions"]["data"] == classifier.predict(X[:3]).tolist()
    assert preds["probabilities"]["shape"] == [3, 3]
    np.testing.assert_allclose(
        np.reshape(preds["probabilities"]["data"], (3, 3)), classifier.predict_proba(X[:3])
    )


def test_infer_on_a_version_and_requested_outputs(iris_server, iris):
    X, _ = iris
    body = {
        "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP32", "data": X[0].tolist()}],
        "outputs": [{"name": "predictions"}],
    }
    with iris_server.client() as c:
        out = c.post("/v2/models/iris/versions/1/infer", json=body).json()
        assert [o["name"] for o in out["outputs"]] == ["predictions"]
        missing = c.post("/v2/models/iris/versions/2/infer", json=body)
    assert missing.status_code == 404
    assert missing.json() == {
        "error": "Deployment 'iris' serves iris:1; version 2 is not deployed. Deploy it under another name to serve both."
    }


def test_binary_tensor_extension(shared_iris_server, classifier, iris):
    X, _ = iris
    data = X[:2].astype("<f8").tobytes()
    header = json.dumps(
        {
            "inputs": [
                {
                    "name": "input",
                    "shape": [2, 4],
                    "datatype": "FP64",
                    "parameters": {"binary_data_size": len(data)},
                }
            ],
            "outputs": [{"name": "predictions", "parameters": {"binary_data": True}}],
        }
    ).encode()
    with shared_iris_server.client() as c:
        r = c.post(
            "/v2/models/iris/infer",
            content=header + data,
            headers={
                "Inference-Header-Content-Length": str(len(header)),
                "Content-Type": "application/octet-stream",
            },
        )
    assert r.status_code == 200, r.text
    n = int(r.headers["Inference-Header-Content-Length"])
    meta = json.loads(r.content[:n])
    assert meta["outputs"][0]["parameters"]["binary_data_size"] == 16
    np.testing.assert_array_equal(
        np.frombuffer(r.content[n:], dtype="<i8"), classifier.predict(X[:2])
    )


def test_text_model_takes_bytes(start_server, text_pipeline):
    docs = [d for d, _ in CORPUS]
    registry = maas_nb.api.registry()
    registry.register(text_pipeline, "reviews", sample=docs[:3])
    registry.put_deployment("reviews", "reviews", {})
    server = start_server()
    server.reconcile()
    body = {
        "inputs": [
            {
                "name": "text",
                "shape": [2],
                "datatype": "BYTES",
                "data": ["a great film", "awful and boring"],
            }
        ]
    }
    with server.client() as c:
        out = c.post("/v2/models/reviews/infer", json=body).json()
        preds = out["outputs"][0]
        assert preds["datatype"] == "BYTES"
        assert preds["data"] == text_pipeline.predict(["a great film", "awful and boring"]).tolist()
        # Binary BYTES: each element is a little-endian uint32 length, then the bytes.
        raw = b"".join(struct.pack("<I", len(s)) + s for s in [b"wonderful cast"])
        header = json.dumps(
            {
                "inputs": [
                    {
                        "name": "text",
                        "shape": [1],
                        "datatype": "BYTES",
                        "parameters": {"binary_data_size": len(raw)},
                    }
                ]
            }
        ).encode()
        r = c.post(
            "/v2/models/reviews/infer",
            content=header + raw,
            headers={"Inference-Header-Content-Length": str(len(header))},
        )
        assert r.json()["outputs"][0]["data"] == ["pos"]


def test_dataframe_model_takes_one_input_per_column(frame_server):
    server, model, df = frame_server
    inputs = [
        {"name": c, "shape": [2], "datatype": "FP64", "data": df[c][:2].tolist()}
        for c in df.columns
    ]
    with server.client() as c:
        out = c.post("/v2/models/frame/infer", json={"inputs": inputs}).json()
        assert out["outputs"][0]["data"] == model.predict(df[:2]).tolist()
        bad = c.post("/v2/models/frame/infer", json={"inputs": inputs[:3]})
    assert bad.status_code == 400
    assert (
        bad.json()["error"]
        == "inputs: missing column(s) 'pw'; model 'frame:1' expects 4 columns (sl, sw, pl, pw), got 'sl', 'sw', 'pl'."
    )


@pytest.mark.parametrize(
    ("body", "status", "message"),
    [
        (
            {"inputs": [{"name": "input", "shape": [1, 3], "datatype": "FP64", "data": [1, 2, 3]}]},
            400,
            "Input 'input' has shape [1, 3], but model 'iris:1' declares [-1, 4] for it (-1 is "
            "the batch dimension, any size). Send shape [1, 4] for one row;",
        ),
        (
            {
                "inputs": [
                    {"name": "input", "shape": [2, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}
                ]
            },
            400,
            "inputs[0] ('input'): shape [2, 4] needs 8 values, got 4.",
        ),
        (
            {
                "inputs": [
                    {"name": "input", "shape": [1, 4], "datatype": "FP99", "data": [1, 2, 3, 4]}
                ]
            },
            400,
            "inputs[0] ('input'): unknown datatype 'FP99'; use one of BOOL, UINT8",
        ),
        (
            {
                "inputs": [
                    {
                        "name": "input",
                        "shape": [1, 4],
                        "datatype": "FP64",
                        "data": ["a", "b", "c", "d"],
                    }
                ]
            },
            400,
            "expects numbers (float64), got values of type string such as 'a'.",
        ),
        (
            {
                "inputs": [
                    {
                        "name": "input",
                        "shape": [1, 4],
                        "datatype": "BYTES",
                        "data": ["a", "b", "c", "d"],
                    }
                ]
            },
            400,
            "input 'input': model 'iris:1' takes numbers (4 features of float64), got BYTES.",
        ),
        ({"inputs": []}, 400, '"inputs" must be a non-empty list'),
        ({"nothing": 1}, 400, '"inputs" must be a non-empty list'),
        (
            {
                "inputs": [
                    {"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}
                ],
                "outputs": [{"name": "nope"}],
            },
            400,
            "Unknown output 'nope'; this model returns predictions, probabilities.",
        ),
    ],
)
def test_bad_requests_get_400_with_a_message(shared_iris_server, body, status, message):
    with shared_iris_server.client() as c:
        r = c.post("/v2/models/iris/infer", json=body)
        assert r.status_code == status
        assert message in r.json()["error"]
        # The server keeps serving.
        ok = c.post(
            "/v2/models/iris/infer",
            json={
                "inputs": [
                    {"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}
                ]
            },
        )
        assert ok.status_code == 200


def test_unknown_model_and_malformed_json(iris_server):
    with iris_server.client() as c:
        r = c.post("/v2/models/nope/infer", json={})
        assert (r.status_code, r.json()) == (
            404,
            {"error": "No deployment named 'nope'; deployed: iris."},
        )
        r = c.post(
            "/v2/models/iris/infer",
            content=b'{"inputs": [',
            headers={"Content-Type": "application/json"},
        )
        assert (r.status_code, r.json()) == (
            400,
            {"error": "Malformed JSON in the request body: Expecting value at line 1 column 13."},
        )
        r = c.get("/v2/nowhere")
        assert (r.status_code, r.json()) == (
            404,
            {"error": "No route '/v2/nowhere'; see /openapi.json."},
        )


@pytest.mark.parametrize(
    ("datatype", "data"),
    [
        ("INT64", [5, 3, 1, 0]),
        ("INT32", [5, 3, 1, 0]),
        ("UINT8", [5, 3, 1, 0]),
        ("BOOL", [True, False, True, False]),
        ("FP16", [5.0, 3.5, 1.5, 0.25]),
    ],
)
def test_integer_and_bool_inputs_are_converted_to_the_signature_dtype(
    shared_iris_server, classifier, datatype, data
):
    body = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": datatype, "data": data}]}
    with shared_iris_server.client() as c:
        r = c.post("/v2/models/iris/infer", json=body)
    assert r.status_code == 200, r.text
    expected = classifier.predict(np.asarray([data], dtype="float64")).tolist()
    assert r.json()["outputs"][0]["data"] == expected


@pytest.mark.slow
def test_keras_model_is_served(start_server, keras_mlp):
    model, X = keras_mlp
    registry = maas_nb.api.registry()
    registry.register(model, "mlp", sample=X[:5])
    registry.put_deployment("mlp", "mlp", {})
    server = start_server()
    assert server.reconcile()[0]["status"] == "ready"
    body = {
        "inputs": [
            {"name": "input", "shape": [3, 4], "datatype": "FP32", "data": X[:3].ravel().tolist()}
        ]
    }
    with server.client() as c:
        out = c.post("/v2/models/mlp/infer", json=body).json()
    (output,) = out["outputs"]
    assert (output["name"], output["datatype"], output["shape"]) == ("output", "FP32", [3, 1])
    np.testing.assert_allclose(
        np.reshape(output["data"], (3, 1)), np.asarray(model(X[:3])), rtol=1e-5
    )
