"""Connection limits: slow, idle or too many clients cannot hold the server's sockets.

uvicorn bounds neither how long a client may take to send its request headers nor how
slowly it may send a body, and it keeps a fresh connection that never sends a byte
forever. `guarded_protocol` returns uvicorn's own httptools protocol with four additions:

- **Header deadline.** A request's headers must be complete within ``header_timeout``
  seconds of the connection opening, or of the previous response on a kept-alive
  connection. Past it the server answers 408 (if part of a request came) and closes.
- **Minimum body rate**, Apache ``mod_reqtimeout``'s rule: a body may take
  ``body_grace`` seconds plus one second for every ``min_body_rate`` bytes received.
  Time the server itself is not reading (flow control, a pending ``100-continue``)
  restarts the clock. Past it: 408 and close.
- **Header size.** A request line and headers larger than ``max_header_bytes`` get
  431 Request Header Fields Too Large and the connection closes, as Node and nginx-style
  servers refuse them; httptools alone would buffer a header of any size.
- **Idle keep-alive** connections close after ``keep_alive_timeout`` (uvicorn's timer).
- **Connection cap.** Past ``max_connections`` open connections a new one gets an
  immediate 503 with a JSON error and ``Connection: close``; the server then reads and
  drops what the client sends for at most a second (so the client sees the answer, not
  a reset) and closes.

A limit of 0 turns that check off. The checks are deadlines kept in attributes and one
timer per connection that compares against them when it fires, so a fast request pays a
few attribute writes and no timer of its own.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import math
from dataclasses import asdict, dataclass, fields
from typing import Any

from ..exceptions import ConfigurationError

log = logging.getLogger("maas_nb.serving")

#: Files the server needs besides its connections (listening socket, registry, models).
FD_HEADROOM = 128
#: How long a refused connection is drained before it is closed.
LINGER_S = 1.0
_REFUSAL_LOG_EVERY_S = 10.0

_FLAGS = {
    "header_timeout": ("--header-timeout", float, "S", "seconds for a request's headers"),
    "min_body_rate": ("--min-body-rate", float, "B", "slowest accepted body, bytes/s"),
    "body_grace": ("--body-grace", float, "S", "seconds before the body rate counts"),
    "keep_alive_timeout": ("--keep-alive-timeout", float, "S", "seconds idle before closing"),
    "max_header_bytes": ("--max-header-bytes", int, "B", "largest request line and headers"),
    "max_connections": ("--max-connections", int, "N", "open connections before a 503"),
}


@dataclass(frozen=True)
class ConnectionLimits:
    """How long and how slowly a client may talk to the server, and how many at once.

    Parameters
    ----------
    header_timeout:
        Seconds for a request's headers to arrive (from the connection, or from the
        previous response on a kept-alive connection).
    min_body_rate:
        Slowest accepted request body in bytes/s, counted after *body_grace* seconds.
    body_grace:
        Seconds a body may take before its rate counts.
    keep_alive_timeout:
        Seconds an idle kept-alive connection stays open.
    max_header_bytes:
        Largest request line and headers in bytes; a bigger request gets 431.
    max_connections:
        Open connections past which a new one is refused with 503.
    """

    header_timeout: float = 10.0
    min_body_rate: float = 1024.0
    body_grace: float = 10.0
    keep_alive_timeout: float = 5.0
    max_header_bytes: int = 64 * 1024
    max_connections: int = 1000

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            number = not isinstance(value, bool) and isinstance(value, (int, float))
            if not number or not 0 <= value < math.inf:
                flag = _FLAGS[f.name][0]
                raise ConfigurationError(
                    f"{f.name} (maas serve {flag}) must be a finite number >= 0 (0 turns the "
                    f"check off), got {value!r}."
                )

    def as_args(self) -> list[str]:
        """The ``maas serve`` options that start a server with these limits."""
        return [
            arg for f in fields(self) for arg in (_FLAGS[f.name][0], str(getattr(self, f.name)))
        ]

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def add_arguments(parser: argparse.ArgumentParser, title: str) -> None:
    """Declare the limits as command-line options under *title* (unset ones stay None)."""
    group = parser.add_argument_group(title, "0 turns a check off")
    defaults = ConnectionLimits()
    for name, (flag, kind, metavar, text) in _FLAGS.items():
        group.add_argument(
            flag,
            type=kind,
            default=None,
            metavar=metavar,
            help=f"{text} (default {getattr(defaults, name):g})",
        )


def from_arguments(args: argparse.Namespace) -> ConnectionLimits | None:
    """The limits given on the command line over the defaults; None if none was given."""
    given = {name: getattr(args, name) for name in _FLAGS if getattr(args, name) is not None}
    return ConnectionLimits(**given) if given else None


def fit_open_files(limits: ConnectionLimits) -> ConnectionLimits:
    """Raise the open-file limit for *limits*' connections, or lower the cap to fit it."""
    try:
        import resource
    except ImportError:  # not a POSIX system: the OS decides
        return limits
    if not limits.max_connections:
        return limits
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    needed = limits.max_connections + FD_HEADROOM
    if soft != resource.RLIM_INFINITY and soft < needed:
        raised = needed if hard == resource.RLIM_INFINITY else min(hard, needed)
        if raised > soft:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
            log.info(
                "raised the open-file limit (ulimit -n) from %d to %d for %d connections",
                soft,
                raised,
                limits.max_connections,
            )
            soft = raised
    if soft != resource.RLIM_INFINITY and soft < needed:
        cap = max(1, soft - FD_HEADROOM)
        log.warning(
            "the open-file limit (ulimit -n) is %d and its hard limit %s: serving at most %d "
            "connections instead of %d (raise the hard limit to allow more)",
            soft,
            hard,
            cap,
            limits.max_connections,
        )
        return ConnectionLimits(**{**limits.as_dict(), "max_connections": cap})
    return limits


def response_bytes(
    status: int, message: str, default_headers: list[tuple[bytes, bytes]], **extra: str
) -> bytes:
    """A complete HTTP/1.1 response carrying ``{"error": message}`` that closes the connection."""
    from uvicorn.protocols.http.httptools_impl import STATUS_LINE

    body = json.dumps({"error": message}).encode()
    headers = [
        *default_headers,
        (b"content-type", b"application/json"),
        (b"content-length", str(len(body)).encode()),
        (b"connection", b"close"),
        *((k.lower().replace("_", "-").encode(), v.encode()) for k, v in extra.items()),
    ]
    head = b"".join(k + b": " + v + b"\r\n" for k, v in headers)
    return STATUS_LINE[status] + head + b"\r\n" + body


def guarded_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """uvicorn's httptools protocol class, enforcing *limits* (pass it as ``http=``)."""
    from .guard import GuardedProtocol

    return type("GuardedProtocol", (GuardedProtocol,), {"limits": limits})
