"""An OIP inference request in the model's terms: its inputs as `Rows`, its wanted outputs.

Decoding is pure and synchronous (it may run on a worker thread). What Triton and MLServer
refuse is refused here too: an input name the model does not take, an input given twice,
an input whose shape does not fit the dimensions the model declares (its batch dimension,
-1, fits any size), bytes after the binary tensors, a non-string ``id``. A column or text
input declared ``[-1]`` may also come as ``[N, 1]``, the shape MLServer's own pandas and
string codecs send. A version registered without a signature publishes no input names
or dimensions, so its one input may have any name and shape.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, cast

import numpy as np

from ..flavors.signature import DATAFRAME, TEXT, Signature, TensorSpec
from .decode import implicit_signature
from .errors import BadRequest
from .oip_tensors import datatype, flag, parameters, read_tensor, shown
from .requests import VERSION, parse_json
from .rows import Rows, column_rows, tensor_rows, text_rows
from .strings import is_compact

#: The longest request id taken (the server remembers up to 100,000 of them for feedback).
MAX_ID_CHARS = 256


@dataclass(frozen=True)
class Wanted:
    """One output to return: as binary data or JSON, and as its top classes if asked."""

    name: str
    binary: bool
    class_count: int = 0


@dataclass(frozen=True)
class Request:
    """What the response needs from the request besides the model's outputs."""

    id: str | None
    outputs: list[Wanted] | None  # None: every output, with the default encoding
    binary_default: bool


def split(body: bytes | bytearray, header_length: str | None) -> tuple[dict[str, Any], memoryview]:
    """The JSON header and the binary tensor bytes after it."""
    if header_length is None:
        # An inflated body is a bytearray, which json.loads reads as it reads bytes; a
        # bytes() copy would double the memory a compressed request costs.
        return parse_json(cast(bytes, body)), memoryview(b"")
    if not VERSION.fullmatch(header_length):
        raise BadRequest(
            f"Inference-Header-Content-Length must be the byte length of the JSON header at "
            f"the start of the body, a whole number from 0 to {len(body)} (the body's size); "
            f"got {header_length[:40]!r}. Send the header's length in bytes, or leave the "
            "header out for a body that is all JSON."
        )
    n = int(header_length)
    if n > len(body):
        raise BadRequest(
            f"Inference-Header-Content-Length is {n}, but the body has only {len(body)} bytes. "
            "Send the byte length of the JSON header at the start of the body (at most "
            f"{len(body)}), with the binary tensors after it."
        )
    return parse_json(bytes(body[:n]), what="inference header"), memoryview(body)[n:]


def decode_request(
    body: bytes,
    signature: Signature | None,
    model: str,
    *,
    header_length: str | None,
) -> tuple[Rows, Request]:
    """Rows for the model and the request's answer options, from a whole request body."""
    payload, binary = split(body, header_length)
    rows = decode_inputs(payload, binary, signature, model=model)
    request = read_request(payload, signature.outputs if signature is not None else None)
    return rows, request


def read_request(payload: dict[str, Any], outputs: tuple[TensorSpec, ...] | None) -> Request:
    """The request's ``id`` and wanted outputs, checked against *outputs* when known."""
    request_id = payload.get("id")
    if request_id is not None and not isinstance(request_id, str):
        raise BadRequest(
            f'"id" must be a string, got {shown(request_id)}; '
            "the Open Inference Protocol echoes a string request id."
        )
    if request_id is not None and len(request_id) > MAX_ID_CHARS:
        raise BadRequest(
            f'"id" must be at most {MAX_ID_CHARS} characters, got {len(request_id)} '
            f"({shown(request_id)}); send a shorter request id (a UUID is 36 characters)."
        )
    binary_default = flag(
        parameters(payload, where="request"), "binary_data_output", False, where="request"
    )
    requested = payload.get("outputs")
    if requested is None:
        return Request(request_id, None, binary_default)
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise BadRequest('"outputs" must be a list of {"name": ...} objects.')
    wanted: list[Wanted] = []
    seen: set[str] = set()
    for i, o in enumerate(requested):
        name, where = o["name"], f"outputs[{i}] ({o['name']!r})"
        if outputs is not None and name not in [s.name for s in outputs]:
            known = ", ".join(s.name for s in outputs)
            raise BadRequest(f"Unknown output {name!r}; this model returns {known}.")
        if name in seen:
            raise BadRequest(f"{where}: output {name!r} is requested twice; ask for it once.")
        seen.add(name)
        params = parameters(o, where=where)
        count = params.get("classification", 0)
        if not isinstance(count, int) or isinstance(count, bool) or count < 0:
            raise BadRequest(
                f"{where}: classification must be a whole number of classes, got {shown(count)}."
            )
        spec = next((s for s in outputs or () if s.name == name), None)
        if count and spec is not None and spec.dtype in ("str", "bool"):
            raise BadRequest(classification_refused(name, spec.dtype))
        wanted.append(Wanted(name, flag(params, "binary_data", binary_default, where=where), count))
    return Request(request_id, wanted, binary_default)


def classification_refused(name: str, dtype: str) -> str:
    """Why output *name* of numpy dtype *dtype* (not a number) cannot be classified."""
    return (
        f"Output {name!r} is {datatype(dtype)}: classification ranks numbers, such as a model's "
        "probabilities. Ask for it without class_count."
    )


