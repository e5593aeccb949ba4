"""Big JSON arrays of any kind parsed piecewise: the same values and messages as json."""

from __future__ import annotations

import json

import numpy as np
import pytest

from maas_nb.flavors.signature import DATAFRAME, TENSOR, TEXT, Signature, TensorSpec
from maas_nb.serving import scan, stdjson
from maas_nb.serving.decode import rows_from
from maas_nb.serving.decoding import MAX_BODY
from maas_nb.serving.errors import BadRequest, PayloadTooLarge
from maas_nb.serving.records import Records
from maas_nb.serving.requests import parse_json

N = 20_000


def plain(value):
    """*value* with compact arrays and records as the lists json gives."""
    if isinstance(value, Records):
        return value.to_list()
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def keys(value) -> list:
    """Every object's keys in order, depth first."""
    if isinstance(value, dict):
        return [list(value), *[keys(v) for v in value.values()]]
    if isinstance(value, list):
        return [keys(v) for v in value if isinstance(v, (dict, list))]
    return []


PAYLOADS = {
    "strings": {"instances": ["a"] * 4 * N},
    "escapes": {"instances": ['a"b\\', '\\\\"', 'x\\"', "[{,}]", "\u2028\x7f"] * N},
    "unicode": {"instances": ["é€😀", "日本語"] * N},
    "records": {"dataframe_records": [{"a": 1, "b": 2.5, "c": "x"}] * N},
    "records, int then float": {"dataframe_records": [{"a": 1}] * N + [{"a": 0.5}]},
    "records, keys reordered": {"dataframe_records": [{"a": 1, "b": 2}] * N + [{"b": 2, "a": 1}]},
    "records, other keys": {"dataframe_records": [{"a": 1}] * N + [{"b": 1}]},
    "records, a null": {"dataframe_records": [{"a": 1}] * N + [{"a": None}]},
    "mixed": {"instances": [1, "a", None, True, {"k": [1, "]"]}, [], "[", "{"] * N},
    "nested": {"a": {"b": [["x", 1]] * N}, "c": [{"d": ["y"] * N}]},
    "OIP": {
        "inputs": [
            {"name": "t", "datatype": "BYTES", "shape": [N], "data": ["hello"] * N},
            {"name": "n", "datatype": "FP64", "shape": [N], "data": [0.000123456789012345] * N},
        ],
        "id": "q",
    },
    "ragged": {"instances": [[1, 2], [3]] * N},
    "long strings": {"instances": ["x" * 1000] * 100},
}


@pytest.mark.parametrize("indent", [None, 2])
@pytest.mark.parametrize("name", PAYLOADS)
def test_big_arrays_equal_what_json_gives(name, indent):
    body = json.dumps(PAYLOADS[name], indent=indent, ensure_ascii=False).encode()
    parsed = scan.loads(bytearray(body))
    assert parsed is not None
    reference = json.loads(body)
    assert plain(parsed) == reference
    assert keys(plain(parsed)) == keys(reference)  # in order, which == on dicts ignores


def test_strings_and_records_are_kept_compact():
    parsed = scan.loads(json.dumps(PAYLOADS["strings"]).encode())
    assert parsed["instances"].dtype == np.dtypes.StringDType()
    parsed = scan.loads(json.dumps(PAYLOADS["records"]).encode())
    records = parsed["dataframe_records"]
    assert isinstance(records, Records)
    assert [records.columns[k].dtype.kind for k in "abc"] == ["i", "f", "T"]


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": [' + b'"x", ' * N + b"10000000000000000000]}",  # orjson: a float
        b'{"a": [' + b'"x", ' * N + b"NaN]}",
        b'{"a": [' + b'"x", ' * N + b'"\\ud800"]}',  # a lone surrogate
        b'{"a": [' + b'"x", ' * N + b'"x",]}',
        b'{"a": [' + b'"x", ' * N + b'"x"] x}',
        b'{"a": [' + b'"x", ' * N + b'"x\\"]}',
        b'{"a": [' + b'"x", ' * N + b'"x"}}',
        b'{"a": [' + b'"x", ' * N + b'"\x01"]}',
        b'["' + b"x, " * N + b'"]',
    ],
    ids=range(9).__iter__(),
)
def test_what_orjson_reads_otherwise_falls_back(body):
    assert scan.loads(body) is None


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": [' + b'"x", ' * N + b'"x",]}',
        b'{"a": [' + b'"x", ' * N + b'"x"] x}',
        b'{"a": [' + b'"x", ' * N + b'"x\\q"]}',
        b'{"a": [' + b'"x", ' * N + b'"\x01"]}',
        b'{"a": [' + b'"x", ' * N + b'"x"}',
        b'{"a": [' + b'{"k": 1}, ' * N + b'{"k" 1}]}',
        b'{"a": [' + b'"x" ' * N + b"]}",
    ],
    ids=range(7).__iter__(),
)
def test_big_malformed_bodies_get_the_standard_message(body):
    with pytest.raises(json.JSONDecodeError) as reference:
        json.loads(body)
    exc = reference.value
    with pytest.raises(BadRequest) as info:
        parse_json(body)
    assert info.value.message == (
        f"Malformed JSON in the request body: {exc.msg} at line {exc.lineno} column {exc.colno}."
    )


