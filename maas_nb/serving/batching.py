"""Adaptive batching: requests for one model are queued and predicted together.

A batch counts rows, not requests. The batcher predicts as soon as the model is free
and nobody else is expected: a lone client's request goes straight through, with no
added wait. Under load, the requests that queued while the model was busy form the next
batch, and the batcher waits (at most ``max_latency_ms`` after the oldest request
arrived, never past ``max_batch_size`` rows) while more requests are on their way: ones
being received right now, or the clients of the batch that has just been answered, who
typically send their next request within a round trip, as long as requests have lately
come here more often than a call of the model takes (a version with a tenth of a
split's traffic sees a tenth of those clients come back: waiting for the rest would
only delay it). Requests bigger than a batch are split and reassembled. The queue is
bounded and answers 503 when full.

Where a batch is predicted, on the event loop or on the model's own worker thread,
follows what the model's calls cost (`call_costs`); a shadow's model is called in a
process of its own instead (`model_process`). Either way one call at a time: a model
need not be thread-safe.
"""

from __future__ import annotations

import asyncio
import collections
import logging
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .call_costs import INLINE_ALONE_S, INLINE_S, CallCosts
from .errors import BadRequest, PayloadTooLarge, Unavailable
from .model_process import ModelProcess
from .rows import Rows, concat, slice_outputs

Outputs = dict[str, np.ndarray]
log = logging.getLogger("maas_nb.serving")

#: The weight of the latest gap in the moving average of the time between requests.
GAP_WEIGHT = 0.1


#: Told each batch's answers to the requests that left a note (see `Batcher.predict`):
#: their notes, the batch's outputs, each one's rows in them (request i's are
#: ``offsets[i]:offsets[i + 1]``; the rows of the batch's other requests are in none),
#: and the rows they answer, as the model got them (a shadow copies them all at once).
Answered = Callable[[list[Any], Outputs, list[int], Rows], None]


@dataclass
class _Item:
    rows: Rows
    future: asyncio.Future
    queued_at: float = field(default_factory=time.monotonic)
    note: Any = None  # given to `Batcher.answered` with the answer


