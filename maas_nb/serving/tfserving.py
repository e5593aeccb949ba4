"""TensorFlow Serving's REST API: ``/v1/models/NAME[/versions/V|/labels/L][:predict|/metadata]``.

What TF Serving's JSON mapping allows is honoured here: rows (``instances``) or columns
(``inputs``), binary strings wrapped as ``{"b64": "..."}`` wherever a string value may
stand, and ``signature_name`` naming the one signature a maas_nb model has.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..flavors.signature import Signature
from .decode import rows_from
from .errors import BadRequest, NotFound
from .fastjson import FiniteJSONResponse
from .loaded import Loaded
from .requests import parse_json, parse_version, predict
from .rows import Rows, json_values
from .slot import Slot
from .status import LOADING

#: The only signature a maas_nb model has, under the name TF Serving gives a default one.
SIGNATURE = "serving_default"

TF_DTYPES = {
    "float16": "DT_HALF",
    "float32": "DT_FLOAT",
    "float64": "DT_DOUBLE",
    "int8": "DT_INT8",
    "int16": "DT_INT16",
    "int32": "DT_INT32",
    "int64": "DT_INT64",
    "uint8": "DT_UINT8",
    "uint16": "DT_UINT16",
    "uint32": "DT_UINT32",
    "uint64": "DT_UINT64",
    "bool": "DT_BOOL",
}


def decode_predict(body: bytes, signature: Signature | None, model: str) -> tuple[Rows, str]:
    """The rows of a predict body, and which form (``instances`` or ``inputs``) it used."""
    payload = parse_json(body)
    if "signature_name" in payload:
        check_signature_name(payload["signature_name"])
    if ("instances" in payload) == ("inputs" in payload):
        raise BadRequest('Send exactly one of "instances" (a list of rows) or "inputs" (columns).')
    key = "instances" if "instances" in payload else "inputs"
    values = payload[key]
    # A cheap look at the raw bytes spares walking big numeric bodies; "\u" covers a
    # "b64" key written with JSON escapes.
    if b"b64" in body or b"\\u" in body:
        values = unwrap_b64(values, model=model, where=key)
    return rows_from(values, signature, model=model, where=key), key


def check_signature_name(name: Any) -> None:
    """Accept the default signature, by name or as ``""``, as TF Serving does."""
    if name in ("", SIGNATURE):
        return
    if not isinstance(name, str):
        raise BadRequest(
            f'"signature_name" must be a string, got {type(name).__name__} {str(name)[:40]!r}; '
            f'send "{SIGNATURE}" or leave it out.'
        )
    raise BadRequest(
        f'Serving signature name: "{name[:80]}" not found in signature def; this model has '
        f'one signature, "{SIGNATURE}": send that or leave "signature_name" out.'
    )


def unwrap_b64(value: Any, *, model: str, where: str) -> Any:
    """*value* with every ``{"b64": "..."}`` replaced by the UTF-8 text it encodes."""
    try:
        return _unwrap(value, model, where)
    except RecursionError:
        raise BadRequest(f"{where}: the values are nested too deeply.") from None


def _unwrap(value: Any, model: str, where: str) -> Any:
    if isinstance(value, list):
        return [_unwrap(v, model, where) for v in value]
    if isinstance(value, dict):
        if len(value) == 1 and "b64" in value:
            return _b64_text(value["b64"], model, where)
        return {k: _unwrap(v, model, where) for k, v in value.items()}
    return value


def _b64_text(encoded: Any, model: str, where: str) -> str:
    if not isinstance(encoded, str):
        raise BadRequest(
            f'{where}: a {{"b64": ...}} value must be a base64 string, got '
            f"{type(encoded).__name__} {str(encoded)[:40]!r}."
        )
    # TF Serving (absl's Base64Unescape) takes unpadded base64 too; nothing else is loose.
    padded = encoded if "=" in encoded else encoded + "=" * (-len(encoded) % 4)
    try:
        raw = base64.b64decode(padded, validate=True)
    except (binascii.Error, ValueError) as exc:
        raise BadRequest(
            f'{where}: {{"b64": "{encoded[:40]}"}} is not valid base64 ({exc}); encode the '
            "bytes with the standard alphabet (A-Z, a-z, 0-9, +, /) and = padding."
        ) from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        raise BadRequest(
            f'{where}: {{"b64": "{encoded[:40]}"}} decodes to {len(raw)} bytes that are not '
            f"UTF-8 text; model {model!r} takes strings, so base64-encode UTF-8 text."
        ) from None


async def predict_route(request: Request) -> JSONResponse:
    slot = request.app.state.pool.slot(request.path_params["name"])
    version = await _requested_version(request, slot)
    answer = await predict(slot, None, request, decode_predict, version=version)
    headers = answer.headers()
    lists = {k: json_values(v, output=k) for k, v in answer.outputs.items()}
    if answer.extra == "instances":
        if len(lists) == 1:
            return FiniteJSONResponse({"predictions": next(iter(lists.values()))}, headers=headers)
        n = len(next(iter(lists.values())))
        return FiniteJSONResponse(
            {"predictions": [{k: v[i] for k, v in lists.items()} for i in range(n)]},
            headers=headers,
        )
    if len(lists) == 1:
        return FiniteJSONResponse({"outputs": next(iter(lists.values()))}, headers=headers)
    return FiniteJSONResponse({"outputs": lists}, headers=headers)


async def _requested_version(request: Request, slot: Slot) -> int | None:
    """The version the path names (``/versions/V`` or ``/labels/L``), or None."""
    if "version" in request.path_params:
        return parse_version(request.path_params["version"])
    if "label" in request.path_params:
        return await _label_version(request, slot.ready().name, request.path_params["label"])
    return None


async def _label_version(request: Request, model: str, label: str) -> int:
    registry = request.app.state.pool.registry
    try:
        return (await asyncio.to_thread(registry.get, f"{model}@{label}")).version
    except (LookupError, ValueError) as exc:
        raise NotFound(str(exc)) from None


async def status(request: Request) -> JSONResponse:
    slot = request.app.state.pool.slot(request.path_params["name"])
    version = await _requested_version(request, slot)
    if version is not None:
        served = _served(slot, version, f"Could not find version {version} of model {slot.name}")
        return JSONResponse({"model_version_status": [_version_status(served.version, slot)]})
    cur = slot.current
    return JSONResponse(
        {"model_version_status": [_version_status(cur.version if cur else 0, slot)]}
    )


def _version_status(version: int, slot: Slot) -> dict[str, Any]:
    cur = slot.current
    state = "AVAILABLE" if cur else ("LOADING" if slot.status == LOADING else "END")
    code = "OK" if cur or slot.status == LOADING else "UNKNOWN"
    return {
        "version": str(version),
        "state": state,
        "status": {"error_code": code, "error_message": slot.reason},
    }


def _served(slot: Slot, version: int, not_found: str) -> Loaded:
    """The loaded model if it is *version*, else a 404 starting with TF Serving's words."""
    cur = slot.ready()
    if cur.version != version:
        raise NotFound(
            f"{not_found}: deployment {slot.name!r} serves {cur.name}:{cur.version}. "
            "Ask for that version, or deploy the other under a name of its own."
        )
    return cur


