"""MLflow scoring-server JSON bodies, replayed over HTTP against a real server.

The bodies are the ones MLflow 2.x documents for ``/invocations`` (``dataframe_split``,
``dataframe_records``, ``instances``, ``inputs``, ``params``), answered or refused as
``mlflow/pyfunc/scoring_server`` does, errors in its ``{"error_code", "message"}`` shape.
CSV bodies: `test_conformance_mlflow_csv`; content types, error shape and encodings:
`test_conformance_mlflow_http`.
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


def test_documented_json_bodies(shared_iris_server, classifier):
    expected = {"predictions": classifier.predict(ROWS).tolist()}
    with shared_iris_server.client() as c:
        for body in BODIES:
            for path in ("/invocations", "/models/iris/invocations"):
                r = c.post(path, json=body)
                assert (r.status_code, r.json()) == (200, expected), (path, body)


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


# What MLflow's scoring server does with values of another type than the signature's
# (mlflow/utils/proto_json_utils.py): it converts each body before the model's schema
# enforcement sees it, with ``np.array(data, dtype=spec.type)`` for ``instances`` and
# ``inputs`` and ``DataFrame.astype`` for ``dataframe_split``/``dataframe_records``. So
# true becomes 1 and 2.0 becomes 2, as here; `_enforce_mlflow_datatype`'s "Can not safely
# convert float64 to int64" is met only by a DataFrame handed to ``pyfunc.predict``. But
# numpy and pandas also truncate 2.5 to 2, which would answer for another input than the
# one sent: that is refused here.
COUNTS = "/models/counts/invocations"


@pytest.mark.parametrize(
    "body",
    [
        {"inputs": [[51, 35, 14, 2]]},
        {"inputs": [[51.0, 35.0, 14.0, 2.0]]},
        {"instances": [[51, 35.0, 14, 2]]},
        {"dataframe_split": {"data": [[51.0, 35, 14, 2]]}},
    ],
)
def test_whole_floats_for_an_int64_input_are_converted_as_mlflow_does(server, classifier, body):
    with server.client() as c:
        r = c.post(COUNTS, json=body)
    assert (r.status_code, r.json()) == (
        200,
        {"predictions": classifier.predict([[51, 35, 14, 2]]).tolist()},
    )


def test_booleans_for_an_int64_input_are_converted_as_mlflow_does(server, classifier):
    with server.client() as c:
        r = c.post(COUNTS, json={"inputs": [[True, False, 14, 2]]})
    assert r.status_code == 200, r.text
    assert r.json() == {"predictions": classifier.predict([[1, 0, 14, 2]]).tolist()}


@pytest.mark.parametrize("key", ["inputs", "instances"])
def test_fractions_for_an_int64_input_are_refused_not_truncated(server, key):
    with server.client() as c:
        r = c.post(COUNTS, json={key: [[51.5, 35, 14, 2], [1, 2, 3.25, 4]]})
    assert r.status_code == 400
    assert r.json() == {
        "error_code": "BAD_REQUEST",
        "message": f"{key}: model 'counts:1' expects integers (int64), got 2 fractional "
        "number(s) such as 51.5. Send whole numbers (2 or 2.0); fractions are refused, not "
        "rounded.",
    }
