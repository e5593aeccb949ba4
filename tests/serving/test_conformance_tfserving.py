"""TF Serving's documented REST bodies, replayed over HTTP against a real server.

The bodies follow TF Serving's REST API guide: row (``instances``) and columnar
(``inputs``) requests, ``{"b64": ...}`` strings, ``signature_name``, and the model
status and metadata routes with ``/versions/N`` and ``/labels/L``.
"""

from __future__ import annotations

import base64

import numpy as np
import pytest

from maas_nb.registry import Registry
from tests.conftest import CORPUS
from tests.serving.conftest import spawn_server, stop

TEXTS = ["a wonderful film with a great cast", "an awful, boring plot"]


def b64(text: str) -> str:
    return base64.b64encode(text.encode()).decode()


@pytest.fixture(scope="module")
def text_model():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    docs, labels = zip(*CORPUS, strict=True)
    return make_pipeline(TfidfVectorizer(), LogisticRegression()).fit(list(docs), list(labels))


@pytest.fixture(scope="module")
def server(tmp_path_factory, classifier, iris, text_model, strict_frame_model):
    """One server for the module: iris@production (iris:1; iris:2 is 'next', not deployed),
    a TF-IDF text model as 'reviews' and a DataFrame model with a text column as 'frame'."""
    home = tmp_path_factory.mktemp("tfserving")
    registry = Registry(home)
    X, _ = iris
    registry.register(classifier, "iris", sample=X[:5], alias="production")
    registry.register(classifier, "iris", sample=X[:5], alias="next")
    registry.put_deployment("iris", "iris@production", {})
    registry.register(text_model, "reviews", sample=TEXTS)
    registry.put_deployment("reviews", "reviews", {})
    model, frame = strict_frame_model
    registry.register(model, "frame", sample=frame[:5])
    registry.put_deployment("frame", "frame", {})
    server = spawn_server(home)
    assert [s["status"] for s in server.reconcile()] == ["ready"] * 3
    yield server
    stop(server)


def test_the_text_model_tells_the_texts_apart(text_model):
    # Else a server that classified the base64 strings themselves could pass by luck.
    assert text_model.predict(TEXTS).tolist() == ["pos", "neg"]


@pytest.mark.parametrize(
    ("body", "key"),
    [
        ({"instances": [{"b64": b64(t)} for t in TEXTS]}, "instances"),
        ({"instances": [{"text": {"b64": b64(t)}} for t in TEXTS]}, "instances"),
        ({"inputs": {"text": [{"b64": b64(t)} for t in TEXTS]}}, "inputs"),
        ({"inputs": [{"b64": b64(t)} for t in TEXTS]}, "inputs"),
        ({"instances": [{"b64": b64(t).rstrip("=")} for t in TEXTS]}, "instances"),  # unpadded
    ],
    ids=["rows", "named-rows", "columns", "column-list", "unpadded"],
)
def test_b64_values_are_decoded_before_the_model_sees_them(server, text_model, body, key):
    with server.client() as c:
        r = c.post("/v1/models/reviews:predict", json=body)
        plain = c.post("/v1/models/reviews:predict", json={"instances": TEXTS})
    assert r.status_code == 200, r.text
    if key == "instances":
        got = [row["predictions"] for row in r.json()["predictions"]]
        probabilities = [row["probabilities"] for row in r.json()["predictions"]]
    else:
        got = r.json()["outputs"]["predictions"]
        probabilities = r.json()["outputs"]["probabilities"]
    assert got == text_model.predict(TEXTS).tolist()
    np.testing.assert_allclose(probabilities, text_model.predict_proba(TEXTS))
    if key == "instances":  # the same answer as for the plain strings
        assert r.json() == plain.json()


