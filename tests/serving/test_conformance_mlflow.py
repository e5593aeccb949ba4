"""MLflow scoring-server bodies and rules, replayed over HTTP against a real server.

The bodies are the ones MLflow 2.x documents for ``/invocations`` (``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs``, CSV, ``params``); the Content-Type
rules, the 415 reasons and the ``{"error_code", "message"}`` error shape are those of
``mlflow/pyfunc/scoring_server``.
"""

from __future__ import annotations

import pytest

import maas_nb
from maas_nb.registry import Registry
from tests.serving.conftest import spawn_server, stop

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
IRIS, FRAME = "/models/iris/invocations", "/models/frame/invocations"


@pytest.fixture(scope="module")
def frame_model(iris):
    """A DataFrame model fitted on columns sl, sw, pl, pw, and that frame."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    return LogisticRegression(max_iter=1000).fit(frame, y), frame


@pytest.fixture(scope="module")
def server(tmp_path_factory, classifier, iris, frame_model, text_pipeline):
    """One server for the module: 'iris' (an array model), 'frame' and 'reviews' (text)."""
    home = tmp_path_factory.mktemp("mlflow")
    registry = Registry(home)
    X, _ = iris
    model, frame = frame_model
    registry.register(classifier, "iris", sample=X[:5])
    registry.register(model, "frame", sample=frame[:5])
    registry.register(text_pipeline, "reviews", sample=["a fine film", "a dull film"])
    for name in ("iris", "frame", "reviews"):
        registry.put_deployment(name, name, {})
    server = spawn_server(home)
    assert [s["status"] for s in server.reconcile()] == ["ready"] * 3
    yield server
    stop(server)


BODIES = [
    {"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": ROWS}},
    {"dataframe_split": {"index": [0, 1], "columns": ["a", "b", "c", "d"], "data": ROWS}},
    {"dataframe_records": [dict(zip("abcd", row, strict=True)) for row in ROWS]},
    {"instances": ROWS},
    {"inputs": ROWS},
    {"inputs": {"input": ROWS}},
    # MLflow ignores params (even a non-dictionary) for a model without a params schema.
    {"dataframe_split": {"columns": ["a", "b", "c", "d"], "data": ROWS}, "params": {"k": 2}},
    {"instances": ROWS, "params": "not a dictionary"},
]


def test_documented_json_bodies(iris_server, classifier):
    expected = {"predictions": classifier.predict(ROWS).tolist()}
    with iris_server.client() as c:
        for body in BODIES:
            for path in ("/invocations", "/models/iris/invocations"):
                r = c.post(path, json=body)
                assert (r.status_code, r.json()) == (200, expected), (path, body)


def csv_body(frame, **kwargs) -> bytes:
    return frame.to_csv(index=False, **kwargs).encode()


@pytest.mark.parametrize(
    "content_type", ["text/csv", "text/csv; charset=utf-8", "text/csv;charset=UTF-8"]
)
def test_csv_bodies_give_the_same_rows_as_dataframe_split(server, classifier, content_type):
    import pandas as pd

    frame = pd.DataFrame(ROWS, columns=["a", "b", "c", "d"])
    with server.client() as c:
        r = c.post(IRIS, content=csv_body(frame), headers={"Content-Type": content_type})
        split = c.post(IRIS, json={"dataframe_split": frame.to_dict(orient="split")})
    assert r.status_code == 200, r.text
    assert r.json() == split.json() == {"predictions": classifier.predict(ROWS).tolist()}


def test_csv_for_a_dataframe_model_is_read_by_header(server, frame_model):
    model, df = frame_model
    shuffled = df[:3][["pw", "sl", "pl", "sw"]]  # the header names the columns, in any order
    with server.client() as c:
        r = c.post(FRAME, content=csv_body(shuffled), headers={"Content-Type": "text/csv"})
        assert r.status_code == 200, r.text
        assert r.json() == {"predictions": model.predict(df[:3]).tolist()}
        missing = df[:1][["sl", "sw", "pl"]]
        r = c.post(FRAME, content=csv_body(missing), headers={"Content-Type": "text/csv"})
        assert r.status_code == 400
        assert r.json() == {
            "error_code": "BAD_REQUEST",
            "message": "dataframe_split: missing column(s) 'pw'; model 'frame:1' expects 4 "
            "columns (sl, sw, pl, pw), got 'sl', 'sw', 'pl'.",
        }


def test_csv_for_a_text_model(server, text_pipeline):
    import pandas as pd

    texts = ["a wonderful film, great acting", "awful and boring, 007"]
    body = csv_body(pd.DataFrame({"text": texts}))
    with server.client() as c:
        r = c.post(
            "/models/reviews/invocations", content=body, headers={"Content-Type": "text/csv"}
        )
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": text_pipeline.predict(texts).tolist()}


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", "No columns to parse from file"),
        (b'a,b,c,d\n1,2,"3\n', "EOF inside string"),
        (b"a,b,c,d\n1,2,3,\xff\n", "'utf-8' codec can't decode byte 0xff"),
    ],
    ids=["empty", "unterminated-quote", "not-utf8"],
)
def test_unreadable_csv_is_a_400_in_mlflow_words(server, body, error):
    with server.client() as c:
        r = c.post(IRIS, content=body, headers={"Content-Type": "text/csv"})
        assert r.status_code == 400
        assert set(r.json()) == {"error_code", "message"}
        assert r.json()["error_code"] == "BAD_REQUEST"
        assert r.json()["message"].startswith(
            "Failed to parse input as a Pandas DataFrame. Ensure that the input is a valid "
            "CSV-formatted Pandas DataFrame produced using the `pandas.DataFrame.to_csv()` "
            "method, with a header row. Error: '"
        )
        assert error in r.json()["message"]
        assert c.post(IRIS, json={"instances": ROWS}).status_code == 200


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
                "message": "No deployment named 'nope'; deployed: frame, iris, reviews.",
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


def test_a_csv_header_wider_than_the_model_is_refused_before_pandas(server):
    # 100k columns took pandas 5.4 s and 314 MiB on the event loop; the header is counted first.
    header = ",".join(f"c{i}" for i in range(100_000)).encode()
    with server.client() as c:
        for path, expects in (
            (IRIS, "4 features of float64"),
            (FRAME, "4 columns (sl, sw, pl, pw)"),
        ):
            r = c.post(
                path,
                content=header + b"\n" + b"1," * 99_999 + b"1\n",
                headers={"Content-Type": "text/csv"},
            )
            assert (r.status_code, r.json()) == (
                400,
                {
                    "error_code": "BAD_REQUEST",
                    "message": f"The CSV header has 100000 columns; model '{path.split('/')[2]}:1' "
                    f"expects {expects}. Send one column per model input, with a header row "
                    "naming them (DataFrame.to_csv(index=False)).",
                },
            ), path
        # A comma inside a quoted name is not a column boundary.
        r = c.post(
            "/models/reviews/invocations",
            content=b'"text, as written"\n"a wonderful film"\n',
            headers={"Content-Type": "text/csv"},
        )
        assert r.status_code == 200, r.text


def test_a_csv_body_with_more_rows_than_the_model_queues_is_refused(server):
    body = b"a,b,c,d\n" + b"5.1,3.5,1.4,0.2\n" * 4097
    with server.client() as c:
        r = c.post(IRIS, content=body, headers={"Content-Type": "text/csv"})
        assert (r.status_code, r.json()) == (
            413,
            {
                "error_code": "BAD_REQUEST",
                "message": "The CSV body has 4097 lines after its header; model 'iris:1' takes "
                "at most 4096 rows per request. Split it into smaller requests.",
            },
        )
        r = c.post(
            IRIS, content=body[: -len(b"5.1,3.5,1.4,0.2\n")], headers={"Content-Type": "text/csv"}
        )
        assert r.status_code == 200, r.text
        assert len(r.json()["predictions"]) == 4096


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


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            IRIS,
            {"inputs": {"inpu": ROWS}},
            "inputs: unknown input name(s) 'inpu'; model 'iris:1' takes 'input'. Name the "
            "inputs as its signature does, or send plain rows without names.",
        ),
        (
            FRAME,
            {"dataframe_records": [{"sl": 1, "sw": 2, "pl": 3, "pw": 4, "zzz": 5}]},
            "dataframe_records: row 0 has unknown column(s) 'zzz'; model 'frame:1' expects 4 "
            "columns (sl, sw, pl, pw). Leave them out.",
        ),
        (
            FRAME,
            {"dataframe_split": {"columns": ["sl", "sw", "pl", "pw", "zzz"], "data": [[1] * 5]}},
            "dataframe_split: unknown column(s) 'zzz'; model 'frame:1' expects 4 columns "
            "(sl, sw, pl, pw). Leave them out.",
        ),
        (
            IRIS,
            {"dataframe_split": {"columns": ["a", "b", "c"], "data": [[1, 2, 3, 4]]}},
            'dataframe_split: every row of "data" needs one value per column (3).',
        ),
        (
            "/models/reviews/invocations",
            {"instances": [{"txt": "good"}]},
            "instances: unknown input name(s) 'txt'; model 'reviews:1' takes 'text'. Name the "
            "inputs as its signature does, or send plain rows without names.",
        ),
    ],
    ids=["tensor-columns", "records-extra", "split-extra", "split-not-rectangular", "text"],
)
def test_unknown_input_names_are_a_400(server, path, body, message):
    with server.client() as c:
        r = c.post(path, json=body)
    assert (r.status_code, r.json()) == (400, {"error_code": "BAD_REQUEST", "message": message})
