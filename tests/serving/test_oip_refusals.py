"""OIP requests that Triton and MLServer refuse get a 400 that says why, never a 500.

An unhashable datatype was once a 500; unknown and duplicate inputs, shapes unlike the
model's declared dims, bytes after the binary tensors and a non-string id were once accepted.
"""

from __future__ import annotations

import numpy as np
import pytest

# Importing people_fixture and server_fixture is what makes them fixtures of this module.
from tests.serving.oip_server import (  # noqa: F401
    IRIS_ROW,
    ISSUE_BODY,
    people_fixture,
    server_fixture,
    tensor,
    with_binary,
)

REFUSED = [
    # The issue's body: an unhashable datatype once reached a dict lookup (500 TypeError).
    (
        "iris",
        {"inputs": [{"name": "input", "shape": [1, 20], "datatype": [], "data": [0]}]},
        "inputs[0] ('input'): unknown datatype []; use one of BOOL, UINT8,",
    ),
    ("iris", tensor(datatype={"FP64": 1}), "inputs[0] ('input'): unknown datatype {'FP64': 1};"),
    ("iris", tensor(datatype=64), "inputs[0] ('input'): unknown datatype 64;"),
    ("iris", tensor(datatype=None), "inputs[0] ('input'): unknown datatype None;"),
    ("iris", tensor(name=[]), 'inputs[0]: "name" must be a string, got [].'),
    ("iris", tensor(name={"a": 1}), "inputs[0]: \"name\" must be a string, got {'a': 1}."),
    ("iris", tensor(shape={"a": 1}), '"shape" must be a list of non-negative integers'),
    ("iris", tensor(shape=[[1], [4]]), '"shape" must be a list of non-negative integers'),
    ("iris", tensor(parameters=[]), "inputs[0] ('input'): \"parameters\" must be an object"),
    ("iris", {**tensor(), "parameters": []}, 'request: "parameters" must be an object, got [].'),
    (
        "iris",
        {**tensor(), "parameters": {"binary_data_output": []}},
        "request: parameter 'binary_data_output' must be true or false, got [].",
    ),
    ("iris", {**tensor(), "outputs": [{"name": []}]}, '"outputs" must be a list of {"name": ...}'),
    ("iris", {**tensor(), "outputs": {"name": "x"}}, '"outputs" must be a list of {"name": ...}'),
    (
        "iris",
        {**tensor(), "outputs": [{"name": "predictions", "parameters": []}]},
        "outputs[0] ('predictions'): \"parameters\" must be an object, got [].",
    ),
    (
        "iris",
        {**tensor(), "outputs": [{"name": "predictions", "parameters": {"binary_data": {}}}]},
        "outputs[0] ('predictions'): parameter 'binary_data' must be true or false, got {}.",
    ),
    *[
        (
            "iris",
            {
                **tensor(),
                "outputs": [{"name": "probabilities", "parameters": {"classification": bad}}],
            },
            "outputs[0] ('probabilities'): classification must be a whole number of classes, "
            f"got {bad_text}.",
        )
        for bad, bad_text in [([], "[]"), ("2", "'2'"), (True, "True"), (-1, "-1"), (1.5, "1.5")]
    ],
    *[
        ("iris", {**tensor(), "id": bad}, f'"id" must be a string, got {bad_text};')
        for bad, bad_text in [(7, "7"), ([], "[]"), ({"a": 1}, "{'a': 1}")]
    ],
    # An id is remembered for feedback (100,000 of them): its length is bounded.
    ("iris", {**tensor(), "id": "x" * 257}, '"id" must be at most 256 characters, got 257'),
    ("iris", {"inputs": {"name": "input"}}, '"inputs" must be a non-empty list'),
    ("iris", {"inputs": [[]]}, '"inputs" must be a non-empty list'),
    ("frame", {"inputs": [{**ISSUE_BODY["inputs"][0], "datatype": []}]}, "unknown datatype []"),
    # Names the model does not take, and inputs given twice (Triton and MLServer refuse them).
    (
        "iris",
        tensor(name="x"),
        "Unknown input 'x'; model 'iris:1' takes one input named 'input' "
        "(4 features of float64). See GET /v2/models/NAME for its inputs.",
    ),
    (
        "reviews",
        {"inputs": [{"name": "input", "shape": [1], "datatype": "BYTES", "data": ["great"]}]},
        "Unknown input 'input'; model 'reviews:1' takes one input named 'text'",
    ),
    (
        "frame",
        {"inputs": [*ISSUE_BODY["inputs"], {**ISSUE_BODY["inputs"][0], "name": "zip"}]},
        "Unknown input(s) 'zip'; model 'frame:1' expects 3 columns (age, income, city), "
        "one input per column.",
    ),
    (
        "iris",
        {"inputs": [IRIS_ROW, IRIS_ROW]},
        "inputs[1]: input 'input' is given twice; send each input once.",
    ),
    (
        "frame",
        {"inputs": [*ISSUE_BODY["inputs"], ISSUE_BODY["inputs"][2]]},
        "inputs[3]: input 'city' is given twice; send each input once.",
    ),
    (
        "iris",
        {**tensor(), "outputs": [{"name": "predictions"}, {"name": "predictions"}]},
        "outputs[1] ('predictions'): output 'predictions' is requested twice; ask for it once.",
    ),
    # Column datatypes that do not match the model's columns.
    (
        "frame",
        {
            "inputs": [
                *ISSUE_BODY["inputs"][1:],
                {**ISSUE_BODY["inputs"][0], "datatype": "BYTES", "data": ["30"]},
            ]
        },
        "input 'age': model 'frame:1' takes numbers (int64) in column 'age', got BYTES.",
    ),
    (
        "frame",
        {
            "inputs": [
                *ISSUE_BODY["inputs"][:2],
                {**ISSUE_BODY["inputs"][2], "datatype": "FP64", "data": [1.0]},
            ]
        },
        "input 'city': model 'frame:1' takes text in column 'city'; send it as datatype BYTES.",
    ),
    (
        "frame",
        {"inputs": [*ISSUE_BODY["inputs"][:2], {**ISSUE_BODY["inputs"][2], "data": [3]}]},
        "inputs[2] ('city'): datatype BYTES takes strings, got values of type int.",
    ),
    # Shapes that do not fit the declared dims, batch dimension included (Triton refuses them).
    (
        "iris",
        tensor(shape=[4]),
        "Input 'input' has shape [4], but model 'iris:1' declares [-1, 4] for it (-1 is the "
        "batch dimension, any size). Send shape [1, 4] for one row; see GET /v2/models/NAME "
        "for every input's shape.",
    ),
    (
        "iris",
        tensor(shape=[1, 1, 4]),
        "Input 'input' has shape [1, 1, 4], but model 'iris:1' declares [-1, 4] for it",
    ),
    (
        "frame",
        {"inputs": [*ISSUE_BODY["inputs"][1:], {**ISSUE_BODY["inputs"][0], "shape": [1, 1, 1]}]},
        "Input 'age' has shape [1, 1, 1], but model 'frame:1' declares [-1] for it (-1 is the "
        "batch dimension, any size). Send shape [1] for one row;",
    ),
    (
        "reviews",
        {"inputs": [{"name": "text", "shape": [], "datatype": "BYTES", "data": "great"}]},
        "Input 'text' has shape [], but model 'reviews:1' declares [-1] for it",
    ),
    # BOOL takes JSON booleans only; numpy would have read these as the strings "True", "1".
    (
        "iris",
        tensor(shape=[1, 3], datatype="BOOL", data=[True, 1, "x"]),
        "inputs[0] ('input'): datatype BOOL takes JSON true or false, got 2 value(s) of type "
        "number, string (such as 1) among 3. Send each value as true or false, or declare "
        "the datatype the values have.",
    ),
    (
        "frame",
        {**ISSUE_BODY, "outputs": [{"name": "predictions", "parameters": {"classification": 2}}]},
        "Output 'predictions' is BYTES: classification ranks numbers, such as a model's "
        "probabilities. Ask for it without class_count.",
    ),
]