def test_b64_in_a_dataframe_models_text_column(server, strict_frame_model):
    model, frame = strict_frame_model
    rows = frame.iloc[[0, 100]]
    instances = [
        {"petal_length": r.petal_length, "colour": {"b64": b64(r.colour)}}
        for r in rows.itertuples()
    ]
    columns = {
        "petal_length": rows.petal_length.tolist(),
        "colour": [{"b64": b64(c)} for c in rows.colour],
    }
    with server.client() as c:
        r = c.post("/v1/models/frame:predict", json={"instances": instances})
        assert r.status_code == 200, r.text
        assert [row["predictions"] for row in r.json()["predictions"]] == model.predict(
            rows
        ).tolist()
        r = c.post("/v1/models/frame:predict", json={"inputs": columns})
        assert r.status_code == 200, r.text
        assert r.json()["outputs"]["predictions"] == model.predict(rows).tolist()


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"instances": [{"b64": "not base64!"}]},
            'instances: {"b64": "not base64!"} is not valid base64 (',
        ),
        (
            {"inputs": {"text": [{"b64": "a"}]}},
            'inputs: {"b64": "a"} is not valid base64 (',
        ),
        (
            {"instances": [{"b64": base64.b64encode(b"\xff\xfe caf\xe9").decode()}]},
            'instances: {"b64": "//4gY2Fm6Q=="} decodes to 7 bytes that are not UTF-8 text; '
            "model 'reviews:1' takes strings, so base64-encode UTF-8 text.",
        ),
        (
            {"instances": [{"text": {"b64": 12}}]},
            "instances: a {\"b64\": ...} value must be a base64 string, got int '12'.",
        ),
    ],
    ids=["bad-alphabet", "bad-length", "not-utf8", "not-a-string"],
)
def test_bad_b64_is_a_clear_400(server, body, message):
    with server.client() as c:
        r = c.post("/v1/models/reviews:predict", json=body)
        assert r.status_code == 400
        assert r.json()["error"].startswith(message)
        # and the model keeps serving
        assert c.post("/v1/models/reviews:predict", json={"instances": TEXTS}).status_code == 200


def test_b64_for_a_numeric_model_is_refused(server):
    with server.client() as c:
        r = c.post("/v1/models/iris:predict", json={"instances": [{"b64": b64("hello")}]})
    assert r.status_code == 400
    assert r.json() == {
        "error": "instances: model 'iris:1' expects numbers (float64), got values of type "
        "string such as 'hello'."
    }


@pytest.mark.parametrize(
    "body",
    [
        {"signature_name": "serving_default", "instances": [[5.1, 3.5, 1.4, 0.2]]},
        {"signature_name": "", "instances": [[5.1, 3.5, 1.4, 0.2]]},
        {"instances": [[5.1, 3.5, 1.4, 0.2]]},
        {"instances": [{"input": [5.1, 3.5, 1.4, 0.2]}]},
        {"signature_name": "serving_default", "inputs": [[5.1, 3.5, 1.4, 0.2]]},
        {"inputs": {"input": [[5.1, 3.5, 1.4, 0.2]]}},
    ],
    ids=["named-default", "empty-name", "no-name", "named-rows", "columns-list", "columns"],
)
def test_documented_predict_bodies(server, classifier, body):
    expected = classifier.predict([[5.1, 3.5, 1.4, 0.2]]).tolist()
    with server.client() as c:
        r = c.post("/v1/models/iris:predict", json=body)
    assert r.status_code == 200, r.text
    if "instances" in body:
        assert [row["predictions"] for row in r.json()["predictions"]] == expected
    else:
        assert r.json()["outputs"]["predictions"] == expected


@pytest.mark.parametrize(
    ("name", "message"),
    [
        (
            "predict_images",
            'Serving signature name: "predict_images" not found in signature def; this model '
            'has one signature, "serving_default": send that or leave "signature_name" out.',
        ),
        (
            5,
            '"signature_name" must be a string, got int \'5\'; send "serving_default" or '
            "leave it out.",
        ),
        (
            None,
            '"signature_name" must be a string, got NoneType \'None\'; send "serving_default" '
            "or leave it out.",
        ),
    ],
)
def test_unknown_signature_name_is_a_400(server, name, message):
    with server.client() as c:
        for path in ("/v1/models/iris:predict", "/v1/models/iris/versions/1:predict"):
            r = c.post(path, json={"signature_name": name, "instances": [[1, 2, 3, 4]]})
            assert r.status_code == 400
            assert r.json() == {"error": message}


AVAILABLE = {
    "model_version_status": [
        {"version": "1", "state": "AVAILABLE", "status": {"error_code": "OK", "error_message": ""}}
    ]
}


def test_version_and_label_status(server):
    with server.client() as c:
        assert c.get("/v1/models/iris").json() == AVAILABLE
        for path in ("/v1/models/iris/versions/1", "/v1/models/iris/labels/production"):
            r = c.get(path)
            assert r.status_code == 200, (path, r.text)
            assert r.json() == AVAILABLE
        r = c.get("/v1/models/iris/versions/3")
        assert r.status_code == 404
        assert r.json() == {
            "error": "Could not find version 3 of model iris: deployment 'iris' serves iris:1. "
            "Ask for that version, or deploy the other under a name of its own."
        }
        r = c.get("/v1/models/iris/labels/staging")
        assert r.status_code == 404
        assert r.json()["error"].startswith("Model 'iris' has no alias 'staging'")
        assert c.get("/v1/models/nope/versions/1").status_code == 404


