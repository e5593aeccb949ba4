"""Reading request bodies within a size limit, parsing JSON, and running a prediction."""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, NamedTuple, cast

import numpy as np
from starlette.applications import Starlette
from starlette.requests import ClientDisconnect, Request

from ..flavors.signature import Signature
from . import fastjson, scan, stdjson
from .compression import inflating, request_coding
from .decoding import BIG, Decoder
from .decoding import DEFAULT_MAX_BODY as DEFAULT_MAX_BODY  # where callers look for it
from .errors import (
    BadRequest,
    HTTPError,
    NotFound,
    PayloadTooLarge,
    Unavailable,
    UnsupportedMediaType,
)
from .loaded import Loaded
from .outcomes import Outcome, tell_sinks
from .rows import Rows
from .slot import Slot
from .split import Arm, Split

if TYPE_CHECKING:
    from .pool import ModelPool

SIMPLE_CONTENT_TYPES = frozenset(
    {"text/plain", "application/x-www-form-urlencoded", "multipart/form-data"}
)
#: Headers a browser adds to every cross-site request and a page's script cannot remove.
BROWSER_HEADERS = ("origin", "sec-fetch-site", "sec-fetch-mode")
VERSION = re.compile(r"[0-9]{1,18}")  # ASCII digits only: str.isdigit() accepts '²'


def check_content_type(request: Request) -> None:
    """Refuse the bodies a web page can send cross-site without a CORS preflight (415).

    Those are the simple types and no type at all (``fetch`` of an untyped Blob in
    ``no-cors`` mode). tritonclient, ``requests.post(data=...)`` and curl also send no
    Content-Type, but never the headers every browser adds, so only a typeless request
    from a browser is refused. With a token the same rule holds: it costs real clients
    nothing, and a page cannot add the token anyway.
    """
    content_type = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if content_type in SIMPLE_CONTENT_TYPES:
        # Browsers send these cross-site without asking (CSRF); JSON clients never need them.
        raise UnsupportedMediaType(
            f"Content-Type {content_type!r} is not accepted: send 'Content-Type: "
            "application/json' (or application/octet-stream for binary tensors)."
        )
    if not content_type and any(h in request.headers for h in BROWSER_HEADERS):
        raise UnsupportedMediaType(
            "A request body without a Content-Type is not accepted from a web page: send "
            "'Content-Type: application/json' (or application/octet-stream for binary tensors)."
        )


async def read_body(request: Request, admitted: list[int]) -> bytes | bytearray:
    """The whole body, refusing more than the server's limit (413) before reading it all.

    A small body is read as it comes (usually one chunk, used as is). A big body first
    takes its share of the decoding budget (appended to *admitted*, for the caller to give
    back) and is read into one buffer of its declared length so it exists only once."""
    limit: int = request.app.state.max_body
    check_content_type(request)
    declared = request.headers.get("content-length")
    expected = int(declared) if declared is not None and VERSION.fullmatch(declared) else None
    if expected is not None and expected > limit:
        raise PayloadTooLarge(_too_large(expected, limit))
    if expected is not None and expected < BIG:  # the hot path
        chunks, size = [], 0
        try:
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(_too_large(size, limit))
                chunks.append(chunk)
        except ClientDisconnect:
            raise BadRequest("The client disconnected before sending the whole body.") from None
        return chunks[0] if len(chunks) == 1 else b"".join(chunks)
    if expected is not None:
        admitted.append(await decoder_of(request.app).acquire(expected))
    body, size = bytearray(expected or 0), 0
    try:
        async for chunk in request.stream():
            end = size + len(chunk)
            if end > limit:
                raise PayloadTooLarge(_too_large(end, limit))
            if expected is None and size < BIG <= end:  # a chunked body that turns out big
                admitted.append(await decoder_of(request.app).acquire(limit))
            if end <= len(body):
                body[size:end] = chunk
            else:
                del body[size:]
                body += chunk
            size = end
    except ClientDisconnect:
        raise BadRequest("The client disconnected before sending the whole body.") from None
    del body[size:]
    return body


