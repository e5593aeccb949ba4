"""Open Inference Protocol v2 (KServe, Triton, MLServer): health, metadata and inference
routes, with Triton's binary tensor and classification extensions and gzip/deflate bodies.

The request is decoded in `oip_request`, tensors on the wire in `oip_tensors`, the
response built in `oip_response`.
"""

from __future__ import annotations

import asyncio

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..flavors.signature import Signature, TensorSpec
from ..version import __version__
from .compression import MIN_COMPRESSED_RESPONSE, compress, response_coding
from .errors import Unavailable
from .oip_request import Request as InferRequest
from .oip_request import decode_request
from .oip_response import encode_outputs
from .oip_tensors import datatype
from .requests import check_version, parse_version, predict
from .rows import Rows

HEADER_LENGTH = "inference-header-content-length"
#: What GET /v2 advertises: the Triton extensions this server implements.
EXTENSIONS = ["binary_tensor_data", "classification"]


async def server_metadata(request: Request) -> JSONResponse:
    return JSONResponse({"name": "maas_nb", "version": __version__, "extensions": EXTENSIONS})


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

    def decode(body: bytes, signature: Signature | None, model: str) -> tuple[Rows, InferRequest]:
        return decode_request(body, signature, model, header_length=header_length)

    answer = await predict(slot, None, request, decode, version=version)
    current = answer.loaded
    body, headers = encode_outputs(
        answer.extra,
        answer.outputs,
        model_name=slot.name,
        version=current.version,
        labels=current.labels,
        request_id=answer.request_id,
    )
    headers.update(answer.headers())
    coding = response_coding(request.headers.get("accept-encoding"))
    if coding is not None and len(body) >= MIN_COMPRESSED_RESPONSE:
        body = await asyncio.to_thread(compress, body, coding)
        headers.update({"Content-Encoding": coding, "Vary": "Accept-Encoding"})
    media_type = headers.pop("Content-Type")
    return Response(body, media_type=media_type, headers=headers)


def _spec(spec: TensorSpec) -> dict[str, object]:
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
