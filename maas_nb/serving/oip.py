"""Open Inference Protocol v2 (KServe, Triton, MLServer), with Triton's binary tensor extension."""

from __future__ import annotations

import json
import math
import struct
from typing import Any

import numpy as np
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from .. import __version__
from ..flavors.signature import DATAFRAME, TEXT, Signature, TensorSpec
from .decode import implicit_signature
from .errors import BadRequest, Unavailable
from .requests import VERSION, check_version, parse_json, parse_version, predict
from .rows import Rows, column_rows, json_values, tensor_rows, text_rows, to_array

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
HEADER_LENGTH = "inference-header-content-length"
MAX_DIMS = 8


def datatype(dtype: str) -> str:
    """The OIP datatype of a numpy dtype name (strings and objects are BYTES)."""
    return _TO_DATATYPE.get(dtype, "BYTES")


async def server_metadata(request: Request) -> JSONResponse:
    return JSONResponse(
        {"name": "maas_nb", "version": __version__, "extensions": ["binary_tensor_data"]}
    )


async def live(request: Request) -> JSONResponse:
    return JSONResponse({"live": True})


async def ready(request: Request) -> JSONResponse:
    ok = request.app.state.pool.all_ready()
    return JSONResponse({"ready": ok}, status_code=200 if ok else 503)


async def model_metadata(request: Request) -> JSONResponse:
    slot = request.app.state.pool.slot(request.path_params["name"])
    current = slot.ready()
    if "version" in request.path_params:
        check_version(slot, current, parse_version(request.path_params["version"]))
    sig = current.signature
    return JSONResponse(
        {
            "name": slot.name,
            "versions": [str(current.version)],
            "platform": f"maas_nb-{current.flavor}",
            "inputs": [_spec(s) for s in sig.inputs] if sig else [],
            "outputs": [_spec(s) for s in sig.outputs] if sig else [],
        }
    )


async def model_ready(request: Request) -> JSONResponse:
    slot = request.app.state.pool.slot(request.path_params["name"])
    try:
        current = slot.ready()
        if "version" in request.path_params:
            check_version(slot, current, parse_version(request.path_params["version"]))
    except Unavailable:
        return JSONResponse({"name": slot.name, "ready": False}, status_code=503)
    return JSONResponse({"name": slot.name, "ready": True})


async def infer(request: Request) -> Response:
    slot = request.app.state.pool.slot(request.path_params["name"])
    version = (
        parse_version(request.path_params["version"]) if "version" in request.path_params else None
    )
    header_length = request.headers.get(HEADER_LENGTH)

    def decode(body: bytes, signature: Signature | None, model: str) -> tuple[Rows, dict]:
        payload, binary = _split(body, header_length)
        rows = decode_inputs(payload, binary, signature, model=model)
        if signature is not None:  # refuse unknown outputs before spending model time
            requested_outputs(payload, [s.name for s in signature.outputs])
        return rows, payload

    current, payload, outputs = await predict(slot, None, request, decode, version=version)
    return encode_outputs(payload, outputs, model_name=slot.name, version=current.version)


def _split(body: bytes, header_length: str | None) -> tuple[dict[str, Any], bytes]:
    if header_length is None:
        return parse_json(body), b""
    if not VERSION.fullmatch(header_length) or int(header_length) > len(body):
        raise BadRequest(
            f"Inference-Header-Content-Length is {header_length!r}, "
            f"but the body has {len(body)} bytes."
        )
    n = int(header_length)
    return parse_json(body[:n], what="inference header"), body[n:]


def decode_inputs(
    payload: dict[str, Any], binary: bytes, signature: Signature | None, *, model: str
) -> Rows:
    inputs = payload.get("inputs")
    if not isinstance(inputs, list) or not inputs or not all(isinstance(i, dict) for i in inputs):
        raise BadRequest(
            '"inputs" must be a non-empty list of {"name", "shape", "datatype", "data"} objects.'
        )
    tensors: dict[str, np.ndarray] = {}
    offset = 0
    for i, tensor in enumerate(inputs):
        array, used = _tensor(tensor, binary[offset:], where=f"inputs[{i}]")
        offset += used
        tensors[str(tensor.get("name"))] = array
    if signature is None:
        first = next(iter(tensors.values()))
        signature = implicit_signature(
            first.tolist() if first.ndim > 1 or first.dtype == object else [first.tolist()]
        )
    if signature.kind == DATAFRAME:
        return column_rows(tensors, signature, model=model, where="inputs")
    if len(tensors) != 1:
        names = ", ".join(s.name for s in signature.inputs)
        raise BadRequest(
            f"Model {model!r} takes one input ({names}), got {len(tensors)}: {', '.join(tensors)}."
        )
    ((name, array),) = tensors.items()
    where = f"input {name!r}"
    if signature.kind == TEXT:
        if array.dtype != object:
            raise BadRequest(f"{where}: model {model!r} takes text; send it as datatype BYTES.")
        return text_rows(array.reshape(-1).tolist(), model=model, where=where)
    if array.dtype == object:
        raise BadRequest(
            f"{where}: model {model!r} takes numbers ({signature.describe_inputs()}), got BYTES."
        )
    return tensor_rows(array, signature, model=model, where=where)


