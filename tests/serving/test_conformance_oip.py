"""Open Inference Protocol conformance: the real ``tritonclient.http`` and the spec's own bodies.

Each case here once failed: a DataFrame's BYTES column was refused (also by the curl line a
deployment prints), compressed bodies were a 400 and ``class_count`` was ignored.
"""

from __future__ import annotations

import gzip
import json
import shlex
import struct
import subprocess
import zlib

import numpy as np
import pandas as pd
import pytest
import tritonclient.http as httpclient

from maas_nb.deploying import Deployment
from maas_nb.registry import Registry

# Importing people_fixture and server_fixture is what makes them fixtures of this module.
from tests.serving.oip_server import (  # noqa: F401
    IRIS_ROW,
    ISSUE_BODY,
    people_fixture,
    server_fixture,
    tensor,
    with_binary,
)


@pytest.fixture
def triton(server):
    client = httpclient.InferenceServerClient(url=server.url.removeprefix("http://"))
    yield client
    client.close()


def frame_inputs(frame: pd.DataFrame, *, binary: bool) -> list:
    """One tritonclient input per column, as a Triton user sends a DataFrame."""
    inputs = []
    for column, kind in [("age", "INT64"), ("income", "FP64"), ("city", "BYTES")]:
        values = frame[column].to_numpy()
        values = values.astype(object) if kind == "BYTES" else values
        inp = httpclient.InferInput(column, [len(frame)], kind)
        inp.set_data_from_numpy(values, binary_data=binary)
        inputs.append(inp)
    return inputs


def top_classes(proba: np.ndarray, labels, k: int) -> list[list[str]]:
    """Triton's classification strings, computed independently of the server."""
    out = []
    for row in proba:
        order = sorted(range(len(row)), key=lambda i: (-row[i], i))[:k]
        out.append([f"{row[i]:f}:{i}:{labels[i]}" for i in order])
    return out


# -- item 2: DataFrame models over OIP --------------------------------------------------------


def test_the_issue_body_calls_a_dataframe_model(server, people):
    model, _ = people
    with server.client() as c:
        r = c.post("/v2/models/frame/infer", json=ISSUE_BODY)
    assert r.status_code == 200, r.text
    expected = model.predict(pd.DataFrame({"age": [30], "income": [1e4], "city": ["rome"]}))
    (predictions, probabilities) = r.json()["outputs"]
    assert predictions == {
        "name": "predictions",
        "datatype": "BYTES",
        "shape": [1],
        "data": expected.tolist(),
    }
    assert probabilities["shape"] == [1, 3]


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_sends_dataframe_columns(triton, people, binary):
    model, frame = people
    rows = frame.head(7)
    result = triton.infer(
        "frame",
        frame_inputs(rows, binary=binary),
        outputs=[
            httpclient.InferRequestedOutput("predictions", binary_data=binary),
            httpclient.InferRequestedOutput("probabilities", binary_data=binary),
        ],
    )
    labels = [v.decode() if isinstance(v, bytes) else v for v in result.as_numpy("predictions")]
    assert labels == model.predict(rows).tolist()
    np.testing.assert_allclose(result.as_numpy("probabilities"), model.predict_proba(rows))


def test_the_printed_curl_line_works_for_a_dataframe_model(server, people):
    model, _ = people
    created = Registry(server.home).get("frame").created_at
    dep = Deployment("frame", "frame", {}, created, server.url, str(server.home))
    body = json.loads(shlex.split(dep.curl())[-1])
    assert [(i["name"], i["datatype"]) for i in body["inputs"]] == [
        ("age", "INT64"),
        ("income", "FP64"),
        ("city", "BYTES"),
    ]
    run = subprocess.run(
        ["bash", "-c", dep.curl() + " -w '\\n%{http_code}'"],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_PROXY": "*"},
    )
    text, status = run.stdout.rsplit("\n", 1)
    assert status == "200", text
    sample = pd.DataFrame({i["name"]: i["data"] for i in body["inputs"]})
    assert json.loads(text)["outputs"][0]["data"] == model.predict(sample).tolist()


# -- compression: tritonclient's request_ and response_compression_algorithm ------------------


@pytest.mark.parametrize("algorithm", ["gzip", "deflate"])
@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_compresses_requests_and_responses(triton, people, algorithm, binary):
    model, frame = people
    result = triton.infer(
        "frame",
        frame_inputs(frame, binary=binary),
        outputs=[httpclient.InferRequestedOutput("probabilities", binary_data=binary)],
        request_compression_algorithm=algorithm,
        response_compression_algorithm=algorithm,
    )
    np.testing.assert_allclose(result.as_numpy("probabilities"), model.predict_proba(frame))


