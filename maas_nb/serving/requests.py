"""Reading request bodies within a size limit, parsing JSON, and running a prediction."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import numpy as np
from starlette.requests import ClientDisconnect, Request

from ..flavors.signature import Signature
from .errors import BadRequest, NotFound, PayloadTooLarge, UnsupportedMediaType
from .pool import Loaded, Slot
from .rows import Rows

DEFAULT_MAX_BODY = 16 * 1024 * 1024
SIMPLE_CONTENT_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
VERSION = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() accepts '²'


async def read_body(request: Request) -> bytes:
    """The whole body, refusing more than the server's limit (413) before reading it all."""
    limit: int = request.app.state.max_body
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in SIMPLE_CONTENT_TYPES:
        # Browsers send these cross-site without asking (CSRF); JSON clients never need them.
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not accepted: send 'Content-Type: "
            "application/json' (or application/octet-stream for binary tensors)."
        )
    declared = request.headers.get("content-length")
    if declared is not None and VERSION.fullmatch(declared) and int(declared) > limit:
        raise PayloadTooLarge(_too_large(int(declared), limit))
    chunks, size = [], 0
    try:
        async for chunk in request.stream():
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(_too_large(size, limit))
            chunks.append(chunk)
    except ClientDisconnect:
        raise BadRequest("The client disconnected before sending the whole body.") from None
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

    *decode* returns the rows (or ``(rows, extra)``).
    """
    request.scope["maas.deployment"] = slot.name
    receiving = slot.ready().batcher
    receiving.arriving += 1
    try:
        if body is None:
            body = await read_body(request)
    finally:
        receiving.arrived()
    # The version may have been swapped while the body arrived. From here to queueing
    # there is no await, so the version checked, decoded for and queued on is one.
    current = slot.ready()
    check_version(slot, current, version)
    decoded = decode(body, current.signature, f"{current.name}:{current.version}")
    rows, extra = decoded if isinstance(decoded, tuple) else (decoded, None)
    assert isinstance(rows, Rows)
    outputs = await current.batcher.predict(rows)
    return current, extra, outputs


def check_version(slot: Slot, current: Loaded, version: int | None) -> None:
    if version is not None and version != current.version:
        raise NotFound(
            f"Deployment {slot.name!r} serves {current.name}:{current.version}; version {version} "
            "is not deployed. Deploy it under another name to serve both."
        )


def parse_version(text: str) -> int:
    if not VERSION.fullmatch(text) or int(text) < 1:
        raise NotFound(f"Version {text[:40]!r} is not a positive integer.")
    return int(text)