async def metadata(request: Request) -> JSONResponse:
    slot = request.app.state.pool.slot(request.path_params["name"])
    version = await _requested_version(request, slot)
    if version is None:
        cur = slot.ready()
    else:
        cur = _served(
            slot, version, f"Servable not found for request: Specific({slot.name}, {version})"
        )
    sig = cur.signature

    def tensors(specs: Any) -> dict[str, Any]:
        return {
            s.name: {
                "dtype": TF_DTYPES.get(s.dtype, "DT_STRING"),
                "tensor_shape": {"dim": [{"size": str(d)} for d in s.shape]},
                "name": s.name,
            }
            for s in specs
        }

    return JSONResponse(
        {
            "model_spec": {"name": slot.name, "version": str(cur.version), "signature_name": ""},
            "metadata": {
                "signature_def": {
                    "signature_def": {
                        SIGNATURE: {
                            "inputs": tensors(sig.inputs if sig else ()),
                            "outputs": tensors(sig.outputs if sig else ()),
                            "method_name": "tensorflow/serving/predict",
                        }
                    }
                }
            },
        }
    )


routes = [
    Route("/v1/models/{name}:predict", predict_route, methods=["POST"]),
    Route("/v1/models/{name}/versions/{version}:predict", predict_route, methods=["POST"]),
    Route("/v1/models/{name}/labels/{label}:predict", predict_route, methods=["POST"]),
    Route("/v1/models/{name}/metadata", metadata),
    Route("/v1/models/{name}/versions/{version}/metadata", metadata),
    Route("/v1/models/{name}/labels/{label}/metadata", metadata),
    Route("/v1/models/{name}/versions/{version}", status),
    Route("/v1/models/{name}/labels/{label}", status),
    Route("/v1/models/{name}", status),
]