def decoder_of(app: Starlette) -> Decoder:
    """The app's decoder for big bodies, made on first use (budget: two largest bodies)."""
    decoder = getattr(app.state, "decoder", None)
    if decoder is None:
        decoder = app.state.decoder = Decoder(2 * app.state.max_body, max_body=app.state.max_body)
    return cast(Decoder, decoder)


def _too_large(size: int, limit: int) -> str:
    return (
        f"The request body is {size} bytes or more; this server accepts at most {limit} bytes. "
        "Send fewer rows per request, or start the server with a larger --max-body."
    )


def parse_json(
    body: bytes | bytearray, *, what: str = "request body", plain: bool = False
) -> dict[str, Any]:
    """A JSON object, or a 400 that says where the JSON broke.

    In a big body, big arrays come back as ndarrays (numbers, strings) or lists parsed a
    piece at a time (see `scan`), unless *plain* (then it is all lists and dicts); what
    `scan` does not take is parsed by `stdjson`. Either way the GIL is given back to the
    event loop every few milliseconds."""
    try:
        if len(body) < BIG:
            payload = fastjson.loads(body)
        else:
            found = None if plain else scan.loads(body)
            payload = stdjson.loads(body) if found is None else found
    except json.JSONDecodeError as exc:
        raise BadRequest(
            f"Malformed JSON in the {what}: {exc.msg} at line {exc.lineno} column {exc.colno}."
        ) from None
    except RecursionError:
        raise BadRequest(
            f"Malformed JSON in the {what}: arrays or objects nested too deeply for this "
            "server; a tensor has at most 8 dimensions."
        ) from None
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"Malformed JSON in the {what}: it is not UTF-8 (byte {exc.start} is "
            f"{exc.object[exc.start : exc.start + 1]!r}). Send the body as UTF-8 JSON, "
            "uncompressed (or with a Content-Encoding the route accepts)."
        ) from None
    if not isinstance(payload, dict):
        raise BadRequest(f"The {what} must be a JSON object, got {type(payload).__name__}.")
    return payload


class Answer(NamedTuple):
    """What a prediction request gets: the arm that answered, what the decoder returned
    besides the rows, the outputs, and the request's id."""

    arm: Arm
    extra: Any
    outputs: dict[str, np.ndarray]
    request_id: str

    @property
    def loaded(self) -> Loaded:
        return self.arm.loaded

    def headers(self) -> dict[str, str]:
        """The headers every prediction response carries."""
        arm = self.arm
        return {
            "X-Maas-Request-Id": self.request_id,
            "X-Maas-Version": arm.label,
            "X-Maas-Generation": arm.generation,
        }


async def predict(
    slot: Slot,
    body: bytes | None,
    request: Request,
    decode: Callable[[bytes, Signature | None, str], Any],
    *,
    version: int | None = None,
) -> Answer:
    """Decode a request for *slot* with *decode* and run it through the batcher of the
    arm of the slot's split it draws (see `split`).

    *decode* returns the rows (or ``(rows, extra)``; an *extra* with an ``id`` gives the
    request its id). It runs on the event loop for a small body and on a decoding thread
    for a big one (see `decoding`).
    """
    start = time.perf_counter()
    request.scope["maas.deployment"] = slot.name
    coding = request_coding(request.headers.get("content-encoding"))  # 415 before reading
    if coding is not None:
        decode = inflating(decode, coding, limit=request.app.state.max_body)
    admitted: list[int] = []  # decoding budget taken by a big body, given back below
    try:
        split = slot.serving()
        draw = split.draw(request.headers)
        receiving = choose(slot, split, draw, version).loaded.batcher
        receiving.arriving += 1
        try:
            if body is None:
                # A big body is a bytearray: decoders only slice and parse it, and a copy
                # to bytes would double its peak memory.
                body = cast(bytes, await read_body(request, admitted))
        finally:
            receiving.arrived()
        # A compressed body may inflate to a big one: only a small plain one is decoded inline.
        inline = len(body) < BIG and coding is None
        arm, decoded = await _decode(slot, body, request, decode, version, inline=inline, draw=draw)
        del body
    finally:
        if admitted:  # synchronous: no await between the version check and queueing
            decoder_of(request.app).release(sum(admitted))
    # From the version check in _decode to queueing there is no await, so the version
    # checked, decoded for and queued on is one.
    rows, extra = decoded if isinstance(decoded, tuple) else (decoded, None)
    assert isinstance(rows, Rows)
    pool = request.app.state.pool
    request_id = getattr(extra, "id", None) or new_id()
    batcher = arm.loaded.batcher
    # A watched deployment's answers are told to the window by their batch, all at once
    # (`Window.batch_answered`); a request of more rows than a batch, by itself.
    watched = slot.name in pool.window.watched
    by_batch = watched and batcher.answered is not None and rows.n <= batcher.max_batch_size
    try:
        outputs = await batcher.predict(rows, (request_id, start) if by_batch else None)
    except PayloadTooLarge:
        raise  # more rows than any version queues: the request's fault, not the version's
    except Exception:
        pool.window.record_error(slot.name, arm.label)  # a no-op unless watched
        raise
    shadow = arm.shadow
    if shadow is not None and not by_batch:  # (by batch: its batch copied it, `told`)
        pool.shadowing.maybe_send(slot.name, shadow, rows, request_id, outputs)
    if pool.sinks or (watched and not by_batch):
        _record(pool, slot.name, arm, request_id, start, rows, outputs, told=by_batch)
    return Answer(arm, extra, outputs, request_id)