def test_an_alias_on_a_version_not_served_is_a_404(server):
    with server.client() as c:
        r = c.get("/v1/models/iris/labels/next")
        assert r.status_code == 404
        assert r.json()["error"].startswith("Could not find version 2 of model iris:")
        r = c.get("/v1/models/iris/labels/next/metadata")
        assert r.status_code == 404
        assert r.json()["error"].startswith("Servable not found for request: Specific(iris, 2):")


def test_version_and_label_metadata(server):
    with server.client() as c:
        latest = c.get("/v1/models/iris/metadata").json()
        assert latest["model_spec"] == {"name": "iris", "version": "1", "signature_name": ""}
        for path in (
            "/v1/models/iris/versions/1/metadata",
            "/v1/models/iris/labels/production/metadata",
        ):
            r = c.get(path)
            assert r.status_code == 200, (path, r.text)
            assert r.json() == latest
        r = c.get("/v1/models/iris/versions/2/metadata")
        assert r.status_code == 404
        assert r.json() == {
            "error": "Servable not found for request: Specific(iris, 2): deployment 'iris' "
            "serves iris:1. Ask for that version, or deploy the other under a name of its own."
        }
        r = c.get("/v1/models/iris/versions/x/metadata")
        assert r.status_code == 404
        assert r.json() == {"error": "Version 'x' is not a positive integer."}


@pytest.mark.parametrize(
    ("model", "body", "message"),
    [
        (
            "iris",
            {"instances": [{"inpu": [1, 2, 3, 4]}]},
            "instances: unknown input name(s) 'inpu'; model 'iris:1' takes 'input'. Name the "
            "inputs as its signature does, or send plain rows without names.",
        ),
        (
            "iris",
            {"inputs": {"inpu": [[1, 2, 3, 4]]}},
            "inputs: unknown input name(s) 'inpu'; model 'iris:1' takes 'input'. Name the "
            "inputs as its signature does, or send plain rows without names.",
        ),
        (
            "reviews",
            {"instances": [{"txt": "good"}]},
            "instances: unknown input name(s) 'txt'; model 'reviews:1' takes 'text'. Name the "
            "inputs as its signature does, or send plain rows without names.",
        ),
        (
            "reviews",
            {"inputs": {"txt": ["good"]}},
            "inputs: unknown input name(s) 'txt'; model 'reviews:1' takes 'text'. Name the "
            "inputs as its signature does, or send plain rows without names.",
        ),
        (
            "frame",
            {"instances": [{"petal_length": 1.4, "colour": "red", "zzz": 1}]},
            "instances: row 0 has unknown column(s) 'zzz'; model 'frame:1' expects 2 columns "
            "(petal_length, colour). Leave them out.",
        ),
        (
            "frame",
            {"inputs": {"petal_length": [1.4], "colour": ["red"], "zzz": [1]}},
            "inputs: unknown column(s) 'zzz'; model 'frame:1' expects 2 columns "
            "(petal_length, colour). Leave them out.",
        ),
    ],
    ids=["rows", "columns", "text-rows", "text-columns", "frame-rows", "frame-columns"],
)
def test_unknown_input_names_are_a_400(server, model, body, message):
    with server.client() as c:
        r = c.post(f"/v1/models/{model}:predict", json=body)
    assert (r.status_code, r.json()) == (400, {"error": message})


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compressed_predict_bodies_are_inflated(server, classifier, coding):
    from maas_nb.serving.compression import compress

    body = compress(b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}', coding)
    with server.client() as c:
        r = c.post(
            "/v1/models/iris:predict",
            content=body,
            headers={"Content-Type": "application/json", "Content-Encoding": coding},
        )
        assert r.status_code == 200, r.text
        predictions = [row["predictions"] for row in r.json()["predictions"]]
        assert predictions == classifier.predict([[5.1, 3.5, 1.4, 0.2]]).tolist()
        r = c.post(
            "/v1/models/iris:predict",
            content=body,
            headers={"Content-Type": "application/json", "Content-Encoding": "compress"},
        )
    assert (r.status_code, r.json()) == (
        415,
        {
            "error": "Content-Encoding 'compress' is not supported: send the body uncompressed, "
            "or compressed with one of gzip, deflate."
        },
    )