@pytest.mark.parametrize(
    ("coding", "compress"), [("gzip", gzip.compress), ("deflate", zlib.compress)]
)
def test_compressed_bodies_over_raw_http(server, iris, classifier, coding, compress):
    X, _ = iris
    body = {"inputs": [{**IRIS_ROW, "shape": [150, 4], "data": X.tolist()}]}
    with server.client() as c:
        r = c.post(
            "/v2/models/iris/infer",
            content=compress(json.dumps(body).encode()),
            headers={
                "Content-Type": "application/json",
                "Content-Encoding": coding,
                "Accept-Encoding": coding,
            },
        )
        assert r.status_code == 200, r.text
        assert (r.headers["content-encoding"], r.headers["vary"]) == (coding, "Accept-Encoding")
        assert r.json()["outputs"][0]["data"] == classifier.predict(X).tolist()
        small = c.post("/v2/models/iris/infer", json=tensor(), headers={"Accept-Encoding": coding})
        assert "content-encoding" not in small.headers  # too small to be worth compressing


@pytest.mark.parametrize(
    ("headers", "content", "status", "message"),
    [
        (
            {"Content-Encoding": "gzip"},
            gzip.compress(b" " * (17 * 1024 * 1024)),  # 17 KB that inflate past the 16 MiB limit
            413,
            "The gzip request body inflates to more than 16777216 bytes;",
        ),
        (
            {"Content-Encoding": "deflate"},
            zlib.compress(b"[" * (17 * 1024 * 1024)),
            413,
            "The deflate request body inflates to more than 16777216 bytes;",
        ),
        (
            {"Content-Encoding": "br"},
            b"{}",
            415,
            "Content-Encoding 'br' is not supported: send the body uncompressed, or compressed "
            "with one of gzip, deflate.",
        ),
        ({"Content-Encoding": "gzip"}, b"{}", 400, "The request body is not valid gzip data"),
        (
            {"Content-Encoding": "gzip"},
            gzip.compress(json.dumps(tensor()).encode())[:-12],
            400,
            "The gzip request body is truncated",
        ),
    ],
)
def test_bad_compressed_bodies_are_refused(server, headers, content, status, message):
    with server.client() as c:
        r = c.post(
            "/v2/models/iris/infer",
            content=content,
            headers={"Content-Type": "application/json", **headers},
        )
        assert r.status_code == status, r.text
        assert message in r.json()["error"]
        assert c.post("/v2/models/iris/infer", json=tensor()).status_code == 200


# -- the classification extension ------------------------------------------------------------


@pytest.mark.parametrize("binary", [True, False])
def test_tritonclient_class_count_returns_triton_strings(triton, people, binary):
    model, frame = people
    rows = frame.head(5)
    result = triton.infer(
        "frame",
        frame_inputs(rows, binary=binary),
        outputs=[
            httpclient.InferRequestedOutput("probabilities", binary_data=binary, class_count=2)
        ],
    )
    got = result.as_numpy("probabilities")
    assert got.shape == (5, 2)
    got = [[v.decode() if isinstance(v, bytes) else v for v in row] for row in got]
    assert got == top_classes(model.predict_proba(rows), model.classes_, 2)
    assert got[0][0].endswith(":" + model.predict(rows.head(1))[0])


def test_class_count_over_raw_json(server, classifier, iris):
    X, _ = iris
    body = {
        "inputs": [{**IRIS_ROW, "shape": [3, 4], "data": X[[0, 60, 120]].tolist()}],
        "outputs": [
            {"name": "probabilities", "parameters": {"classification": 5}},
            {"name": "predictions", "parameters": {"classification": 1}},
        ],
    }
    with server.client() as c:
        r = c.post("/v2/models/iris/infer", json=body)
    assert r.status_code == 200, r.text
    proba, preds = r.json()["outputs"]
    # More classes asked than the model has: every class, as Triton does.
    assert (proba["datatype"], proba["shape"]) == ("BYTES", [3, 3])
    expected = top_classes(classifier.predict_proba(X[[0, 60, 120]]), ["0", "1", "2"], 3)
    assert proba["data"] == [s for row in expected for s in row]
    # An output that is not the probabilities has no labels: "value:index".
    assert preds == {
        "name": "predictions",
        "datatype": "BYTES",
        "shape": [3, 1],
        "data": [f"{p}:0" for p in classifier.predict(X[[0, 60, 120]])],
    }


# -- the spec's documented bodies ------------------------------------------------------------


