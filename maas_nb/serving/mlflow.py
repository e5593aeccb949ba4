"""MLflow-style scoring: ``/invocations``, ``/models/NAME/invocations``, ``/ping``, ``/health``."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from ..flavors.signature import Signature
from .decode import rows_from, split_frame
from .errors import BadRequest
from .requests import parse_json, predict
from .rows import Rows, json_values, record_rows

FORMATS = ("dataframe_split", "dataframe_records", "instances", "inputs")


def decode(body: bytes, signature: Signature | None, model: str) -> Rows:
    payload = parse_json(body)
    given = [k for k in FORMATS if k in payload]
    if len(given) != 1:
        raise BadRequest(
            f"Send exactly one of {', '.join(FORMATS)}; got {', '.join(given) or 'none of them'} "
            f"(keys: {', '.join(map(str, payload)) or 'none'})."
        )
    key = given[0]
    value = payload[key]
    if key == "dataframe_split":
        return split_frame(value, signature, model=model)
    if key == "dataframe_records" and signature is not None and signature.kind == "dataframe":
        return record_rows(value, signature, model=model, where=key)
    return rows_from(value, signature, model=model, where=key)


async def invocations(request: Request) -> JSONResponse:
    pool = request.app.state.pool
    name = request.path_params.get("name")
    slot = pool.slot(name) if name is not None else pool.only_slot()
    _, _, outputs = await predict(slot, None, request, decode)
    name, first = next(iter(outputs.items()))
    return JSONResponse({"predictions": json_values(first, output=name)})


async def ping(request: Request) -> Response:
    return Response("\n", media_type="text/plain")


routes = [
    Route("/invocations", invocations, methods=["POST"]),
    Route("/models/{name}/invocations", invocations, methods=["POST"]),
    Route("/ping", ping),
    Route("/health", ping),
]