class Batcher:
    """Queues rows for one loaded model and predicts them in batches."""

    def __init__(
        self,
        predict: Callable[[Rows], Outputs] | None,
        *,
        name: str,
        max_batch_size: int = 64,
        max_latency_ms: float = 5.0,
        max_queue_rows: int | None = None,
        observe_batch: Callable[[int, float], None] | None = None,
        answered: Answered | None = None,
        process: ModelProcess | None = None,
    ) -> None:
        self._predict = predict
        #: The model's own process (*predict* unused): every batch is called there.
        self.process = process
        self.name = name
        self.max_batch_size = max(1, int(max_batch_size))
        self.max_latency = max(0.0, float(max_latency_ms)) / 1000
        self.max_queue_rows = max_queue_rows or max(4096, 16 * self.max_batch_size)
        self._observe_batch = observe_batch
        #: Told the answers of the requests that left a note, a batch at a time.
        self.answered = answered
        self._queue: collections.deque[_Item] = collections.deque()
        self.queued_rows = 0
        self.arriving = 0  # requests for this model being received right now
        self._wakeup = asyncio.Event()
        self._executor = ThreadPoolExecutor(1, thread_name_prefix=f"maas-predict-{name}")
        self._closing = False
        self._last_batch_requests = 0  # how many requests the previous batch answered
        #: What a call of the rows the previous batch held costs (`_arriving_often`).
        self._expected_cost: float | None = None
        self._last_batch_done = 0.0
        self._timed_out = False  # the wait for more requests ran out (`_time_up`)
        self._last_arrival = 0.0  # time.monotonic() of the latest request
        self._gap: float | None = None  # moving average of the time between requests
        self.costs = CallCosts()  # what its calls cost, on the loop and on its thread
        self._task = asyncio.get_running_loop().create_task(self._run())

    async def predict(self, rows: Rows, note: Any = None) -> Outputs:
        """Predict *rows*; return outputs holding exactly those rows, in order.

        A *note* (not None) goes to `answered` with the answer, as part of its batch's,
        before this returns; only with rows of one batch (``max_batch_size``: a request
        split into parts leaves none), and not if the model raised."""
        if self._closing:
            raise Unavailable(
                f"Model {self.name!r} is being replaced; retry.", headers={"Retry-After": "1"}
            )
        if rows.n > self.max_queue_rows:
            raise PayloadTooLarge(
                f"The request has {rows.n} rows; model {self.name!r} queues at most "
                f"{self.max_queue_rows}. Split it into smaller requests."
            )
        if self.queued_rows + rows.n > self.max_queue_rows:
            raise Unavailable(
                f"Model {self.name!r} has {self.queued_rows} rows queued (limit "
                f"{self.max_queue_rows}); retry shortly.",
                headers={"Retry-After": "1"},
            )
        loop = asyncio.get_running_loop()
        # The common case is one part: awaited alone, without a gather.
        parts = (rows,) if rows.n <= self.max_batch_size else rows.split(self.max_batch_size)
        futures = []
        now = time.monotonic()
        if self._last_arrival:
            gap = now - self._last_arrival
            self._gap = gap if self._gap is None else self._gap + GAP_WEIGHT * (gap - self._gap)
        self._last_arrival = now
        if len(parts) > 1:
            note = None
        for part in parts:
            item = _Item(part, loop.create_future(), now, note)
            self._queue.append(item)
            self.queued_rows += part.n
            futures.append(item.future)
        self._wakeup.set()
        if len(futures) == 1:
            return await futures[0]
        results = await asyncio.gather(*futures)
        return {k: np.concatenate([r[k] for r in results]) for k in results[0]}

    def submit(self, rows: Rows) -> asyncio.Future:
        """Queue *rows* (at most one batch) and return the future of their outputs, with
        no coroutine or task: for copies nobody waits for (shadows), cancelled to give up.

        Raises `Unavailable` while closing or with the queue full, as `predict` answers."""
        if rows.n > self.max_batch_size:
            raise ValueError(f"submit takes at most {self.max_batch_size} rows, got {rows.n}")
        if self._closing or self.queued_rows + rows.n > self.max_queue_rows:
            raise Unavailable(
                f"Model {self.name!r} is being replaced or has {self.queued_rows} rows "
                f"queued (limit {self.max_queue_rows}); retry shortly.",
                headers={"Retry-After": "1"},
            )
        item = _Item(rows, asyncio.get_running_loop().create_future())
        self._queue.append(item)
        self.queued_rows += rows.n
        self._wakeup.set()
        return item.future

    async def close(self) -> None:
        """Finish what is queued, then stop."""
        self._closing = True
        self._wakeup.set()
        try:
            await self._task
            self._executor.shutdown(wait=True)
        finally:
            if self.process is not None:
                await self.process.close()

    async def _run(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            if not self._queue:
                if self._closing:
                    return
                self._wakeup.clear()
                await self._wakeup.wait()
                continue
            await self._maybe_wait_for_more()
            batch = self._take()
            try:
                await self._predict_batch(loop, batch)
            except Exception as exc:  # never let the loop die: every waiter gets an answer
                log.exception("batch for %s failed", self.name)
                for item in batch:
                    if not item.future.done():
                        item.future.set_exception(model_failed(self.name, exc))
            self._last_batch_requests = len(batch)
            self._last_batch_done = time.monotonic()

    async def _predict_batch(self, loop: asyncio.AbstractEventLoop, batch: list[_Item]) -> None:
        rows = concat([item.rows for item in batch])
        start = time.perf_counter()
        probe = None if self.process else self.costs.probe_due(rows.n, self._expected_cost)
        inline = probe if probe is not None else self._inline(len(batch), rows.n)
        called = False
        try:
            if inline:
                assert self._predict is not None
                outputs = self._predict(rows)
            else:
                outputs = await self._off_loop(loop, rows)
            called = True
        except Exception as exc:
            if len(batch) == 1:  # its own failure: calling it again would only repeat it
                if not batch[0].future.done():
                    batch[0].future.set_exception(model_failed(self.name, exc))
                return
            # One bad request must not fail the others batched with it.
            await self._predict_one_by_one(batch)
            return
        finally:
            seconds = time.perf_counter() - start
            if probe is not None:  # afresh: earlier calls there may be long past
                self.costs.forget(rows.n, on_loop=probe)
            # A process's failed call, or one that started it, tells nothing of a call's cost.
            if self.process is None or (called and not self.process.fresh):
                self.costs.measured(rows.n, seconds, on_loop=inline)
            self._expected_cost = self.costs.cost_of(rows.n)
            if self._observe_batch is not None:
                self._observe_batch(rows.n, seconds)
        offset, offsets = 0, [0]
        for item in batch:
            if not item.future.done():
                item.future.set_result(slice_outputs(outputs, offset, offset + item.rows.n))
            offset += item.rows.n
            offsets.append(offset)
        self._tell(batch, outputs, offsets, rows)

    def _tell(self, batch: list[_Item], outputs: Outputs, offsets: list[int], rows: Rows) -> None:
        """Tell `answered` the answers of the requests in *batch* that left a note, and
        the batch's *rows*."""
        answered = self.answered
        if answered is None:
            return
        notes = [None if item.future.cancelled() else item.note for item in batch]
        try:
            if None not in notes:
                answered(notes, outputs, offsets, rows)
                return
            for i, note in enumerate(notes):  # (a copy, part of a big request, a client gone)
                if note is not None:
                    start, stop = offsets[i], offsets[i + 1]
                    answer = slice_outputs(outputs, start, stop)
                    answered([note], answer, [0, stop - start], rows.slice(start, stop))
        except Exception:  # what watches the answers must not fail the batch's clients
            log.exception("telling the answers of a batch of %s failed", self.name)

    def _off_loop(self, loop: asyncio.AbstractEventLoop, rows: Rows) -> Awaitable[Outputs]:
        """A call of the model on its thread, or in its process."""
        if self.process is not None:
            return self.process.call(rows)
        assert self._predict is not None
        return loop.run_in_executor(self._executor, self._predict, rows)

    def _inline(self, requests: int, rows: int) -> bool:
        """Whether to call the model on the event loop rather than on its thread."""
        cost = self.costs.cost_of(rows)
        if cost is None or self.process is not None:
            return False
        if cost < INLINE_S:
            return True
        if cost >= INLINE_ALONE_S:
            return False
        if self.costs.convoy(rows):
            return True  # its thread's calls go to waiting for the GIL: the loop's are cheaper
        alone = requests == 1 and self._last_batch_requests <= 1
        return alone and not self._queue and not self.arriving

    def _more_expected(self) -> bool:
        if self.arriving > 0:
            return True
        # The clients answered by the last batch come back within a round trip, if
        # requests arrive here faster than a call takes (a version taking a tenth of a
        # split's traffic sees a tenth of them come back: it calls at once instead).
        recent = time.monotonic() - self._last_batch_done < self.max_latency
        return recent and len(self._queue) < self._last_batch_requests and self._arriving_often()

    def _arriving_often(self) -> bool:
        """Whether requests have lately come more often than a call of the model takes:
        a call of the rows the last batch held (its clients are the ones expected back).
        The cheapest call would not do: a busy version's batches, cut short once, would
        look cheap enough never to wait again."""
        cost = self._expected_cost
        return self._gap is None or cost is None or self._gap < cost

    async def _maybe_wait_for_more(self) -> None:
        deadline = self._queue[0].queued_at + self.max_latency
        loop = asyncio.get_running_loop()
        while (
            self._more_expected() and self.queued_rows < self.max_batch_size and not self._closing
        ):
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return
            self._wakeup.clear()
            # A timer that sets the event, not asyncio.wait_for: that makes a task and
            # two callbacks for every wait (8.4 us a wait against 3.4 on uvloop). Its
            # firing ends the wait, as wait_for's timeout did: uvloop rounds a delay to
            # whole milliseconds, and a timer fired early must not spin until the deadline.
            self._timed_out = False
            timer = loop.call_later(remaining, self._time_up)
            try:
                await self._wakeup.wait()
            finally:
                timer.cancel()
            if self._timed_out:
                return

    def _time_up(self) -> None:
        self._timed_out = True
        self._wakeup.set()

    def arrived(self) -> None:
        """A request being received has been queued (or failed): re-check the wait."""
        self.arriving -= 1
        self._wakeup.set()

    def _take(self) -> list[_Item]:
        batch = [self._queue.popleft()]
        rows = batch[0].rows.n
        like = batch[0].rows.layout
        while (
            self._queue
            and rows + self._queue[0].rows.n <= self.max_batch_size
            and self._queue[0].rows.layout == like  # only rows that concatenate
        ):
            item = self._queue.popleft()
            batch.append(item)
            rows += item.rows.n
        self.queued_rows -= rows
        return batch

    async def _predict_one_by_one(self, batch: list[_Item]) -> None:
        loop = asyncio.get_running_loop()
        for item in batch:
            try:
                outputs = await self._off_loop(loop, item.rows)
            except Exception as exc:
                if not item.future.done():
                    item.future.set_exception(model_failed(self.name, exc))
            else:
                if not item.future.done():
                    item.future.set_result(outputs)
                self._tell([item], outputs, [0, item.rows.n], item.rows)


def model_failed(name: str, exc: BaseException) -> BadRequest:
    """The model raised on input that passed validation: the input is the likely cause."""
    return BadRequest(
        f"Model {name!r} could not predict on this input: {type(exc).__name__}: {exc}"
    )


def predictor(flavor: Any, model: Any) -> Callable[[Rows], Outputs]:
    """The function a batcher calls: rows in, named numpy outputs (one row per input) out."""
    from .rows import model_input

    def predict(rows: Rows) -> Outputs:
        outputs = {k: np.asarray(v) for k, v in flavor.predict(model, model_input(rows)).items()}
        for name, value in outputs.items():
            if value.ndim == 0 or len(value) != rows.n:
                # Slicing would hand one request another's rows: refuse instead.
                raise ValueError(f"output {name!r} has shape {value.shape} for {rows.n} input rows")
        return outputs

    return predict
