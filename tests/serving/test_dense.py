"""Big JSON arrays of numbers parsed straight into numpy: the same values as json + numpy."""

from __future__ import annotations

import json

import numpy as np
import pytest

from maas_nb.serving import scan
from maas_nb.serving.errors import BadRequest
from maas_nb.serving.requests import parse_json

RNG = np.random.default_rng(0)
ROWS = b"[1, 2], " * 20_000  # 160 KB of rows: past dense.MIN_ARRAY


def same(parsed, reference) -> int:
    """Assert *parsed* equals *reference* with arrays for lists; return how many arrays."""
    if isinstance(parsed, np.ndarray):
        expected = np.asarray(reference)
        assert (parsed.dtype, parsed.shape) == (expected.dtype, expected.shape)
        np.testing.assert_array_equal(parsed, expected)
        return 1
    if isinstance(parsed, dict):
        assert parsed.keys() == reference.keys()
        return sum(same(parsed[k], reference[k]) for k in reference)
    if isinstance(parsed, list):
        assert len(parsed) == len(reference)
        return sum(same(p, r) for p, r in zip(parsed, reference, strict=True))
    assert parsed == reference
    return 0


@pytest.mark.parametrize(
    ("payload", "arrays"),
    [
        ({"instances": RNG.random((20_000, 4)).tolist()}, 1),
        ({"instances": RNG.integers(-9, 9, (20_000, 4)).tolist(), "x": "a [1, 2] b"}, 1),
        ({"instances": [*RNG.integers(-9, 9, (20_000, 4)).tolist(), [1.5, 2, 3, 4]]}, 1),
        ({"instances": [[]] * 100_000}, 1),
        ({"instances": [[1e-300, -1e300, -0.0, 0, 2**62]] * 10_000}, 1),
        ({"instances": RNG.random((5_000, 3, 4)).tolist()}, 1),
        (
            {
                "inputs": [
                    {
                        "name": "i",
                        "shape": [40_000],
                        "datatype": "FP64",
                        "data": RNG.random(40_000).tolist(),
                    }
                ],
                "id": "x",
            },
            1,
        ),
        ({"a": RNG.random(20_000).tolist(), "b": {"c": RNG.random((10_000, 2)).tolist()}}, 2),
        ({"instances": RNG.random((100, 4)).tolist()}, 0),  # small: left to json
    ],
)
@pytest.mark.parametrize("indent", [None, 1])
def test_arrays_equal_what_json_and_numpy_give(payload, arrays, indent):
    body = json.dumps(payload, indent=indent).encode()
    parsed = scan.loads(body)
    if arrays == 0:
        assert parsed is None
        return
    assert same(parsed, json.loads(body)) == arrays
    assert same(scan.loads(bytearray(body)), json.loads(body)) == arrays


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [' + ROWS + b"[1]]}",  # ragged
        b'{"instances": [' + b"[], " * 40_000 + b"[1]]}",  # ragged after empty rows
        b'{"instances": [' + ROWS + b"[1, 2],]}",  # trailing comma
        b'{"instances": [' + ROWS + b"[1 2]]}",  # no comma between numbers
        b'{"instances": [' + ROWS + b"[1,, 2]]}",
        b'{"instances": [' + ROWS + b"[01, 2]]}",  # leading zero
        b'{"instances": [' + ROWS + b"[1., 2]]}",
        b'{"instances": [' + ROWS + b"[+1, 2]]}",
        b'{"instances": [' + ROWS + b"[1, 2][3, 4]]}",
        b'{"instances": [' + ROWS + b"1, [3, 4]]}",
        b'{"instances": [' + ROWS + b"[1, 2e]]}",
        b'{"instances": [' + ROWS + b"[1, 2]] x}",  # broken after the array
        b'{"instances": [' + ROWS + b"[18446744073709551616, 2]]}",  # beyond 64 bits
        b'{"instances": [' + ROWS + b"[9223372036854775808, 2]]}",  # beyond int64
        b'{"a": "[' + b"1, " * 40_000 + b'1]"}',  # brackets inside a string
        b'["' + b"1, " * 40_000 + b'1]"]',
        b"[" + ROWS + b"[1, 2]]",  # not an object
    ],
    ids=range(17).__iter__(),
)
def test_anything_unexpected_falls_back_or_equals_json(body):
    """Malformed bodies and bodies orjson reads differently fall back to the standard
    parser; ragged rows are parsed as the lists json gives."""
    parsed = scan.loads(body)
    try:
        reference = json.loads(body)
    except json.JSONDecodeError:
        assert parsed is None
        return
    if b"18446744073709551616" in body or b"9223372036854775808" in body or body[:1] == b"[":
        assert parsed is None
    elif parsed is not None:
        same(parsed, reference)


@pytest.mark.parametrize(
    "body",
    [
        b'{"instances": [' + ROWS + b"[1, 2],]}",
        b'{"instances": [' + ROWS + b"[1, 2]] x}",
        b'{"instances": [' + ROWS + b"[01, 2]]}",
    ],
)
def test_big_malformed_bodies_get_the_standard_message(body):
    try:
        json.loads(body)
    except json.JSONDecodeError as exc:
        expected = f"Malformed JSON in the request body: {exc.msg} at line {exc.lineno} column {exc.colno}."
    with pytest.raises(BadRequest) as info:
        parse_json(body)
    assert info.value.message == expected


def test_big_bodies_parse_to_arrays_and_keep_the_object_check():
    body = json.dumps({"instances": [[0.5, 1]] * 20_000}).encode()
    rows = parse_json(bytearray(body))["instances"]
    assert isinstance(rows, np.ndarray)
    assert rows.shape == (20_000, 2)
    with pytest.raises(BadRequest) as info:
        parse_json(b"[" + ROWS + b"[1, 2]]")
    assert info.value.message == "The request body must be a JSON object, got list."


def test_deep_brackets_are_left_to_the_standard_parser():
    """orjson before 3.9.15 crashed the server on deep brackets (CVE-2024-27454): a body
    deeper than any tensor never reaches it."""
    depth = 150_000
    body = b'{"instances": ' + b"[" * depth + b"]" * depth + b"}"
    assert scan.loads(body) is None


def test_deep_brackets_get_a_clear_400(shared_iris_server):
    depth = 150_000
    body = b'{"instances": ' + b"[" * depth + b"]" * depth + b"}"
    with shared_iris_server.client() as client:
        for path in ("/v1/models/iris:predict", "/models/iris/invocations"):
            answer = client.post(path, content=body, headers={"Content-Type": "application/json"})
            assert answer.status_code == 400
            assert "nested too deeply" in answer.text
        assert client.get("/v2/health/live").status_code == 200
