"""OIP tensors on the wire: datatypes, JSON ``data``, and Triton's binary tensor extension.

A binary tensor's bytes follow the JSON header in the body, in the order of the inputs
that declare ``binary_data_size``: numbers little-endian and row-major, BYTES elements
each a little-endian uint32 length followed by that many bytes.
"""

from __future__ import annotations

import math
import reprlib
import struct
from typing import Any

import numpy as np

from . import strings
from .decoding import BIG
from .errors import BadRequest
from .rows import to_array

DATATYPES = {
    "BOOL": "bool",
    "UINT8": "uint8",
    "UINT16": "uint16",
    "UINT32": "uint32",
    "UINT64": "uint64",
    "INT8": "int8",
    "INT16": "int16",
    "INT32": "int32",
    "INT64": "int64",
    "FP16": "float16",
    "FP32": "float32",
    "FP64": "float64",
    "BYTES": "str",
}
_TO_DATATYPE = {v: k for k, v in DATATYPES.items()}
_JSON_TYPES = {int: "number", float: "number", str: "string", dict: "object", type(None): "null"}
MAX_DIMS = 8
_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring = 2, 4, 4, 40


def datatype(dtype: str) -> str:
    """The OIP datatype of a numpy dtype name (strings and objects are BYTES)."""
    return _TO_DATATYPE.get(dtype, "BYTES")


def shown(value: Any) -> str:
    """A received JSON value for an error message, cut short however big or deep it is."""
    return _SHORT.repr(value)


def parameters(holder: dict[str, Any], *, where: str) -> dict[str, Any]:
    """The ``parameters`` object of a request, input or output ({} if absent)."""
    params = holder.get("parameters")
    if params is None:
        return {}
    if not isinstance(params, dict):
        raise BadRequest(f'{where}: "parameters" must be an object, got {shown(params)}.')
    return params


def flag(params: dict[str, Any], key: str, default: bool, *, where: str) -> bool:
    """A boolean parameter such as ``binary_data``; anything but true or false is a 400."""
    value = params.get(key, default)
    if not isinstance(value, bool):
        raise BadRequest(f"{where}: parameter {key!r} must be true or false, got {shown(value)}.")
    return value


def read_tensor(
    tensor: dict[str, Any], binary: memoryview, *, where: str, model: str
) -> tuple[str, np.ndarray, int]:
    """One request input: its name, its values in its declared shape, and the binary bytes
    it used from the front of *binary*."""
    name, shape, dtype_name = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
    if not isinstance(name, str):
        raise BadRequest(f'{where}: "name" must be a string, got {shown(name)}.')
    where = f"{where} ({name!r})"
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMS
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise BadRequest(
            f'{where}: "shape" must be a list of non-negative integers, got {shown(shape)}.'
        )
    # Only strings can name a datatype; a list or object here must not reach a dict lookup.
    if not isinstance(dtype_name, str) or dtype_name not in DATATYPES:
        raise BadRequest(
            f"{where}: unknown datatype {shown(dtype_name)}; use one of {', '.join(DATATYPES)}."
        )
    count = math.prod(shape)
    dtype = DATATYPES[dtype_name]
    size = parameters(tensor, where=where).get("binary_data_size")
    if size is not None:
        if "data" in tensor:
            raise BadRequest(
                f'{where}: has both "data" and a binary_data_size; send its values one way.'
            )
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise BadRequest(
                f"{where}: binary_data_size must be a non-negative integer, got {shown(size)}."
            )
        if size > len(binary):
            raise BadRequest(
                f"{where}: binary_data_size {size} exceeds the {len(binary)} bytes sent."
            )
        array, used = from_binary(binary[:size], dtype, where=where), size
    else:
        if "data" not in tensor:
            raise BadRequest(f'{where}: "data" is missing.')
        data = tensor["data"]
        if strings.is_compact(data):  # a big array of strings (see `scan`)
            flat = data
        else:
            flat = _flatten(data) if isinstance(data, list) else [data]
        array, used = _from_json(flat, dtype, where=where, model=model), 0
    if array.size != count:
        raise BadRequest(f"{where}: shape {shape} needs {count} values, got {array.size}.")
    return name, array.reshape(shape), used


def _from_json(flat: Any, dtype: str, *, where: str, model: str) -> np.ndarray:
    if dtype == "str" and strings.is_compact(flat):
        return flat
    if not len(flat):
        return np.empty(0, dtype=object if dtype == "str" else dtype)
    if dtype == "str":
        if not all(isinstance(v, str) for v in flat):
            kinds = ", ".join(sorted({type(v).__name__ for v in flat}))
            raise BadRequest(f"{where}: datatype BYTES takes strings, got values of type {kinds}.")
        return _objects(flat)
    if dtype == "bool":
        # numpy would read [true, 1, "x"] as the strings "True", "1", "x".
        others = [v for v in flat if not isinstance(v, bool)]
        if others:
            kinds = ", ".join(sorted({_JSON_TYPES.get(type(v), type(v).__name__) for v in others}))
            raise BadRequest(
                f"{where}: datatype BOOL takes JSON true or false, got {len(others)} value(s) of "
                f"type {kinds} (such as {shown(others[0])}) among {len(flat)}. Send each value "
                "as true or false, or declare the datatype the values have."
            )
        return np.asarray(flat, dtype=bool)
    return to_array(flat, dtype, model=model, where=where)


def _flatten(data: list) -> list:
    out: list = []
    stack = [iter(data)]
    while stack:
        for item in stack[-1]:
            if isinstance(item, list):
                stack.append(iter(item))
                break
            out.append(item)
        else:
            stack.pop()
    return out


def _objects(items: list) -> np.ndarray:
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def from_binary(raw: memoryview, dtype: str, *, where: str) -> np.ndarray:
    """Values of *dtype* from the binary tensor extension's encoding."""
    if dtype != "str":
        width = np.dtype(dtype).itemsize
        if len(raw) % width:
            raise BadRequest(f"{where}: {len(raw)} bytes is not a whole number of {dtype} values.")
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    if len(raw) >= BIG:
        return strings.from_binary(raw, where=where)
    items, i = [], 0
    while i < len(raw):
        if i + 4 > len(raw):
            raise BadRequest(f"{where}: truncated BYTES element.")
        (n,) = struct.unpack_from("<I", raw, i)
        chunk = raw[i + 4 : i + 4 + n]
        if len(chunk) != n:
            raise BadRequest(f"{where}: truncated BYTES element.")
        try:
            items.append(str(chunk, "utf-8"))
        except UnicodeDecodeError:
            raise BadRequest(f"{where}: BYTES elements must be UTF-8 text.") from None
        i += 4 + n
    return _objects(items)


def to_binary(value: np.ndarray, kind: str) -> bytes:
    """*value* in the binary tensor extension's encoding for OIP datatype *kind*."""
    if kind != "BYTES":
        return np.ascontiguousarray(
            value, dtype=np.dtype(DATATYPES[kind]).newbyteorder("<")
        ).tobytes()
    parts = []
    for item in value.reshape(-1).tolist():
        data = item if isinstance(item, bytes) else str(item).encode()
        parts.append(struct.pack("<I", len(data)) + data)
    return b"".join(parts)