def _tensor(tensor: dict[str, Any], binary: bytes, *, where: str) -> tuple[np.ndarray, int]:
    """One request input as an array of its declared shape; also the binary bytes it used."""
    name, shape, dtype_name = tensor.get("name"), tensor.get("shape"), tensor.get("datatype")
    if not isinstance(name, str):
        raise BadRequest(f'{where}: "name" must be a string.')
    if (
        not isinstance(shape, list)
        or len(shape) > MAX_DIMS
        or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)
    ):
        raise BadRequest(
            f'{where} ({name!r}): "shape" must be a list of non-negative integers, got {shape!r}.'
        )
    if dtype_name not in DATATYPES:
        raise BadRequest(
            f"{where} ({name!r}): unknown datatype {dtype_name!r}; "
            f"use one of {', '.join(DATATYPES)}."
        )
    count = math.prod(shape)
    params = tensor.get("parameters") or {}
    size = params.get("binary_data_size") if isinstance(params, dict) else None
    dtype = DATATYPES[dtype_name]
    if size is not None:
        if not isinstance(size, int) or size < 0 or size > len(binary):
            raise BadRequest(
                f"{where} ({name!r}): binary_data_size {size!r} "
                f"exceeds the {len(binary)} bytes sent."
            )
        array = _from_binary(binary[:size], dtype, where=f"{where} ({name!r})")
        used = size
    else:
        if "data" not in tensor:
            raise BadRequest(f'{where} ({name!r}): "data" is missing.')
        data = tensor["data"]
        flat = _flatten(data) if isinstance(data, list) else [data]
        array = (
            to_array(flat, dtype, model=name, where=f"{where} ({name!r})")
            if flat
            else np.empty(0, dtype=dtype)
        )
        used = 0
    if array.size != count:
        raise BadRequest(
            f"{where} ({name!r}): shape {shape} needs {count} values, got {array.size}."
        )
    return array.reshape(shape), used


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


def _from_binary(raw: bytes, dtype: str, *, where: str) -> np.ndarray:
    if dtype != "str":
        width = np.dtype(dtype).itemsize
        if len(raw) % width:
            raise BadRequest(f"{where}: {len(raw)} bytes is not a whole number of {dtype} values.")
        return np.frombuffer(raw, dtype=np.dtype(dtype).newbyteorder("<")).astype(dtype)
    items, i = [], 0
    while i < len(raw):
        if i + 4 > len(raw):
            raise BadRequest(f"{where}: truncated BYTES element.")
        (n,) = struct.unpack_from("<I", raw, i)
        chunk = raw[i + 4 : i + 4 + n]
        if len(chunk) != n:
            raise BadRequest(f"{where}: truncated BYTES element.")
        try:
            items.append(chunk.decode("utf-8"))
        except UnicodeDecodeError:
            raise BadRequest(f"{where}: BYTES elements must be UTF-8 text.") from None
        i += 4 + n
    array = np.empty(len(items), dtype=object)
    array[:] = items
    return array


def requested_outputs(payload: dict[str, Any], names: list[str]) -> list[tuple[str, bool]]:
    """The outputs to return, each with whether to send it as binary data."""
    requested = payload.get("outputs")
    params = payload.get("parameters")
    if not isinstance(params, dict):
        params = {}
    binary_default = bool(params.get("binary_data_output", False))
    if requested is None:
        return [(name, binary_default) for name in names]
    if not isinstance(requested, list) or not all(
        isinstance(o, dict) and isinstance(o.get("name"), str) for o in requested
    ):
        raise BadRequest('"outputs" must be a list of {"name": ...} objects.')
    wanted = []
    for o in requested:
        if o["name"] not in names:
            raise BadRequest(
                f"Unknown output {o['name']!r}; this model returns {', '.join(names)}."
            )
        p = o.get("parameters") if isinstance(o.get("parameters"), dict) else {}
        wanted.append((o["name"], bool(p.get("binary_data", binary_default))))
    return wanted


def encode_outputs(
    payload: dict[str, Any], outputs: dict[str, np.ndarray], *, model_name: str, version: int
) -> Response:
    wanted = requested_outputs(payload, list(outputs))
    response: dict[str, Any] = {
        "model_name": model_name,
        "model_version": str(version),
        "outputs": [],
    }
    if isinstance(payload.get("id"), str):
        response["id"] = payload["id"]
    blobs = []
    for name, as_binary in wanted:
        value = outputs[name]
        kind = datatype("str" if value.dtype.kind in "OUS" else value.dtype.name)
        entry: dict[str, Any] = {"name": name, "datatype": kind, "shape": list(value.shape)}
        if as_binary:
            blob = _to_binary(value, kind)
            entry["parameters"] = {"binary_data_size": len(blob)}
            blobs.append(blob)
        else:
            entry["data"] = json_values(value.reshape(-1), output=name)
        response["outputs"].append(entry)
    if not blobs:
        return JSONResponse(response)
    header = json.dumps(response).encode()
    return Response(
        header + b"".join(blobs),
        media_type="application/octet-stream",
        headers={"Inference-Header-Content-Length": str(len(header))},
    )


def _to_binary(value: np.ndarray, kind: str) -> bytes:
    if kind != "BYTES":
        return np.ascontiguousarray(
            value, dtype=np.dtype(DATATYPES[kind]).newbyteorder("<")
        ).tobytes()
    parts = []
    for item in value.reshape(-1).tolist():
        data = item if isinstance(item, bytes) else str(item).encode()
        parts.append(struct.pack("<I", len(data)) + data)
    return b"".join(parts)


def _spec(spec: TensorSpec) -> dict[str, Any]:
    return {"name": spec.name, "datatype": datatype(spec.dtype), "shape": list(spec.shape)}


routes = [
    Route("/v2", server_metadata),
    Route("/v2/health/live", live),
    Route("/v2/health/ready", ready),
    Route("/v2/models/{name}", model_metadata),
    Route("/v2/models/{name}/ready", model_ready),
    Route("/v2/models/{name}/infer", infer, methods=["POST"]),
    Route("/v2/models/{name}/versions/{version}", model_metadata),
    Route("/v2/models/{name}/versions/{version}/ready", model_ready),
    Route("/v2/models/{name}/versions/{version}/infer", infer, methods=["POST"]),
]
