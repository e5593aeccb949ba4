"""MLflow scoring-server ``text/csv`` bodies: read by pandas with a header row naming the
columns, as MLflow reads them; refused in MLflow's words when unreadable.
"""

from __future__ import annotations

import pytest

# Importing the fixtures is what makes them fixtures of this module.
from tests.serving.mlflow_server import (  # noqa: F401
    FRAME,
    IRIS,
    ROWS,
    frame_model_fixture,
    server_fixture,
)


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
        # A comma inside a quoted name is not a column boundary: pandas reads one column,
        # whose name is then not the text model's.
        r = c.post(
            "/models/reviews/invocations",
            content=b'"text, as written"\n"a wonderful film"\n',
            headers={"Content-Type": "text/csv"},
        )
        assert r.json()["message"].startswith(
            "The CSV body's first line ('text, as written') is not a header row"
        )


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


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            IRIS,
            b"5.1,3.5,1.4,0.2\n6.7,3.0,5.2,2.3\n",
            "The CSV body's first line ('5.1,3.5,1.4,0.2') is not a header row: MLflow's "
            "scoring protocol reads the first line of a CSV body as the column names, so that "
            "row of data would be lost. Add a header row with a name for each column (any "
            "names: this model takes the columns in order); model 'iris:1' expects 4 "
            "features of float64 (DataFrame.to_csv(index=False) writes one).",
        ),
        (
            "/models/reviews/invocations",
            b"a wonderful film\nawful and boring\n",
            "The CSV body's first line ('a wonderful film') is not a header row: MLflow's "
            "scoring protocol reads the first line of a CSV body as the column names, so that "
            "row of data would be lost. Add a header row with one column named 'text'; model "
            "'reviews:1' expects a list of strings (DataFrame.to_csv(index=False) writes one).",
        ),
    ],
    ids=["numbers", "text"],
)
def test_csv_without_a_header_row_is_refused_with_how_to_add_one(server, path, body, message):
    with server.client() as c:
        r = c.post(path, content=body, headers={"Content-Type": "text/csv"})
    assert (r.status_code, r.json()) == (400, {"error_code": "BAD_REQUEST", "message": message})


def test_csv_with_pandas_default_column_names_is_read(server, classifier):
    import pandas as pd

    body = csv_body(pd.DataFrame(ROWS))  # header 0,1,2,3: numbers, but a header
    with server.client() as c:
        r = c.post(IRIS, content=body, headers={"Content-Type": "text/csv"})
    assert (r.status_code, r.json()) == (200, {"predictions": classifier.predict(ROWS).tolist()})
