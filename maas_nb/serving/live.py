"""The live experiment's routes: feedback in, the live comparison out.

- ``POST /v2/models/{name}/feedback`` takes ground truth for request ids, as
  ``{"feedback": [{"id": "<request id>", "truth": <label or number>}, ...]}`` or
  ``{"ids": [...], "truth": [...]}`` (a request of several rows: a list of one truth
  per row), and joins it to what each version answered (`window`). It answers
  ``{"joined": n, "unknown": [ids], "mismatched": [ids], "versions": {"NAME:V": n}}``:
  *unknown* ids were never answered here, are forgotten (the last 100,000 per deployment
  are remembered) or were joined already; *mismatched* ones have a truth whose length
  is not the request's number of rows. Every item is checked before any is joined: a
  body with one bad item is refused (422) whole, and a big body is parsed (as plain JSON)
  off the event loop.
- ``GET /maas/experiments/{name}`` answers the live comparison (`experiment`).
"""

from __future__ import annotations

import math
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from .decoding import BIG
from .errors import Conflict, Unprocessable
from .oip_request import MAX_ID_CHARS
from .requests import decoder_of, parse_json, read_body

#: The largest integer truth taken: beyond it a float cannot hold it (nor score it).
MAX_INT = 2**53
SHAPE = (
    'Send {"feedback": [{"id": "<request id>", "truth": <label or number>}, ...]} '
    '(or {"ids": [...], "truth": [...]}).'
)


def _short(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _id(value: Any, where: str) -> str:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_ID_CHARS:
        raise Unprocessable(
            f"{where} must be a request id: a string of 1 to {MAX_ID_CHARS} characters "
            f"(the X-Maas-Request-Id header or the OIP 'id' of the response), got "
            f"{_short(value)}."
        )
    return value


def _scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    if isinstance(value, int):  # and bool: true/false labels
        return -MAX_INT <= value <= MAX_INT
    return isinstance(value, str)


def _truth(value: Any, where: str) -> Any:
    if _scalar(value) or (isinstance(value, list) and value and all(map(_scalar, value))):
        return value
    raise Unprocessable(
        f"{where} must be a label or a finite number (or, for a request of several rows, "
        f"a list of them), got {_short(value)}. Send labels as strings or small integers "
        "(at most 2**53 in magnitude) and numbers as finite floats."
    )


def parse_feedback(payload: dict[str, Any]) -> list[tuple[str, Any]]:
    """The (request id, truth) pairs of a feedback body; 422 saying what is wrong."""
    if "feedback" in payload:
        rows = payload["feedback"]
        if not isinstance(rows, list):
            raise Unprocessable(f"'feedback' must be a list, got {_short(rows)}. {SHAPE}")
        items = []
        for k, row in enumerate(rows):
            if not isinstance(row, dict) or "id" not in row or "truth" not in row:
                raise Unprocessable(
                    f"feedback[{k}] must be an object with 'id' and 'truth', got "
                    f"{_short(row)}. {SHAPE}"
                )
            where = f"feedback[{k}]"
            items.append((_id(row["id"], f"{where}.id"), _truth(row["truth"], f"{where}.truth")))
    elif "ids" in payload and "truth" in payload:
        ids, truth = payload["ids"], payload["truth"]
        if not isinstance(ids, list) or not isinstance(truth, list) or len(ids) != len(truth):
            raise Unprocessable(
                "'ids' and 'truth' must be lists of the same length, got "
                f"{_length(ids)} ids and {_length(truth)} truths. {SHAPE}"
            )
        items = [
            (_id(i, f"ids[{k}]"), _truth(t, f"truth[{k}]"))
            for k, (i, t) in enumerate(zip(ids, truth, strict=True))
        ]
    else:
        keys = ", ".join(sorted(map(repr, payload))) or "none"
        raise Unprocessable(
            f"A feedback body needs 'feedback' (or 'ids' and 'truth'); got keys {keys}. {SHAPE}"
        )
    if not items:
        raise Unprocessable(f"The feedback body holds no rows. {SHAPE}")
    return items


def read_feedback(body: bytes | bytearray) -> list[tuple[str, Any]]:
    """The (request id, truth) pairs of a feedback body, parsed as plain JSON (lists,
    never the ndarrays a big inference body's arrays become); 400 or 422 if it is wrong."""
    return parse_feedback(parse_json(body, what="feedback body", plain=True))


def _length(value: Any) -> str:
    return (
        str(len(value)) if isinstance(value, list) else f"a {type(value).__name__}, not a list of"
    )


async def feedback(request: Request) -> JSONResponse:
    name = request.path_params["name"]
    group = request.app.state.group
    pool = request.app.state.pool
    pool.slot(name)  # 404 for an unknown deployment
    admitted: list[int] = []
    try:
        body = await read_body(request, admitted)
        if len(body) < BIG:
            items = read_feedback(body)
        else:  # off the event loop, within the decoding budget taken for it
            items = await decoder_of(request.app).run(read_feedback, body)
    finally:
        if admitted:
            decoder_of(request.app).release(sum(admitted))
    if name not in pool.window.watched:
        raise Conflict(
            f"Deployment {name!r} runs no experiment, so no answers were kept to join "
            "feedback to: it serves one version without a shadow. Split its traffic (maas "
            f"traffic {name} production=90 candidate=10) or add a shadow, send requests, "
            "then post their ground truth."
        )
    return JSONResponse(await group.feedback(name, items))


async def experiment(request: Request) -> JSONResponse:
    return JSONResponse(await request.app.state.group.experiment(request.path_params["name"]))


routes = [
    Route("/v2/models/{name}/feedback", feedback, methods=["POST"]),
    Route("/maas/experiments/{name}", experiment),
]