def decode_inputs(
    payload: dict[str, Any], binary: memoryview, signature: Signature | None, *, model: str
) -> Rows:
    """The request's inputs as rows of the model's kind."""
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
        raise BadRequest(
            '"inputs" must be a non-empty list of {"name", "shape", "datatype", "data"} objects.'
        )
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for i, tensor in enumerate(inputs):
        name, array, used = read_tensor(tensor, binary[offset:], where=f"inputs[{i}]", model=model)
        if name in tensors:
            raise BadRequest(f"inputs[{i}]: input {name!r} is given twice; send each input once.")
        offset += used
        tensors[name] = array
    if offset != len(binary):
        raise BadRequest(
            f"The body has {len(binary) - offset} bytes after the binary tensors (whose "
            f"binary_data_size values add up to {offset}); send exactly the tensors' bytes."
        )
    declared = signature is not None  # a version without one declares no dims to fit
    if signature is None:
        first = next(iter(tensors.values()))
        signature = implicit_signature(
            first
            if is_compact(first)
            else first.tolist()
            if first.ndim > 1 or first.dtype == object
            else [first.tolist()]
        )
    elif signature.kind == DATAFRAME:
        _check_names(tensors, signature, model=model)
        return _frame_rows(tensors, signature, model=model)
    else:
        _check_names(tensors, signature, model=model)
    if len(tensors) != 1:
        names = ", ".join(s.name for s in signature.inputs)
        raise BadRequest(
            f"Model {model!r} takes one input ({names}), got {len(tensors)}: {', '.join(tensors)}."
        )
    ((name, array),) = tensors.items()
    where = f"input {name!r}"
    # Triton's order: the datatype is checked before the shape.
    if signature.kind == TEXT:
        if not _is_bytes(array):
            raise BadRequest(f"{where}: model {model!r} takes text; send it as datatype BYTES.")
        if declared:
            check_shape(name, array.shape, signature.inputs[0].shape, model=model)
        if is_compact(array):
            return text_rows(array.reshape(-1), model=model, where=where)
        return text_rows(array.reshape(-1).tolist(), model=model, where=where)
    if _is_bytes(array):
        raise BadRequest(
            f"{where}: model {model!r} takes numbers ({signature.describe_inputs()}), got BYTES."
        )
    if declared:
        check_shape(name, array.shape, signature.inputs[0].shape, model=model)
    return tensor_rows(array, signature, model=model, where=where)


def _is_bytes(array: np.ndarray) -> bool:
    """Whether *array* holds a BYTES tensor's strings (object, or compact when big)."""
    return array.dtype == object or is_compact(array)


def _check_names(tensors: dict[str, np.ndarray], signature: Signature, *, model: str) -> None:
    """Refuse an input the model does not take."""
    specs = {s.name: s for s in signature.inputs}
    unknown = [n for n in tensors if n not in specs]
    if unknown and signature.kind == DATAFRAME:
        raise BadRequest(
            f"Unknown input(s) {', '.join(map(repr, unknown))}; model {model!r} expects "
            f"{signature.describe_inputs()}, one input per column."
        )
    if unknown:
        raise BadRequest(
            f"Unknown input {unknown[0]!r}; model {model!r} takes one input named "
            f"{signature.inputs[0].name!r} ({signature.describe_inputs()}). "
            "See GET /v2/models/NAME for its inputs."
        )


def check_shape(name: str, shape: tuple[int, ...], dims: tuple[int, ...], *, model: str) -> None:
    """Refuse *shape* unless it fits *dims* (-1 fits any size), as Triton does."""
    fits = len(shape) == len(dims) and all(d in (-1, s) for s, d in zip(shape, dims, strict=False))
    if fits or (dims == (-1,) and len(shape) == 2 and shape[1] == 1):
        return
    one = [1 if d == -1 else d for d in dims]
    raise BadRequest(
        f"Input {name!r} has shape {list(shape)}, but model {model!r} declares {list(dims)} "
        f"for it (-1 is the batch dimension, any size). Send shape {one} for one row; "
        "see GET /v2/models/NAME for every input's shape."
    )


def _frame_rows(tensors: dict[str, np.ndarray], signature: Signature, *, model: str) -> Rows:
    """One input per column: BYTES columns as strings, numbers as the signature's dtypes."""
    columns: dict[str, Any] = {}
    for spec in signature.inputs:
        if spec.name not in tensors:
            continue  # column_rows names every missing column
        array = tensors[spec.name]
        where = f"input {spec.name!r}"
        if spec.dtype == "str":
            if not _is_bytes(array):
                raise BadRequest(
                    f"{where}: model {model!r} takes text in column {spec.name!r}; "
                    "send it as datatype BYTES."
                )
            check_shape(spec.name, array.shape, spec.shape, model=model)
            columns[spec.name] = array.reshape(-1).tolist()
        elif _is_bytes(array):
            raise BadRequest(
                f"{where}: model {model!r} takes numbers ({spec.dtype}) in column "
                f"{spec.name!r}, got BYTES."
            )
        else:
            check_shape(spec.name, array.shape, spec.shape, model=model)
            columns[spec.name] = array
    return column_rows(columns, signature, model=model, where="inputs")