@pytest.mark.parametrize(("model", "body", "message"), REFUSED)
def test_refused_requests_get_a_400_that_says_why(server, model, body, message):
    with server.client() as c:
        r = c.post(f"/v2/models/{model}/infer", json=body)
        assert r.status_code == 400, r.text
        assert message in r.json()["error"]
        assert c.post("/v2/models/iris/infer", json=tensor()).status_code == 200


BLOB = np.asarray([[5.1, 3.5, 1.4, 0.2]], dtype="<f8").tobytes()
BINARY_INPUT = {**IRIS_ROW, "parameters": {"binary_data_size": len(BLOB)}}
del BINARY_INPUT["data"]


@pytest.mark.parametrize(
    ("header", "blob", "message"),
    [
        (
            {"inputs": [BINARY_INPUT]},
            BLOB + b"xyz",
            "The body has 3 bytes after the binary tensors (whose binary_data_size values "
            "add up to 32); send exactly the tensors' bytes.",
        ),
        (
            {"inputs": [IRIS_ROW]},
            b"\0" * 8,
            "The body has 8 bytes after the binary tensors (whose binary_data_size values "
            "add up to 0)",
        ),
        (
            {"inputs": [{**BINARY_INPUT, "data": [1, 2, 3, 4]}]},
            BLOB,
            "inputs[0] ('input'): has both \"data\" and a binary_data_size; send its values "
            "one way.",
        ),
        (
            {"inputs": [{**BINARY_INPUT, "parameters": {"binary_data_size": []}}]},
            BLOB,
            "inputs[0] ('input'): binary_data_size must be a non-negative integer, got [].",
        ),
        (
            {"inputs": [{**BINARY_INPUT, "parameters": {"binary_data_size": True}}]},
            BLOB,
            "binary_data_size must be a non-negative integer, got True.",
        ),
    ],
)
def test_binary_bodies_must_hold_exactly_the_tensors(server, header, blob, message):
    content, headers = with_binary(header, blob)
    with server.client() as c:
        r = c.post("/v2/models/iris/infer", content=content, headers=headers)
        assert r.status_code == 400, r.text
        assert message in r.json()["error"]
        ok, headers = with_binary({"inputs": [BINARY_INPUT]}, BLOB)
        assert c.post("/v2/models/iris/infer", content=ok, headers=headers).status_code == 200


