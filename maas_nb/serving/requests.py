"""Reading request bodies within a size limit, parsing JSON, and running a prediction."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.requests import Request

from ..flavors.signature import Signature
from .errors import BadRequest, NotFound, PayloadTooLarge
from .pool import Loaded, Slot
from .rows import Rows

DEFAULT_MAX_BODY = 16 * 1024 * 1024


async def read_body(request: Request) -> bytes:
    """The whole body, refusing more than the server's limit (413) before reading it all."""
    limit: int = request.app.state.max_body
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(_too_large(int(declared), limit))
    chunks, size = [], 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise PayloadTooLarge(_too_large(size, limit))
        chunks.append(chunk)
    return b"".join(chunks)


def _too_large(size: int, limit: int) -> str:
    return (
        f"The request body is {size} bytes or more; this server accepts at most {limit} bytes. "
        "Send fewer rows per request, or start the server with a larger --max-body."
    )


def parse_json(body: bytes, *, what: str = "request body") -> dict[str, Any]:
    """A JSON object, or a 400 that says where the JSON broke."""
    try:
        payload = json.loads(body)
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"Malformed JSON in the {what}: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    except (UnicodeDecodeError, RecursionError) as exc:
        raise BadRequest(f"Malformed JSON in the {what}: {type(exc).__name__}.") from None
    if not isinstance(payload, dict):
        raise BadRequest(f"The {what} must be a JSON object, got {type(payload).__name__}.")
    return payload


async def predict(
    slot: Slot,
    body: bytes | None,
    request: Request,
    decode: Callable[[bytes, Signature | None, str], Any],
    *,
    version: int | None = None,
) -> tuple[Loaded, Any, dict[str, np.ndarray]]:
    """Decode a request for *slot* with *decode* and run it through the slot's batcher.

    *decode* returns the rows (or ``(rows, extra)``); the model version is looked up
    again just before queueing, so a request never lands on a batcher being retired.
    """
    request.scope["maas.deployment"] = slot.name
    current = slot.ready()
    current.batcher.arriving += 1
    try:
        if body is None:
            body = await read_body(request)
    finally:
        current.batcher.arriving -= 1
    check_version(slot, current, version)
    decoded = decode(body, current.signature, f"{current.name}:{current.version}")
    rows, extra = decoded if isinstance(decoded, tuple) else (decoded, None)
    assert isinstance(rows, Rows)
    current = slot.ready()
    outputs = await current.batcher.predict(rows)
    return current, extra, outputs


def check_version(slot: Slot, current: Loaded, version: int | None) -> None:
    if version is not None and version != current.version:
        raise NotFound(
            f"Deployment {slot.name!r} serves {current.name}:{current.version}; version {version} "
            "is not deployed. Deploy it under another name to serve both."
        )


def parse_version(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise NotFound(f"Version {text!r} is not a positive integer.")
    return int(text)
