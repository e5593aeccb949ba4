"""HTTP content codings for request and response bodies: gzip and deflate, as Triton serves.

A compressed request body is inflated in bounded steps and refused (413) as soon as it
passes the server's body limit, so a small "zip bomb" costs no more memory than a plain
body of the largest size accepted. ``deflate`` is the zlib format (RFC 9110 section 8.4.1.2),
which is what tritonclient sends.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any, TypeVar, cast

from .errors import BadRequest, PayloadTooLarge, UnsupportedMediaType

#: zlib ``wbits`` for each coding: gzip has its own header, deflate is a zlib stream.
CODINGS = {"gzip": 16 + zlib.MAX_WBITS, "deflate": zlib.MAX_WBITS}
IDENTITY = "identity"
#: Responses smaller than this go out uncompressed: Accept-Encoding allows a coding,
#: it does not demand one, and compressing a few hundred bytes costs more than it saves.
MIN_COMPRESSED_RESPONSE = 1024
_STEP = 1 << 20


def request_coding(header: str | None) -> str | None:
    """The coding named by a request's Content-Encoding (None for none), or a 415."""
    if header is None:
        return None
    coding = header.strip().lower()
    if coding in ("", IDENTITY):
        return None
    if coding not in CODINGS:
        raise UnsupportedMediaType(
            f"Content-Encoding {header[:40]!r} is not supported: send the body uncompressed, "
            f"or compressed with one of {', '.join(CODINGS)}."
        )
    return coding


def decompress(body: bytes, coding: str | None, *, limit: int) -> bytes | bytearray:
    """Inflate *body* sent with *coding*, refusing more than *limit* bytes of output (413)."""
    if coding is None:
        return body
    inflater = zlib.decompressobj(CODINGS[coding])
    out = bytearray()  # grown in place: no second copy of the inflated body
    size = 0
    pending = body
    try:
        while not inflater.eof:
            chunk = inflater.decompress(pending, min(_STEP, limit + 1 - size))
            pending = inflater.unconsumed_tail
            size += len(chunk)
            if size > limit:
                raise PayloadTooLarge(
                    f"The {coding} request body inflates to more than {limit} bytes; this "
                    "server accepts at most that much. Send fewer rows per request, or start "
                    "the server with a larger --max-body."
                )
            if not chunk:  # all input consumed and nothing more to give: the stream is cut
                break
            out += chunk
    except zlib.error as exc:
        raise BadRequest(
            f"The request body is not valid {coding} data ({exc}); compress it with {coding} "
            "or drop the Content-Encoding header."
        ) from None
    if not inflater.eof:
        raise BadRequest(
            f"The {coding} request body is truncated: the compressed stream does not end."
        )
    if inflater.unused_data:
        raise BadRequest(
            f"The {coding} request body has {len(inflater.unused_data)} bytes after the end "
            "of the compressed stream."
        )
    return out


def response_coding(accept_encoding: str | None) -> str | None:
    """The coding to answer with for an Accept-Encoding header: the client's preferred one."""
    if not accept_encoding:
        return None
    best, best_q = None, 0.0
    for item in accept_encoding.split(","):
        name, _, params = item.partition(";")
        name = name.strip().lower()
        if name not in CODINGS:
            continue
        q = 1.0
        for param in params.split(";"):
            key, _, value = param.partition("=")
            if key.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q:
            best, best_q = name, q
    return best


def compress(body: bytes, coding: str) -> bytes:
    """*body* compressed with *coding* (``gzip`` or ``deflate``)."""
    deflater = zlib.compressobj(wbits=CODINGS[coding])
    return deflater.compress(body) + deflater.flush()


Decode = TypeVar("Decode", bound=Callable[..., Any])


def inflating(decode: Decode, coding: str | None, *, limit: int) -> Decode:
    """*decode* taking a body sent with *coding*: inflated first (within *limit*, else 413)."""
    if coding is None:
        return decode

    def inflate_then_decode(body: bytes, *args: Any) -> Any:
        return decode(decompress(body, coding, limit=limit), *args)

    return cast(Decode, inflate_then_decode)
