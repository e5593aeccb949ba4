"""Shadow traffic: a copy of a share of a deployment's requests sent to another version.

After the primary has answered, a request drawn into the shadow's share queues its
already decoded rows on the shadow version's batcher, in a task of its own: the client's
response never waits for it, and the shadow's answer is only recorded (as an `Outcome`
for the pool's sinks), never returned. A shadow slower than its timeout is cut off, and
a failing one (its queue full, its model raising) is counted, not logged per request.
"""

from __future__ import annotations

import asyncio
import random
import time

from .outcomes import Outcome, OutcomeSink
from .rows import Rows
from .split import Shadow
from .window import Window

_random = random.random


class Shadowing:
    """The shadow copies in flight and what became of them."""

    def __init__(self, sinks: list[OutcomeSink], window: Window | None = None) -> None:
        self.sinks = sinks
        self.window = window  # counts a shadow's failures and timeouts as its errors
        self.tasks: set[asyncio.Task] = set()
        self.sent = 0
        self.answered = 0
        self.timed_out = 0
        self.failed = 0
        #: Per deployment: [sent, answered, timed out, failed] (for ``/metrics``).
        self.by_deployment: dict[str, list[int]] = {}

    def maybe_send(self, deployment: str, shadow: Shadow, rows: Rows, request_id: str) -> None:
        """Copy *rows* to *shadow* for *percent* of the calls (drawn at random)."""
        if _random() * 100.0 >= shadow.percent:
            return
        self.sent += 1
        self._count(deployment, 0)
        task = asyncio.get_running_loop().create_task(
            self._run(deployment, shadow, rows, request_id)
        )
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _run(self, deployment: str, shadow: Shadow, rows: Rows, request_id: str) -> None:
        start = time.perf_counter()
        try:
            outputs = await asyncio.wait_for(shadow.loaded.batcher.predict(rows), shadow.timeout_s)
        except TimeoutError:
            self.timed_out += 1
            self._count(deployment, 2)
            if self.window is not None:
                self.window.record_error(deployment, shadow.label)
            return
        except Exception:
            self.failed += 1  # a shadow's failure is its own: the client has its answer
            self._count(deployment, 3)
            if self.window is not None:
                self.window.record_error(deployment, shadow.label)
            return
        self.answered += 1
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

    def _count(self, deployment: str, which: int) -> None:
        counts = self.by_deployment.get(deployment)
        if counts is None:
            counts = self.by_deployment[deployment] = [0, 0, 0, 0]
        counts[which] += 1

    async def stop(self) -> None:
        """Cancel the shadow copies still waiting."""
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks))
