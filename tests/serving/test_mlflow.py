"""MLflow-style scoring over a real server."""

import pytest

import maas_nb


def test_invocation_formats(shared_iris_server, classifier, iris):
    X, _ = iris
    expected = classifier.predict(X[:3]).tolist()
    bodies = [
        {"instances": X[:3].tolist()},
        {"inputs": X[:3].tolist()},
        {"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": X[:3].tolist()}},
        {"dataframe_records": [dict(zip("abcd", row, strict=True)) for row in X[:3].tolist()]},
    ]
    with shared_iris_server.client() as c:
        for body in bodies:
            for path in ("/invocations", "/models/iris/invocations"):
                r = c.post(path, json=body)
                assert r.status_code == 200, (body, r.text)
                assert r.json() == {"predictions": expected}
        assert c.get("/ping").status_code == 200
        assert c.get("/health").status_code == 200


def test_dataframe_model(frame_server):
    server, model, df = frame_server
    expected = model.predict(df[:2]).tolist()
    with server.client() as c:
        split = df[:2][["pw", "pl", "sw", "sl"]].to_dict(orient="split")  # any column order
        r = c.post(
            "/invocations",
            json={"dataframe_split": {"columns": split["columns"], "data": split["data"]}},
        )
        assert r.json() == {"predictions": expected}
        r = c.post("/invocations", json={"dataframe_records": df[:2].to_dict(orient="records")})
        assert r.json() == {"predictions": expected}
        r = c.post("/invocations", json={"dataframe_records": [{"sl": 1, "sw": 2, "pl": 3}]})
        assert r.status_code == 400
        assert (
            r.json()["message"]
            == "dataframe_records: row 0 is missing column(s) 'pw'; model 'frame:1' expects 4 columns (sl, sw, pl, pw)."
        )


def test_invocations_needs_exactly_one_deployment(iris_server, classifier):
    registry = maas_nb.api.registry()
    registry.put_deployment("iris-b", "iris:1", {})
    iris_server.reconcile()
    with iris_server.client() as c:
        r = c.post("/invocations", json={"instances": [[1, 2, 3, 4]]})
        assert r.status_code == 404
        assert r.json()["message"] == (
            "/invocations needs exactly one deployment, but 2 are deployed (iris, iris-b); use /models/NAME/invocations."
        )
        assert (
            c.post("/models/iris-b/invocations", json={"instances": [[1, 2, 3, 4]]}).status_code
            == 200
        )


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {},
            "Send exactly one of dataframe_split, dataframe_records, instances, inputs; got none of them",
        ),
        (
            {"instances": [[1, 2, 3, 4]], "inputs": [[1, 2, 3, 4]]},
            "Send exactly one of dataframe_split, dataframe_records, instances, inputs; got instances, inputs",
        ),
        ({"dataframe_split": [1]}, 'dataframe_split must be an object with a "data" list of rows'),
        ([1, 2], "The request body must be a JSON object, got list."),
    ],
)
def test_bad_invocations(shared_iris_server, body, message):
    with shared_iris_server.client() as c:
        r = c.post("/invocations", json=body)
    assert r.status_code == 400
    assert r.json()["message"].startswith(message)
