"""MLflow scoring-server HTTP rules: the Content-Types it takes and its 415 reasons, the
``{"error_code", "message"}`` error shape on scoring routes only, ``/version``, ``/ping``,
``/health``, and compressed bodies.
"""

from __future__ import annotations

import pytest

import maas_nb

# Importing the fixtures is what makes them fixtures of this module.
from tests.serving.mlflow_server import (  # noqa: F401
    FRAME,
    IRIS,
    ROWS,
    frame_model_fixture,
    server_fixture,
)

UNSUPPORTED = (
    "This predictor only supports the following content types: "
    "Types: ['text/csv', 'application/json']. Got "
)


@pytest.mark.parametrize(
    ("content_type", "message"),
    [
        ("application/xml", UNSUPPORTED + "'application/xml'."),
        ("text/plain", UNSUPPORTED + "'text/plain'."),
        ("application/x-www-form-urlencoded", UNSUPPORTED + "'application/x-www-form-urlencoded'."),
        ("application/octet-stream", UNSUPPORTED + "'application/octet-stream'."),
        (
            "application/json; charset=latin-1",
            "The scoring server only supports UTF-8; got charset='latin-1'. "
            "Send the body as UTF-8 (charset=utf-8, or no charset).",
        ),
        (
            "text/csv; charset=utf-16",
            "The scoring server only supports UTF-8; got charset='utf-16'. "
            "Send the body as UTF-8 (charset=utf-8, or no charset).",
        ),
        (
            "application/json; format=pandas-split",
            "Unrecognized content type parameters: format. Send 'Content-Type: "
            "application/json' or 'text/csv' with at most charset=utf-8; MLflow 1.x's "
            "format=pandas-split is a dataframe_split key in the JSON body since 2.0.",
        ),
    ],
)
def test_content_types_mlflow_refuses_are_415(server, content_type, message):
    with server.client() as c:
        r = c.post(
            IRIS, content=b'{"instances": [[1, 2, 3, 4]]}', headers={"Content-Type": content_type}
        )
    assert r.status_code == 415
    assert r.json() == {"error_code": "BAD_REQUEST", "message": message}


def test_a_body_without_content_type_is_415(server):
    with server.client() as c:
        r = c.post(IRIS, content=b'{"instances": [[1, 2, 3, 4]]}')
        assert "content-type" not in r.request.headers
    assert r.status_code == 415
    assert r.json() == {"error_code": "BAD_REQUEST", "message": UNSUPPORTED + "no Content-Type."}


@pytest.mark.parametrize(
    "content_type", ["application/json", "application/json; charset=utf-8", "Application/JSON"]
)
def test_json_content_types_mlflow_accepts(server, classifier, content_type):
    with server.client() as c:
        r = c.post(
            IRIS,
            content=b'{"instances": [[5.1, 3.5, 1.4, 0.2]]}',
            headers={"Content-Type": content_type},
        )
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": classifier.predict(ROWS[:1]).tolist()}


@pytest.mark.parametrize(
    ("method", "path", "body", "status", "error"),
    [
        (
            "POST",
            IRIS,
            {"instances": [[1, 2, 3]]},
            400,
            {
                "error_code": "BAD_REQUEST",
                "message": "instances: X has 3 features, but model 'iris:1' expects 4 features "
                "of float64.",
            },
        ),
        (
            "POST",
            "/models/iris/invocations",
            {"columns": ["a"], "data": [[1]]},
            400,
            {
                "error_code": "BAD_REQUEST",
                "message": "Send exactly one of dataframe_split, dataframe_records, instances, "
                "inputs; got none of them (keys: columns, data).",
            },
        ),
        (
            "POST",
            "/models/nope/invocations",
            {"instances": ROWS},
            404,
            {
                "error_code": "RESOURCE_DOES_NOT_EXIST",
                "message": "No deployment named 'nope'; deployed: counts, frame, iris, reviews.",
            },
        ),
        (
            "GET",
            "/invocations",
            None,
            405,
            {
                "error_code": "BAD_REQUEST",
                "message": "Method GET is not allowed on '/invocations'.",
            },
        ),
    ],
)
def test_errors_take_mlflow_shape_on_scoring_routes_only(server, method, path, body, status, error):
    with server.client() as c:
        r = c.request(method, path, json=body)
        assert r.status_code == status
        assert r.headers["content-type"] == "application/json"
        assert r.json() == error
        # Other protocols keep their own shape.
        r = c.post("/v1/models/iris:predict", json={"instances": [[1, 2, 3]]})
        assert r.status_code == 400 and set(r.json()) == {"error"}


def test_malformed_json_is_a_400_in_mlflow_shape(server):
    with server.client() as c:
        r = c.post(IRIS, content=b'{"instances": [', headers={"Content-Type": "application/json"})
    assert r.status_code == 400
    assert r.json() == {
        "error_code": "BAD_REQUEST",
        "message": "Malformed JSON in the request body: Expecting value at line 1 column 16.",
    }


def test_version_ping_and_health(server):
    with server.client() as c:
        r = c.get("/version")
        assert r.status_code == 200
        assert r.text == maas_nb.__version__
        assert c.get("/ping").status_code == 200
        assert c.get("/health").status_code == 200


@pytest.mark.parametrize("coding", ["gzip", "deflate"])
def test_compressed_bodies_are_inflated(server, classifier, coding):
    from maas_nb.serving.compression import compress

    json_body = compress(b'{"inputs": [[5.1, 3.5, 1.4, 0.2]]}', coding)
    csv_body_ = compress(b"a,b,c,d\n5.1,3.5,1.4,0.2\n", coding)
    expected = {"predictions": classifier.predict([[5.1, 3.5, 1.4, 0.2]]).tolist()}
    with server.client() as c:
        for body, content_type in ((json_body, "application/json"), (csv_body_, "text/csv")):
            r = c.post(
                IRIS,
                content=body,
                headers={"Content-Type": content_type, "Content-Encoding": coding},
            )
            assert (r.status_code, r.json()) == (200, expected), content_type


def test_unsupported_or_broken_content_encoding_is_refused(server):
    with server.client() as c:
        r = c.post(
            IRIS,
            content=b'{"inputs": [[5.1, 3.5, 1.4, 0.2]]}',
            headers={"Content-Type": "application/json", "Content-Encoding": "br"},
        )
        assert (r.status_code, r.json()["message"]) == (
            415,
            "Content-Encoding 'br' is not supported: send the body uncompressed, or compressed "
            "with one of gzip, deflate.",
        )
        r = c.post(
            IRIS,
            content=b'{"inputs": [[5.1, 3.5, 1.4, 0.2]]}',
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
        assert r.status_code == 400
        assert r.json()["message"].startswith("The request body is not valid gzip data")


def test_a_gzip_bomb_is_a_413(start_server, classifier, iris):
    import gzip

    X, _ = iris
    registry = maas_nb.api.registry()
    registry.register(classifier, "iris", sample=X[:5])
    registry.put_deployment("iris", "iris", {})
    server = start_server("--max-body", "100000")
    server.reconcile()
    bomb = gzip.compress(b'{"inputs": [' + b"[1, 2, 3, 4], " * 100_000 + b"[1, 2, 3, 4]]}")
    with server.client() as c:
        r = c.post(
            "/invocations",
            content=bomb,
            headers={"Content-Type": "application/json", "Content-Encoding": "gzip"},
        )
    assert r.status_code == 413
    assert r.json()["message"].startswith(
        "The gzip request body inflates to more than 100000 bytes"
    )
