"""uvicorn's httptools protocol with deadlines and a connection cap (see `limits`).

uvicorn's protocol hands the parser's callbacks (``on_message_begin``,
``on_headers_complete``, ``on_body``, ``on_message_complete``) and its own
``on_response_complete`` to methods this subclass extends; each check is one timer,
armed and cancelled at those points.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from .limits import LINGER_S, ConnectionLimits, response_bytes

log = logging.getLogger("maas_nb.serving")


class GuardedProtocol(HttpToolsProtocol):
    limits = ConnectionLimits()
    _last_refusal_log = float("-inf")
    _refused_since_log = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_timer: asyncio.TimerHandle | None = None
        self._body_timer: asyncio.TimerHandle | None = None
        self._linger: asyncio.TimerHandle | None = None
        self._refused = False
        self._partial_request = False  # a request has begun but its headers are incomplete
        self._body_cycle: RequestResponseCycle | None = None  # whose body is being timed
        self._body_start = 0.0
        self._body_bytes = 0

    # -- connection ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        cap = self.limits.max_connections
        if cap and len(self.connections) >= cap:
            self._refuse(transport, cap)
            return
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        for timer in (self._header_timer, self._body_timer, self._linger):
            if timer is not None:
                timer.cancel()
        self._body_cycle = None
        if not self._refused:
            super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self._refused:
            return  # drained so that the client reads our 503 rather than a reset
        super().data_received(data)
        if (
            self._body_cycle is not None
            and self._body_timer is None
            and self.limits.min_body_rate
            and not self.transport.is_closing()
        ):
            self._body_timer = self.loop.call_at(self._body_deadline(), self._check_body)

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

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._partial_request = True

    def on_headers_complete(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None
        self._partial_request = False
        super().on_headers_complete()
        self._body_cycle, self._body_start, self._body_bytes = self.cycle, self.loop.time(), 0

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self._body_cycle is not None and self._body_cycle.response_complete:
            self._stop_body_clock()  # answered before its body was read: headers' clock now
        if not self.transport.is_closing() and (self.cycle is None or self.cycle.response_complete):
            self._arm_header_timer()

    def _arm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
        if self.limits.header_timeout:
            self._header_timer = self.loop.call_later(
                self.limits.header_timeout, self._headers_too_slow
            )

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self.transport.is_closing():
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

    def on_body(self, body: bytes) -> None:
        super().on_body(body)
        self._body_bytes += len(body)

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._stop_body_clock()

    def _stop_body_clock(self) -> None:
        self._body_cycle = None
        if self._body_timer is not None:
            self._body_timer.cancel()
            self._body_timer = None

    def _body_deadline(self) -> float:
        return (
            self._body_start + self.limits.body_grace + self._body_bytes / self.limits.min_body_rate
        )

    def _check_body(self) -> None:
        self._body_timer = None
        cycle = self._body_cycle
        if cycle is None or cycle.response_complete or self.transport.is_closing():
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


def _peer(client: tuple[str, int] | None) -> str:
    return f"{client[0]}:{client[1]}" if client else "a connection"
