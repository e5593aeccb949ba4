"""TF Serving's REST API over a real server."""

import numpy as np
import pytest


def test_row_and_columnar_predict(shared_iris_server, classifier, iris):
    X, _ = iris
    with shared_iris_server.client() as c:
        rows = c.post("/v1/models/iris:predict", json={"instances": X[:2].tolist()}).json()
        assert [r["predictions"] for r in rows["predictions"]] == classifier.predict(X[:2]).tolist()
        np.testing.assert_allclose(
            [r["probabilities"] for r in rows["predictions"]], classifier.predict_proba(X[:2])
        )
        cols = c.post("/v1/models/iris:predict", json={"inputs": {"input": X[:2].tolist()}}).json()
        assert cols["outputs"]["predictions"] == classifier.predict(X[:2]).tolist()
        named = c.post(
            "/v1/models/iris:predict", json={"instances": [{"input": X[0].tolist()}]}
        ).json()
        assert named["predictions"][0]["predictions"] == classifier.predict(X[:1])[0]


def test_versions_and_labels(shared_iris_server, iris):
    X, _ = iris
    body = {"instances": X[:1].tolist()}
    with shared_iris_server.client() as c:
        assert c.post("/v1/models/iris/versions/1:predict", json=body).status_code == 200
        assert c.post("/v1/models/iris/labels/production:predict", json=body).status_code == 200
        r = c.post("/v1/models/iris/labels/staging:predict", json=body)
        assert r.status_code == 404
        assert r.json()["error"].startswith("Model 'iris' has no alias 'staging'")
        assert c.post("/v1/models/iris/versions/3:predict", json=body).status_code == 404


def test_status_and_metadata(shared_iris_server):
    with shared_iris_server.client() as c:
        status = c.get("/v1/models/iris").json()
        assert status == {
            "model_version_status": [
                {
                    "version": "1",
                    "state": "AVAILABLE",
                    "status": {"error_code": "OK", "error_message": ""},
                }
            ]
        }
        meta = c.get("/v1/models/iris/metadata").json()
        assert meta["model_spec"] == {"name": "iris", "version": "1", "signature_name": ""}
        inputs = meta["metadata"]["signature_def"]["signature_def"]["serving_default"]["inputs"]
        assert inputs["input"]["tensor_shape"] == {"dim": [{"size": "-1"}, {"size": "4"}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({}, 'Send exactly one of "instances" (a list of rows) or "inputs" (columns).'),
        ({"instances": [[1, 2]], "inputs": [[1, 2]]}, 'Send exactly one of "instances"'),
        ({"instances": [[1, 2, 3, 4], [1, 2]]}, "instances: rows have different lengths"),
        (
            {"instances": "text"},
            "instances: model 'iris:1' expects numbers (float64), got values of type string such as 'text'.",
        ),
        ({"instances": []}, "instances: the request has no rows."),
    ],
)
def test_bad_predict_requests(shared_iris_server, body, message):
    with shared_iris_server.client() as c:
        r = c.post("/v1/models/iris:predict", json=body)
    assert r.status_code == 400
    assert r.json()["error"].startswith(message)
