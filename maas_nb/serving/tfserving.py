"""TensorFlow Serving's REST API: ``/v1/models/NAME[/versions/V|/labels/L]:predict``."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from ..flavors.signature import Signature
from .decode import rows_from
from .errors import BadRequest, NotFound
from .requests import parse_json, parse_version, predict
from .rows import Rows, json_values

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


async def predict_route(request: Request) -> JSONResponse:
    pool = request.app.state.pool
    slot = pool.slot(request.path_params["name"])
    version = None
    if "version" in request.path_params:
        version = parse_version(request.path_params["version"])
    elif "label" in request.path_params:
        version = await _label_version(request, slot.ready().name, request.path_params["label"])

    def decode(body: bytes, signature: Signature | None, model: str) -> tuple[Rows, str]:
        payload = parse_json(body)
        if ("instances" in payload) == ("inputs" in payload):
            raise BadRequest(
                'Send exactly one of "instances" (a list of rows) or "inputs" (columns).'
            )
        key = "instances" if "instances" in payload else "inputs"
        return rows_from(payload[key], signature, model=model, where=key), key

    _, key, outputs = await predict(slot, None, request, decode, version=version)
    lists = {k: json_values(v, output=k) for k, v in outputs.items()}
    if key == "instances":
        if len(lists) == 1:
            return JSONResponse({"predictions": next(iter(lists.values()))})
        n = len(next(iter(lists.values())))
        return JSONResponse(
            {"predictions": [{k: v[i] for k, v in lists.items()} for i in range(n)]}
        )
    if len(lists) == 1:
        return JSONResponse({"outputs": next(iter(lists.values()))})
    return JSONResponse({"outputs": lists})


async def _label_version(request: Request, model: str, label: str) -> int:
    import asyncio

    registry = request.app.state.pool.registry
    try:
        return (await asyncio.to_thread(registry.get, f"{model}@{label}")).version
    except LookupError as exc:
        raise NotFound(str(exc)) from None
    except ValueError as exc:
        raise NotFound(str(exc)) from None


async def status(request: Request) -> JSONResponse:
    slot = request.app.state.pool.slot(request.path_params["name"])
    cur = slot.current
    state = "AVAILABLE" if cur else ("LOADING" if slot.status == "loading" else "END")
    code = "OK" if cur or slot.status == "loading" else "UNKNOWN"
    return JSONResponse(
        {
            "model_version_status": [
                {
                    "version": str(cur.version if cur else 0),
                    "state": state,
                    "status": {"error_code": code, "error_message": slot.reason},
                }
            ]
        }
    )


async def metadata(request: Request) -> JSONResponse:
    slot = request.app.state.pool.slot(request.path_params["name"])
    cur = slot.ready()
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
                        "serving_default": {
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
    Route("/v1/models/{name}", status),
]