@pytest.mark.parametrize(
    "body",
    [
        b'{"a": [' + b'"x", ' * N + b"10000000000000000000, NaN, -Infinity]}",
        b'{"a": [' + b'"x", ' * N + b'"\\ud800"], "b": {"c": [1.5, {"d": null}]}}',
        b'{"a": ' + b"[" * 400 + b"]" * 400 + b"}",
        b'{"a": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ],
    ids=range(4).__iter__(),
)
def test_the_yielding_fallback_equals_json(body):
    try:
        expected = json.loads(body)
    except RecursionError:
        with pytest.raises(RecursionError):
            stdjson.loads(body)
        return
    assert repr(stdjson.loads(body)) == repr(expected)


def test_strings_past_twice_the_body_limit_are_refused_before_they_are_made():
    body = json.dumps({"instances": ["ab"] * 300_000}).encode()
    token = MAX_BODY.set(2 * 1024 * 1024)
    try:
        with pytest.raises(PayloadTooLarge) as info:
            scan.loads(body)
    finally:
        MAX_BODY.reset(token)
    assert info.value.message == (
        "The request holds 300000 strings in one array: decoded they take at least 4.6 MiB "
        "besides the body's 1.7 MiB, over the 4 MiB this server allows one request (twice its "
        "--max-body). Send at most about 190649 such strings per request, or start the server "
        "with a larger --max-body."
    )
    assert scan.loads(body)["instances"].shape == (300_000,)  # within 2 x 16 MiB


TENSOR_SIG = Signature(TENSOR, (TensorSpec("input", "float64", (-1, 2)),), ())
TEXT_SIG = Signature(TEXT, (TensorSpec("text", "str", (-1,)),), ())
FRAME_SIG = Signature(
    DATAFRAME, (TensorSpec("a", "int64", (-1,)), TensorSpec("c", "str", (-1,))), ()
)


@pytest.mark.parametrize(
    ("values", "signature"),
    [
        (["a"] * N, TENSOR_SIG),
        (["a"] * N, TEXT_SIG),
        (["a"] * N, FRAME_SIG),
        (["a"] * N, None),
        ([{"a": 1, "c": "x"}] * N, FRAME_SIG),
        ([{"a": 1.5, "c": "x"}] * N, FRAME_SIG),
        ([{"c": "x", "a": 1, "e": 2}] * N, FRAME_SIG),
        ([{"a": 1}] * N, FRAME_SIG),
        ([{"a": "x", "c": 1}] * N, FRAME_SIG),
        ([{"a": 1, "b": 2}] * N, TENSOR_SIG),
        ([{"a": 1, "b": "x"}] * N, TENSOR_SIG),
        ([{"text": "hello"}] * N, TEXT_SIG),
        ([{"other": "hello"}] * N, TEXT_SIG),
        ([{"text": 1}] * N, TEXT_SIG),
        ([{"a": 1}] * N, None),
    ],
    ids=range(15).__iter__(),
)
def test_compact_values_give_the_rows_and_messages_of_lists(values, signature):
    compact = scan.loads(json.dumps({"instances": values}).encode())["instances"]
    assert isinstance(compact, (np.ndarray, Records))

    def rows(given):
        try:
            made = rows_from(given, signature, model="m:1", where="instances")
        except BadRequest as exc:
            return exc.message
        data = made.data if isinstance(made.data, dict) else {"": made.data}
        return made.kind, made.n, {k: (v.tolist(), v.dtype.kind) for k, v in data.items()}

    expected, got = rows(values), rows(compact)
    if isinstance(expected, tuple) and expected[0] == TEXT:  # object str arrays become compact
        assert got[2][""][0] == expected[2][""][0]
    else:
        assert got == expected
