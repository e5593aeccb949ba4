"""A response's status line and headers sent with its body, in one write to the socket.

uvicorn writes a response's head as soon as the app starts the response, and its body
when the app sends it: two system calls, and two TCP segments the client wakes up for,
where one would do. Starlette sends the body straight after the head, in the same step
of the event loop, so the head is held until then and both go out in one write. A head
with no body after it in that step (a HEAD request, an app that failed after starting
its answer, a body still being made) goes out at the end of the step, as it is; so
does one before the transport is closed.
"""

from __future__ import annotations

import asyncio
from typing import Any

#: A body bigger than this is written after the head rather than copied onto it.
MAX_JOINED = 64 * 1024
_CONTINUE = b"HTTP/1.1 100 "


class OneWrite:
    """The transport one request's cycle writes to: the real one, with its head held."""

    __slots__ = ("_held", "_loop", "_transport", "_waiting")

    def __init__(self, transport: asyncio.Transport, loop: asyncio.AbstractEventLoop) -> None:
        self._transport = transport
        self._loop = loop
        self._held: bytes | None = None
        self._waiting = True  # the head has not been written yet

    def write(self, data: bytes) -> None:
        held = self._held
        if held is not None:
            self._held = None
            if len(data) <= MAX_JOINED:
                self._transport.write(held + data)
                return
            self._transport.write(held)
        elif self._waiting and data.startswith(b"HTTP/") and not data.startswith(_CONTINUE):
            self._waiting = False
            self._held = data
            self._loop.call_soon(self.flush)
            return
        self._transport.write(data)

    def flush(self) -> None:
        """Write the held head, if any (nothing followed it in its step)."""
        held = self._held
        if held is not None:
            self._held = None
            if not self._transport.is_closing():
                self._transport.write(held)

    def close(self) -> None:
        self.flush()
        self._transport.close()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._transport, name)