def new_id() -> str:
    """A request's id when the client gave none: 128 random bits as 32 hex digits (a
    quarter of what `uuid.uuid4().hex` costs, on every request)."""
    return os.urandom(16).hex()


def _record(
    pool: ModelPool,
    deployment: str,
    arm: Arm,
    request_id: str,
    start: float,
    rows: Rows,
    outputs: dict[str, np.ndarray],
    *,
    told: bool,
) -> None:
    """Tell the window the answer (`Window.answered`: nothing unless *deployment* is
    watched; *told*: its batch did) and give the pool's sinks that want it an `Outcome`
    of it (made once, for all of them; none when no sink wants it)."""
    latency = time.perf_counter() - start
    if not told:
        pool.window.answered(deployment, arm.label, request_id, latency, outputs)
    if pool.sinks:
        loaded = arm.loaded
        tell_sinks(
            pool.sinks,
            deployment,
            lambda: Outcome(
                deployment,
                loaded.name,
                loaded.version,
                request_id,
                latency,
                rows.n,
                rows,
                outputs,
                False,
                time.time(),
            ),
        )


def choose(slot: Slot, split: Split, draw: float, version: int | None) -> Arm:
    """The arm of *split* a request with *draw* reaches (naming *version*: that one's)."""
    if version is None:
        return split.pick(draw)
    arm = split.serving(version)
    if arm is not None:
        return arm
    if all(a.loaded.version != version for a in split.arms):
        check_version(slot, split.primary.loaded, version)  # not deployed: says what is
    raise NotFound(f"Deployment {slot.name!r} takes no traffic for version {version} (weight 0).")


async def _decode(
    slot: Slot,
    body: bytes,
    request: Request,
    decode: Callable[[bytes, Signature | None, str], Any],
    version: int | None,
    *,
    inline: bool | None = None,
    draw: float = 0.0,
) -> tuple[Arm, Any]:
    """*body* decoded for the arm *draw* reaches in the split *slot* serves now (which
    may change while it arrived)."""
    arm = choose(slot, slot.serving(), draw, version)
    current = arm.loaded
    if inline is None:
        inline = len(body) < BIG
    if inline:
        return arm, decode(body, current.signature, arm.label)
    decoder = decoder_of(request.app)
    for _ in range(3):
        try:
            decoded = await decoder.run(decode, body, current.signature, arm.label)
        except HTTPError:
            latest = choose(slot, slot.serving(), draw, version)
            if latest.loaded is current:
                raise
            arm, current = latest, latest.loaded  # swapped while decoding: try the new one
            continue
        # The split may have been swapped during the decode: rows decoded for the same
        # signature still fit the arm the draw reaches now; for another, decode again.
        latest = choose(slot, slot.serving(), draw, version)
        if latest.loaded is current or latest.loaded.signature == current.signature:
            return latest, decoded
        arm, current = latest, latest.loaded
    raise Unavailable(
        f"Deployment {slot.name!r} changed version three times while this request was "
        "decoded; retry.",
        headers={"Retry-After": "1"},
    )


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