@pytest.mark.parametrize(
    ("length", "message"),
    [
        (
            "abc",
            "Inference-Header-Content-Length must be the byte length of the JSON header at the "
            "start of the body, a whole number from 0 to 140 (the body's size); got 'abc'. "
            "Send the header's length in bytes, or leave the header out for a body that is "
            "all JSON.",
        ),
        ("-5", "a whole number from 0 to 140 (the body's size); got '-5'."),
        (
            "141",
            "Inference-Header-Content-Length is 141, but the body has only 140 bytes. Send the "
            "byte length of the JSON header at the start of the body (at most 140), with the "
            "binary tensors after it.",
        ),
    ],
)
def test_a_bad_header_length_is_explained(server, length, message):
    content, headers = with_binary({"inputs": [BINARY_INPUT]}, BLOB)
    assert len(content) == 140
    with server.client() as c:
        r = c.post(
            "/v2/models/iris/infer",
            content=content,
            headers={**headers, "Inference-Header-Content-Length": length},
        )
    assert r.status_code == 400, r.text
    assert message in r.json()["error"]


def test_a_string_id_is_echoed(server):
    with server.client() as c:
        out = c.post("/v2/models/iris/infer", json={**tensor(), "id": "42"}).json()
    assert out["id"] == "42"


def test_a_version_without_a_signature_takes_its_one_input_under_any_name(server, text_pipeline):
    body = {"inputs": [{"name": "anything", "shape": [1], "datatype": "BYTES", "data": ["great"]}]}
    with server.client() as c:
        assert c.get("/v2/models/notes").json()["inputs"] == []
        r = c.post("/v2/models/notes/infer", json=body)
        assert r.status_code == 200, r.text
        assert r.json()["outputs"][0]["data"] == text_pipeline.predict(["great"]).tolist()
        twice = c.post("/v2/models/notes/infer", json={"inputs": body["inputs"] * 2})
    assert twice.status_code == 400
    assert (
        twice.json()["error"] == "inputs[1]: input 'anything' is given twice; send each input once."
    )


