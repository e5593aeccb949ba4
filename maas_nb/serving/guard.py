"""uvicorn's httptools protocol with deadlines, a header size cap and a connection cap
(see `limits`).

Fast requests must pay nothing for the checks, so nothing here is armed per request:
a request's progress is noted in ``data_received`` (its headers are complete once
uvicorn has made it a new cycle) and ``on_response_complete`` as a deadline in an
attribute, and one timer per connection, re-armed only when it fires early, compares
the clock against it.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from .limits import LINGER_S, ConnectionLimits, response_bytes
from .onewrite import OneWrite

log = logging.getLogger("maas_nb.serving")


class GuardedProtocol(HttpToolsProtocol):
    limits = ConnectionLimits()
    _last_refusal_log = float("-inf")
    _refused_since_log = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._refused = False
        self._linger: asyncio.TimerHandle | None = None
        # Headers: when the next request's headers must be complete (None: not waiting).
        self._header_deadline: float | None = None
        self._header_timer: asyncio.TimerHandle | None = None
        self._partial_request = False  # bytes came since we started waiting for headers
        self._seen_cycle: RequestResponseCycle | None = None
        # Body: the request whose body is arriving, since when, and how much of it.
        self._body_cycle: RequestResponseCycle | None = None
        self._body_start = 0.0
        self._body_bytes = 0
        self._body_timer: asyncio.TimerHandle | None = None
        # Header size: bytes read since the last request's headers ended, outside bodies.
        self._header_bytes = 0
        self._headers_done = 0
        self._in_body = False
        self._oversized = False  # past the limit while earlier requests are still answered

    # -- connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        cap = self.limits.max_connections
        if cap and len(self.connections) >= cap:
            self._refuse(transport, cap)
            return
        super().connection_made(transport)
        self._expect_headers()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._body_timer, self._linger):
            if timer is not None:
                timer.cancel()
        self._header_deadline = self._body_cycle = None
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused or self._oversized:
            return  # drained so that the client reads our answer rather than a reset
        limit = self.limits.max_header_bytes
        rest = memoryview(data)
        while True:
            if not limit or self._in_body or len(rest) <= limit - self._header_bytes:
                self._header_bytes += 0 if self._in_body else len(rest)
                self._feed(rest)
                break
            # This read would take the headers past the limit: the parser gets what fits,
            # and if that does not finish them, nothing more is read. A loop, not a
            # recursion: one read may hold thousands of small pipelined requests.
            room, done = limit - self._header_bytes, self._headers_done
            self._header_bytes = limit
            self._feed(rest[:room])
            if self._headers_done == done:
                self._oversized = True
            if self._oversized or self.transport.is_closing():
                break
            rest = rest[room:]  # the body, or the next request's headers
        if self._oversized and not self.transport.is_closing():
            if self.cycle is not None and not self.cycle.response_complete:
                self.flow.pause_reading()  # requests pipelined before it are answered first
            else:
                self._refuse_headers()

    def on_headers_complete(self) -> None:
        if self._oversized:
            return  # nothing after an oversized request becomes a request
        self._headers_done += 1
        self._in_body, self._header_bytes = True, 0
        limit = self.limits.max_header_bytes
        if limit and _head_size(self) > limit:
            # Bytes read with the end of an earlier request were not counted above.
            self._oversized = True
            return
        super().on_headers_complete()
        cycle = self.cycle
        if cycle is not None and cycle.transport is self.transport:
            cycle.transport = OneWrite(self.transport, self.loop)  # type: ignore[assignment]

    def on_body(self, body: bytes) -> None:
        if not self._oversized:
            super().on_body(body)

    def on_message_complete(self) -> None:
        self._in_body = False
        if not self._oversized:
            super().on_message_complete()

    def _refuse_headers(self) -> None:
        self._reply_and_close(
            431,
            f"The request line and headers are larger than {self.limits.max_header_bytes} "
            "bytes, this server's limit (maas serve --max-header-bytes); send smaller "
            "headers, such as a shorter cookie or token.",
        )

    def _feed(self, data: memoryview) -> None:
        if self._header_deadline is not None:
            self._partial_request = True
        super().data_received(data)  # type: ignore[arg-type]  # httptools reads any buffer
        cycle = self.cycle
        if cycle is not self._seen_cycle:  # uvicorn made a new request: its headers are in
            self._seen_cycle = cycle
            self._header_deadline = None
            if not cycle.more_body:
                self._body_cycle = None
                return  # no body, or all of it came with the headers
            self._body_cycle, self._body_start = cycle, self.loop.time()
            self._body_bytes = len(cycle.body)
        elif self._body_cycle is not None:
            self._body_bytes += len(data)
        else:
            return
        if (
            self._body_timer is None
            and self._body_cycle.more_body
            and self.limits.min_body_rate
            and not self.transport.is_closing()
        ):
            self._body_timer = self.loop.call_at(self._body_deadline(), self._check_body)

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.transport.is_closing():
            return
        if self.cycle is None or self.cycle.response_complete:  # no request waits: the next one
            if self._oversized:
                self._refuse_headers()
                return
            self._expect_headers()

    def _refuse(self, transport: asyncio.Transport, cap: int) -> None:
        self.transport, self._refused = transport, True
        transport.write(
            response_bytes(
                503,
                f"This server has reached its limit of {cap} open connections "
                "(maas serve --max-connections); retry shortly.",
                self.server_state.default_headers,
                retry_after="1",
            )
        )
        if transport.can_write_eof():
            transport.write_eof()
        self._linger = self.loop.call_later(LINGER_S, transport.close)
        cls = GuardedProtocol
        cls._refused_since_log += 1
        now = self.loop.time()
        if now - cls._last_refusal_log >= 10.0:
            log.warning(
                "refused %d connection(s): %d are open, the limit is %d (--max-connections)",
                cls._refused_since_log,
                len(self.connections),
                cap,
            )
            cls._last_refusal_log, cls._refused_since_log = now, 0

    # -- headers ------------------------------------------------------------------------

    def _expect_headers(self) -> None:
        if not self.limits.header_timeout:
            return
        self._header_deadline = self.loop.time() + self.limits.header_timeout
        self._partial_request = False
        if self._header_timer is None:
            self._header_timer = self.loop.call_at(self._header_deadline, self._check_headers)

    def _check_headers(self) -> None:
        self._header_timer = None
        deadline = self._header_deadline
        if deadline is None or self.transport.is_closing():
            return  # a request is in, or the connection is going: no deadline now
        if self.loop.time() < deadline:
            self._header_timer = self.loop.call_at(deadline, self._check_headers)
            return
        if not self._partial_request:
            self.transport.close()  # an idle connection: nothing to answer
            return
        self._reply_and_close(
            408,
            f"The request headers did not arrive within {self.limits.header_timeout:g} s of "
            "the connection opening (or of the previous response); this server closes such "
            "connections (maas serve --header-timeout). Send the whole request at once.",
        )

    # -- body ---------------------------------------------------------------------------

    def _body_deadline(self) -> float:
        return (
            self._body_start + self.limits.body_grace + self._body_bytes / self.limits.min_body_rate
        )

    def _check_body(self) -> None:
        self._body_timer = None
        cycle = self._body_cycle
        if cycle is None or not cycle.more_body or cycle.response_complete:
            self._body_cycle = None  # all in, or answered: the headers' clock runs now
            return
        if self.transport.is_closing():
            return
        now = self.loop.time()
        if self.flow.read_paused or cycle.waiting_for_100_continue:
            # The server, not the client, is the one waiting: start counting afresh.
            self._body_start, self._body_bytes = now, 0
        elif now >= self._body_deadline():
            elapsed = now - self._body_start
            self._reply_and_close(
                408,
                f"The request body arrived too slowly: {self._body_bytes} bytes in "
                f"{elapsed:.0f} s; this server needs at least {self.limits.min_body_rate:g} "
                f"bytes/s after the first {self.limits.body_grace:g} s "
                "(maas serve --min-body-rate, --body-grace).",
                cycle,
            )
            return
        self._body_timer = self.loop.call_at(self._body_deadline(), self._check_body)

    # -- answering ----------------------------------------------------------------------

    def _reply_and_close(
        self, status: int, message: str, cycle: RequestResponseCycle | None = None
    ) -> None:
        if cycle is None or not cycle.response_started:
            self.transport.write(response_bytes(status, message, self.server_state.default_headers))
        if cycle is not None and not cycle.response_complete:
            # The app waiting on this request's body gets a disconnect; what it would
            # still send is dropped.
            cycle.disconnected = True
            cycle.message_event.set()
        log.debug("closing %s: %s", _peer(self.client), message)
        self.transport.close()


def _head_size(protocol: HttpToolsProtocol) -> int:
    """The size of the request line and headers the parser has just read (CRLFs included)."""
    line = len(protocol.parser.get_method()) + len(protocol.url) + len(" HTTP/1.1\r\n") + 1
    return line + sum(len(k) + len(v) + 4 for k, v in protocol.headers) + 2


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "a connection"
