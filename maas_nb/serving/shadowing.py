"""Shadow traffic: a copy of a share of a deployment's requests sent to another version.

After the primary has answered, a request drawn into the shadow's share queues its
already decoded rows on the shadow version's batcher, in a task of its own: the client's
response never waits for it, and the shadow's answer is only recorded (as an `Outcome`
for the pool's sinks), never returned. A shadow slower than its timeout is cut off, and
a failing one (its queue full, its model raising) is counted, not logged per request.

A shadow that cannot keep up (its batches take longer than the copies arrive) would
queue copies only to time them out a second later, each costing the event loop two
tasks, a timer and a cancellation: time the primary's clients wait for. So a copy that
would queue behind more batches than the shadow can finish within its timeout (by the
batcher's measured cost of a call) is cut off at once, counted as timed out,
without being queued; with nothing queued a copy always goes, so the cost is measured
afresh.
"""

from __future__ import annotations

import asyncio
import functools
import random
import time

import numpy as np

from .batching import Batcher
from .outcomes import Outcome, OutcomeSink
from .rows import Rows
from .split import Shadow
from .window import Window

_random = random.random


def behind(batcher: Batcher, rows: int, timeout_s: float) -> bool:
    """Whether *rows* queued now on *batcher* would wait past *timeout_s*: the batches
    ahead of them (full ones: a shadow behind is saturated) take longer, at the cost per
    call the batcher measured. Never with an empty queue or an unmeasured model."""
    queued = batcher.queued_rows
    if not queued:
        return False
    cost = batcher.cost
    if cost is None:
        return False
    batches = -(-(queued + rows) // batcher.max_batch_size)  # ceil
    return batches * cost > timeout_s


class Shadowing:
    """The shadow copies in flight and what became of them.

    A copy of at most one batch is queued with `Batcher.submit` and followed by callbacks
    (its answer, its timeout), not by a task: a shadow's answers arrive a batch at a time,
    and a task per copy would wake up a batch at a time on the loop the primary's clients
    wait for. A bigger copy runs in a task of its own."""

    def __init__(self, sinks: list[OutcomeSink], window: Window | None = None) -> None:
        self.sinks = sinks
        self.window = window  # counts a shadow's failures and timeouts as its errors
        self.tasks: set[asyncio.Task] = set()
        self.pending: set[asyncio.Future] = set()
        #: Per deployment: [sent, answered, timed out, failed] (for ``/metrics``).
        self.by_deployment: dict[str, list[int]] = {}

    def maybe_send(self, deployment: str, shadow: Shadow, rows: Rows, request_id: str) -> None:
        """Copy *rows* to *shadow* for *percent* of the calls (drawn at random)."""
        if _random() * 100.0 >= shadow.percent:
            return
        self._count(deployment, 0)
        batcher = shadow.loaded.batcher
        if behind(batcher, rows.n, shadow.timeout_s):
            self._timed_out(deployment, shadow)  # it would time out in the queue: cut off now
            return
        if rows.n > batcher.max_batch_size:
            task = asyncio.get_running_loop().create_task(
                self._run(deployment, shadow, rows, request_id)
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)
            return
        try:
            future = batcher.submit(rows)
        except Exception:
            self._failed(deployment, shadow)
            return
        start = time.perf_counter()
        timer = future.get_loop().call_later(shadow.timeout_s, future.cancel)
        self.pending.add(future)
        future.add_done_callback(
            functools.partial(self._done, deployment, shadow, rows, request_id, start, timer)
        )

    def _done(
        self,
        deployment: str,
        shadow: Shadow,
        rows: Rows,
        request_id: str,
        start: float,
        timer: asyncio.TimerHandle,
        future: asyncio.Future,
    ) -> None:
        timer.cancel()
        self.pending.discard(future)
        if future.cancelled():
            self._timed_out(deployment, shadow)
            return
        if future.exception() is not None:
            self._failed(deployment, shadow)
            return
        self._answered(deployment, shadow, rows, request_id, start, future.result())

    async def _run(self, deployment: str, shadow: Shadow, rows: Rows, request_id: str) -> None:
        start = time.perf_counter()
        try:
            outputs = await asyncio.wait_for(shadow.loaded.batcher.predict(rows), shadow.timeout_s)
        except TimeoutError:
            self._timed_out(deployment, shadow)
            return
        except Exception:
            self._failed(deployment, shadow)
            return
        self._answered(deployment, shadow, rows, request_id, start, outputs)

    def _answered(
        self,
        deployment: str,
        shadow: Shadow,
        rows: Rows,
        request_id: str,
        start: float,
        outputs: dict[str, np.ndarray],
    ) -> None:
        self._count(deployment, 1)
        if self.sinks:
            loaded = shadow.loaded
            outcome = Outcome(
                deployment,
                loaded.name,
                loaded.version,
                request_id,
                time.perf_counter() - start,
                rows.n,
                rows,
                outputs,
                True,
                time.time(),
            )
            for sink in self.sinks:
                sink.record(outcome)

    def _timed_out(self, deployment: str, shadow: Shadow) -> None:
        """A copy cut off (by its timeout, or before queueing): the shadow's error."""
        self._count(deployment, 2)
        if self.window is not None:
            self.window.record_error(deployment, shadow.label)

    def _failed(self, deployment: str, shadow: Shadow) -> None:
        """A copy refused or raised: the shadow's error; the client has its answer."""
        self._count(deployment, 3)
        if self.window is not None:
            self.window.record_error(deployment, shadow.label)

    # The totals over every deployment (`by_deployment` holds them per deployment).
    @property
    def sent(self) -> int:
        return self._total(0)

    @property
    def answered(self) -> int:
        return self._total(1)

    @property
    def timed_out(self) -> int:
        return self._total(2)

    @property
    def failed(self) -> int:
        return self._total(3)

    def _total(self, which: int) -> int:
        return sum(counts[which] for counts in self.by_deployment.values())

    def _count(self, deployment: str, which: int) -> None:
        counts = self.by_deployment.get(deployment)
        if counts is None:
            counts = self.by_deployment[deployment] = [0, 0, 0, 0]
        counts[which] += 1

    async def stop(self) -> None:
        """Cancel the shadow copies still waiting."""
        for future in list(self.pending):
            future.cancel()
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks))