FEEDBACK_SHAPE = 'Send {"feedback": [{"id": "<request id>", "truth": <label or number>}, ...]}'
BAD_FEEDBACK = [
    (b"{", 400, "Malformed JSON in the feedback body"),
    (b"[1]", 400, "The feedback body must be a JSON object, got list."),
    (
        b"{}",
        422,
        f"A feedback body needs 'feedback' (or 'ids' and 'truth'); got keys none. {FEEDBACK_SHAPE}",
    ),
    (b'{"feedback": {"id": "a"}}', 422, "'feedback' must be a list, got {'id': 'a'}."),
    (b'{"feedback": []}', 422, "The feedback body holds no rows."),
    (
        b'{"feedback": [{"id": "a"}]}',
        422,
        "feedback[0] must be an object with 'id' and 'truth', got {'id': 'a'}.",
    ),
    (
        b'{"feedback": [{"id": 7, "truth": 1}]}',
        422,
        "feedback[0].id must be a request id: a string of 1 to 256",
    ),
    (
        b'{"feedback": [{"id": "a", "truth": null}]}',
        422,
        "feedback[0].truth must be a label or a finite number",
    ),
    (b'{"feedback": [{"id": "a", "truth": {"x": 1}}]}', 422, "got {'x': 1}."),
    (
        b'{"ids": ["a", "b"], "truth": [1]}',
        422,
        "'ids' and 'truth' must be lists of the same length, got 2 ids and 1 truths.",
    ),
    (b'{"ids": "a", "truth": [1]}', 422, "got a str, not a list of ids and 1 truths."),
    (b'{"ids": ["a"], "truth": [[]]}', 422, "truth[0] must be a label or a finite number"),
    # Truths no float holds (a 500 once, after earlier ids were joined), and long ids.
    *[
        (
            b'{"ids": ["a", "b"], "truth": [1, ' + bad + b"]}",
            422,
            "truth[1] must be a label or a finite number",
        )
        for bad in (b"1" + b"0" * 400, b"NaN", b"-Infinity", b"1e400", b"9007199254740993")
    ],
    (b'{"ids": ["' + b"a" * 257 + b'"], "truth": [1]}', 422, "a string of 1 to 256 characters"),
]


@pytest.mark.parametrize(("body", "status", "message"), BAD_FEEDBACK)
def test_bad_feedback_gets_a_400_or_422_that_says_why(server, body, status, message):
    headers = {"Content-Type": "application/json"}
    with server.client() as c:
        r = c.post("/v2/models/iris/feedback", content=body, headers=headers)
        assert r.status_code == status, r.text
        assert message in r.json()["error"]
        assert c.post("/v2/models/iris/infer", json=tensor()).status_code == 200


def test_feedback_for_an_unknown_or_single_version_deployment_says_what_to_do(server):
    body = {"feedback": [{"id": "a", "truth": 1}]}
    with server.client() as c:
        r = c.post("/v2/models/nope/feedback", json=body)
        assert r.status_code == 404 and "No deployment named 'nope'; deployed:" in r.json()["error"]
        r = c.post("/v2/models/iris/feedback", json=body)
        assert r.status_code == 409, r.text
        assert r.json()["error"].startswith(
            "Deployment 'iris' runs no experiment, so no answers were kept to join feedback to"
        )
        assert "maas traffic iris production=90 candidate=10" in r.json()["error"]
        r = c.get("/maas/experiments/nope")
        assert r.status_code == 404 and "No deployment named 'nope'" in r.json()["error"]
        summary = c.get("/maas/experiments/iris").json()
        assert summary["enough"] is False and "there is nothing to compare" in summary["warning"]
