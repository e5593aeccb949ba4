"""Where a request body is decoded: inline when small, on a bounded worker pool when big.

A body under `BIG` bytes is decoded on the event loop, as before: that costs microseconds
and keeps the one-connection hot path free of thread hand-offs. A bigger one is decoded
on one of `WORKERS` threads (see `dense` for how that parse keeps yielding the GIL, so
health checks are answered meanwhile), and is admitted only within a byte budget:
``budget`` bytes of big bodies may be in flight (received or decoded) at once, by default
twice the largest body, so eight 16 MiB bodies sent together use the memory of two.
The budget is taken before the body is read, so a waiting body stays in the client's
socket. A request that waits longer than `WAIT` seconds for its turn gets 503 with
``Retry-After``.
"""

from __future__ import annotations

import asyncio
import collections
import contextvars
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any, TypeVar

from .errors import Unavailable

DEFAULT_MAX_BODY = 16 * 1024 * 1024
BIG = 64 * 1024
WORKERS = 2
WAIT = 10.0
SWITCH = 0.001

T = TypeVar("T")

#: The server's --max-body, for decoders on worker threads that bound what a body becomes.
MAX_BODY: contextvars.ContextVar[int] = contextvars.ContextVar(
    "maas_max_body", default=DEFAULT_MAX_BODY
)


class Decoder:
    """The worker threads and the byte budget for big request bodies of one server."""

    def __init__(
        self, budget: int, *, wait: float = WAIT, max_body: int = DEFAULT_MAX_BODY
    ) -> None:
        self.budget = budget
        self.max_body = max_body
        self.wait = wait
        self.in_flight = 0
        self._waiting: collections.deque[tuple[int, asyncio.Future[None]]] = collections.deque()
        self._executor = ThreadPoolExecutor(WORKERS, thread_name_prefix="maas-decode")
        self._running = 0
        self._interval = sys.getswitchinterval()

    async def acquire(self, size: int) -> int:
        """Take *size* bytes of the budget, in arrival order; return what to `release`.

        A body bigger than the whole budget takes all of it."""
        size = min(size, self.budget)
        if not self._waiting and self.in_flight + size <= self.budget:
            self.in_flight += size
            return size
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._waiting.append((size, turn))
        try:
            await asyncio.wait_for(turn, self.wait)
        except asyncio.TimeoutError:
            self._grant()  # the ones behind this request may fit now
            raise Unavailable(
                f"The server is already decoding {self.in_flight} bytes of large request "
                f"bodies (its limit is {self.budget}) and this one waited {self.wait:g} s; "
                "retry, or send smaller requests.",
                headers={"Retry-After": "1"},
            ) from None
        except asyncio.CancelledError:
            if turn.done() and not turn.cancelled():
                self.release(size)
            else:
                self._grant()
            raise
        return size

    def release(self, size: int) -> None:
        """Give back what `acquire` returned. Synchronous: callers rely on not awaiting."""
        self.in_flight -= size
        self._grant()

    def _grant(self) -> None:
        while self._waiting:
            size, turn = self._waiting[0]
            if turn.done():  # timed out or cancelled
                self._waiting.popleft()
            elif self.in_flight + size <= self.budget:
                self._waiting.popleft()
                self.in_flight += size
                turn.set_result(None)
            else:
                return

    async def run(self, fn: Callable[..., T], *args: Any) -> T:
        """``fn(*args)`` on a decoding thread, with `MAX_BODY` set to the server's.

        While one runs, the interpreter's switch interval is `SWITCH` instead of 5 ms: the
        event loop, wanting the GIL back for a health check, waits that long at most for
        each of the few times it needs it per request."""
        if not self._running:
            self._interval = sys.getswitchinterval()
            sys.setswitchinterval(SWITCH)
        self._running += 1
        try:
            context = contextvars.copy_context()
            context.run(MAX_BODY.set, self.max_body)
            return await asyncio.get_running_loop().run_in_executor(
                self._executor, context.run, fn, *args
            )
        finally:
            self._running -= 1
            if not self._running:
                sys.setswitchinterval(self._interval)
