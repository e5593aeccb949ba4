"""Shadow traffic: a copy of a share of a deployment's requests sent to another version.

After the primary has answered, a request drawn into the shadow's share leaves its
already decoded rows in the shadow's queue of copies (`Copies`, one per deployment and
shadow version), with the answer its client got: the client's response never waits for
it, and the shadow's answer is only recorded (compared with the client's, remembered for
feedback, and as an `Outcome` for the pool's sinks), never returned.

One task per queue (`Shadowing._pump`, running while copies wait) hands the shadow a
batch of copies at a time (gathered as they came, see `copies`; as one request to its
batcher) and records the batch's answers together: the event loop the primary's clients
wait for pays per batch, not per copy, for the shadow's future, timeout and agreement
check. A batch not answered within the timeout left to its oldest copy is cut off, and
a failing one (its queue full, its model raising) is counted, not logged per copy.

A shadow that cannot keep up (its batches take longer than the copies arrive) would
queue copies only to time them out later. So the queue holds at most the rows the
shadow can answer within its timeout (`copies.room`): whole batches, each taking what
the last answered one took from the queue to its answer (one batch after a timeout; for
a new queue the batcher's measured cost of a call; unmeasured, what its batcher queues).
A copy beyond them is cut off at once, counted as timed out, at the cost of a
comparison. With the queue empty a copy always goes, so the cost is measured afresh.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time

import numpy as np

from .answers import answer_of
from .copies import Bundle, Copies, room
from .outcomes import Outcome, OutcomeSink, tell_sinks
from .rows import Rows, slice_outputs
from .slot import Slot
from .split import Shadow
from .window import Window

log = logging.getLogger("maas_nb.serving")
_random = random.random
_clock = time.perf_counter


class Shadowing:
    """The shadow copies in flight and what became of them."""

    def __init__(self, sinks: list[OutcomeSink], window: Window | None = None) -> None:
        self.sinks = sinks
        self.window = window  # counts a shadow's failures and timeouts as its errors
        self.queues: dict[tuple[str, str], Copies] = {}
        self.tasks: set[asyncio.Task] = set()
        #: Per deployment: [sent, answered, timed out, failed] (for ``/metrics``).
        self.by_deployment: dict[str, list[int]] = {}

    def maybe_send(
        self,
        deployment: str,
        shadow: Shadow,
        rows: Rows,
        request_id: str,
        outputs: dict[str, np.ndarray] | None = None,
    ) -> None:
        """Copy *rows* to *shadow* for its percent of the calls (drawn at random), with
        the answer its client got (of *outputs*: compared with the shadow's)."""
        if _random() * 100.0 >= shadow.percent:
            return
        copies = self._copies(deployment, shadow, 1)
        theirs = None if outputs is None else answer_of(outputs)
        self._offer(deployment, copies, rows, request_id, _clock(), theirs)
        self._pumping(deployment, copies)

    def told(
        self,
        slot: Slot,
        label: str,
        notes: list[tuple[str, float]],
        outputs: dict[str, np.ndarray],
        offsets: list[int],
        rows: Rows,
    ) -> None:
        """A batch of version *label* of *slot* was answered (`Batcher.answered`): tell
        the window, and copy the batch's requests to the arm's shadow, all at once."""
        if self.window is not None:
            self.window.batch_answered(slot.name, label, notes, outputs, offsets)
        split = slot.split
        if split is None or split.shadow is None:
            return
        for arm in split.arms:
            if arm.label == label:
                if arm.shadow is not None:
                    self.send_all(slot.name, arm.shadow, rows, notes, outputs, offsets)
                return

    def send_all(
        self,
        deployment: str,
        shadow: Shadow,
        rows: Rows,
        notes: list[tuple[str, float]],
        outputs: dict[str, np.ndarray],
        offsets: list[int],
    ) -> None:
        """`maybe_send` each request of one answered batch (request i's rows are
        ``offsets[i]:offsets[i + 1]`` of *rows*, its id ``notes[i][0]``): at 100% and
        with room for them all, queued at once; with none left, all cut off at once."""
        k, percent = len(notes), shadow.percent
        picked = range(k) if percent >= 100 else [i for i in range(k) if _random() * 100 < percent]
        if not picked:
            return
        copies = self._copies(deployment, shadow, len(picked))
        theirs, now = answer_of(outputs), _clock()
        if len(picked) == k and (not copies.rows or copies.rows + offsets[k] <= copies.limit):
            copies.add_all(rows, offsets, [note[0] for note in notes], now, theirs)
        elif copies.rows and copies.rows >= copies.limit:  # no room for any: cut off now
            self.by_deployment[deployment][2] += len(picked)
            copies.cut += len(picked)
        else:
            for i in picked:
                start, stop = offsets[i], offsets[i + 1]
                answer = None if theirs is None else theirs[start:stop]
                part = rows.part(start, stop)  # its own: a copy may wait alone, or for a sink
                self._offer(deployment, copies, part, notes[i][0], now, answer)
        self._pumping(deployment, copies)

    def _copies(self, deployment: str, shadow: Shadow, sent: int) -> Copies:
        """*shadow*'s queue of *deployment*'s copies, with *sent* more counted as sent."""
        counts = self.by_deployment.get(deployment)
        if counts is None:
            counts = self.by_deployment[deployment] = [0, 0, 0, 0]
        counts[0] += sent
        copies = self.queues.get((deployment, shadow.label))
        if copies is None:
            copies = self.queues[deployment, shadow.label] = Copies(shadow)
        copies.shadow = shadow  # the latest split's: its batcher, timeout and label
        return copies

    def _offer(
        self,
        deployment: str,
        copies: Copies,
        rows: Rows,
        request_id: str,
        sent: float,
        theirs: np.ndarray | None,
    ) -> None:
        """Queue one copy, unless it would time out in the queue: cut off now."""
        if copies.rows and copies.rows + rows.n > copies.limit:
            self.by_deployment[deployment][2] += 1
            copies.cut += 1
        else:
            copies.add(rows, request_id, sent, theirs)

    def _pumping(self, deployment: str, copies: Copies) -> None:
        """Start *copies*' pump unless it runs (a pump that raised left its copies: a
        new one takes them)."""
        if copies.task is None:
            task = copies.task = asyncio.get_running_loop().create_task(
                self._pump(deployment, copies)
            )
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _pump(self, deployment: str, copies: Copies) -> None:
        """Hand the shadow the waiting copies a batch at a time, until none is left."""
        counts = self.by_deployment[deployment]
        try:
            while copies.bundles:
                start = _clock()
                expired = copies.expire(start)
                counts[2] += expired
                copies.cut += expired
                if not copies.bundles:
                    break
                rows, batch = copies.take()
                shadow = copies.shadow
                batcher = shadow.loaded.batcher
                try:
                    left = batch.sent[0] + shadow.timeout_s - start
                    outputs = await asyncio.wait_for(batcher.predict(rows), left)
                except asyncio.TimeoutError:  # not the builtin TimeoutError before Python 3.11
                    counts[2] += len(batch.ids)
                    copies.cut += len(batch.ids)
                    # Behind: a batch took all the time left. Queue one batch until
                    # one is answered in time (what timed out is still in its batcher).
                    copies.limit = room(shadow.timeout_s, shadow.timeout_s, batcher)
                except Exception:
                    counts[3] += len(batch.ids)  # a failure measures nothing: the limit stays
                    copies.cut += len(batch.ids)
                else:
                    counts[1] += len(batch.ids)
                    # What a batch took here (queued, predicted, answered) sizes the queue.
                    copies.limit = room(_clock() - start, shadow.timeout_s, batcher)
                    try:
                        self._answered(deployment, shadow, batch, outputs)
                    except Exception:  # a sink's fault must not stop the shadow
                        log.exception("recording the answers of shadow %s failed", shadow.label)
                self._count_cut(deployment, copies)
        finally:
            copies.task = None
            self._count_cut(deployment, copies)
            if not copies.bundles:  # idle: nothing keeps its split's models alive
                self.queues.pop((deployment, copies.shadow.label), None)

    def _count_cut(self, deployment: str, copies: Copies) -> None:
        """Count the copies cut off (timed out or failed) as the shadow's errors."""
        if copies.cut and self.window is not None:
            self.window.record_error(deployment, copies.shadow.label, copies.cut)
        copies.cut = 0

    def _answered(
        self,
        deployment: str,
        shadow: Shadow,
        batch: Bundle,
        outputs: dict[str, np.ndarray],
    ) -> None:
        """Give the shadow's answers to *batch* to the window all at once (it counts
        them if the deployment is watched) and to the sinks as an `Outcome` per copy
        they want (`tell_sinks`)."""
        now, at = _clock(), time.time()
        loaded = shadow.loaded
        offsets = batch.offsets
        if self.window is not None:
            self.window.record_copies(
                deployment,
                shadow.label,
                batch.ids,
                answer_of(outputs),
                offsets,
                [now - sent for sent in batch.sent],
                at,
                batch.theirs,
                batch.clients,
            )
        if not self.sinks:
            return
        for i, request_id in enumerate(batch.ids):

            def outcome(i: int = i, request_id: str = request_id) -> Outcome:
                return Outcome(
                    deployment,
                    loaded.name,
                    loaded.version,
                    request_id,
                    now - batch.sent[i],
                    offsets[i + 1] - offsets[i],
                    batch.rows_of(i),
                    slice_outputs(outputs, offsets[i], offsets[i + 1]),
                    True,
                    at,
                )

            tell_sinks(self.sinks, deployment, outcome)

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

    @property
    def waiting(self) -> int:
        """The copies queued for a shadow, not yet handed to it."""
        return sum(copies.waiting for copies in self.queues.values())

    async def stop(self) -> None:
        """Cancel the shadow copies still waiting."""
        for task in list(self.tasks):
            task.cancel()
        if self.tasks:
            await asyncio.wait(list(self.tasks))