def test_server_and_model_metadata_as_the_spec_shows(server):
    with server.client() as c:
        meta = c.get("/v2").json()
        assert set(meta) == {"name", "version", "extensions"}
        assert {"binary_tensor_data", "classification"} <= set(meta["extensions"])
        model = c.get("/v2/models/frame").json()
    assert model["inputs"] == [
        {"name": "age", "datatype": "INT64", "shape": [-1]},
        {"name": "income", "datatype": "FP64", "shape": [-1]},
        {"name": "city", "datatype": "BYTES", "shape": [-1]},
    ]
    assert [o["name"] for o in model["outputs"]] == ["predictions", "probabilities"]


def test_the_specs_json_request_shapes(server, classifier, iris):
    X, _ = iris
    rows = X[:2]
    for data in (rows.tolist(), rows.ravel().tolist()):  # nested row-major, or flat
        body = {
            "id": "42",
            "inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP32", "data": data}],
            "outputs": [{"name": "predictions"}],
        }
        with server.client() as c:
            out = c.post("/v2/models/iris/infer", json=body).json()
        assert out == {
            "model_name": "iris",
            "model_version": "1",
            "id": "42",
            "outputs": [
                {
                    "name": "predictions",
                    "datatype": "INT64",
                    "shape": [2],
                    "data": classifier.predict(rows.astype("float32")).tolist(),
                }
            ],
        }


def test_the_specs_binary_request_with_mixed_outputs(server, classifier, iris):
    """Triton's binary example: binary input, one output binary and one JSON."""
    X, _ = iris
    raw = X[:2].astype("<f4").tobytes()
    header = {
        "model_name": "iris",
        "inputs": [
            {
                "name": "input",
                "shape": [2, 4],
                "datatype": "FP32",
                "parameters": {"binary_data_size": len(raw)},
            }
        ],
        "outputs": [
            {"name": "probabilities", "parameters": {"binary_data": True}},
            {"name": "predictions"},
        ],
    }
    content, headers = with_binary(header, raw)
    with server.client() as c:
        r = c.post("/v2/models/iris/infer", content=content, headers=headers)
    assert r.status_code == 200, r.text
    n = int(r.headers["inference-header-content-length"])
    out = json.loads(r.content[:n])
    proba, preds = out["outputs"]
    assert proba["parameters"] == {"binary_data_size": 2 * 3 * 8}
    np.testing.assert_allclose(
        np.frombuffer(r.content[n:], dtype="<f8").reshape(2, 3),
        classifier.predict_proba(X[:2].astype("float32")),
    )
    assert preds["data"] == classifier.predict(X[:2].astype("float32")).tolist()


def test_binary_bytes_columns(server, people):
    """BYTES in the binary extension: a little-endian uint32 length, then the bytes."""
    model, _ = people
    cities = [b"rome", b"oslo"]
    city = b"".join(struct.pack("<I", len(s)) + s for s in cities)
    age = np.asarray([30, 40], dtype="<i8").tobytes()
    header = {
        "inputs": [
            {
                "name": "age",
                "shape": [2],
                "datatype": "INT64",
                "parameters": {"binary_data_size": 16},
            },
            {"name": "income", "shape": [2], "datatype": "FP64", "data": [1e4, 5e4]},
            {
                "name": "city",
                "shape": [2, 1],
                "datatype": "BYTES",
                "parameters": {"binary_data_size": len(city)},
            },
        ],
        "outputs": [{"name": "predictions"}],
    }
    content, headers = with_binary(header, age + city)
    with server.client() as c:
        r = c.post("/v2/models/frame/infer", content=content, headers=headers)
    assert r.status_code == 200, r.text
    frame = pd.DataFrame({"age": [30, 40], "income": [1e4, 5e4], "city": ["rome", "oslo"]})
    assert r.json()["outputs"][0]["data"] == model.predict(frame).tolist()


def test_mlservers_pandas_codec_body(server, people):
    """MLServer's PandasCodec: columns of shape [N, 1], content types as parameters."""
    model, frame = people
    rows = frame.head(3)
    body = {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": "age", "shape": [3, 1], "datatype": "INT64", "data": rows.age.tolist()},
            {"name": "income", "shape": [3, 1], "datatype": "FP64", "data": rows.income.tolist()},
            {
                "name": "city",
                "shape": [3, 1],
                "datatype": "BYTES",
                "parameters": {"content_type": "str"},
                "data": rows.city.tolist(),
            },
        ],
    }
    with server.client() as c:
        r = c.post("/v2/models/frame/infer", json=body)
    assert r.status_code == 200, r.text
    assert r.json()["outputs"][0]["data"] == model.predict(rows).tolist()
