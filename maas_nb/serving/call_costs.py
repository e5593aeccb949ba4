"""What a model's calls cost, by the rows they hold, and so where a batch is called:
on the event loop or on the model's own worker thread (see `batching`).

A model's costs are its last ``RECENT`` calls made on the event loop and on the worker
thread, each as (rows, seconds). A call of n rows costs at most what a recent call of r
rows took, times n/r when n is more (a batch costs no less for more rows, and no more per
row: the call's fixed part is shared); the estimate is the least such bound (a call's
time only ever grows by what else happens meanwhile: the loop's by an outlier such as a
first call, the thread's by its waits for the GIL); unknown before the first call. Costs
by rows matter: a model called on the loop for the small batches of a quiet moment must
not stay there for the full batches of a busy one.

A batch estimated cheaper than ``INLINE_S`` is called on the event loop, since the hop to
a worker thread and back costs more than the call. One cheaper than ``INLINE_ALONE_S`` is
called there too while requests come one at a time (the previous batch answered one
request and nothing else is queued or arriving), and while the thread's calls of about
as many rows cost ``CONVOY`` times the loop's or more: a model that gives the GIL up
many times a call (a forest, once per tree) waits for the busy loop's thread each time,
and those waits cost more than the overlap gains (a 90/10 split of a forest on two
cores: 0.80x to 0.88x a single version's requests/s). Any other call runs on the
model's worker thread, off the event loop, so the loop keeps receiving and answering
meanwhile. After ``PROBE_EVERY`` batches in one place the model is called once in the
other to measure it afresh there (on the loop, if such a call on the thread costs under
``INLINE_ALONE_S``; on the thread, if it is on the loop at a cost not cheap in itself:
the thread's GIL waits, or the lone requests, may have gone); after ``FIRST_PROBE_EVERY``
already when the other place has never made a call of about as many rows (a new
deployment's first calls all go to the thread, unknown costs: measured in a server, a
forest's calls of 57 rows took there 2.9 ms against 0.8 on the loop, 256 batches long).
Either way one call at a time: a model need not be thread-safe.
"""

from __future__ import annotations

import collections

#: A call this cheap (seconds, as measured) costs less than the thread hop it would take.
INLINE_S = 0.0005
#: A call this cheap may block the event loop while requests come one at a time.
INLINE_ALONE_S = 0.005
#: The calls (on the loop, on the thread) kept, as (rows, seconds), to estimate costs.
RECENT = 8
#: A call this many times dearer on the thread than on the loop (and cheaper there than
#: ``INLINE_ALONE_S``) spends the difference waiting for the GIL: it is made on the loop.
CONVOY = 1.5
#: Batches in one place (the thread, the loop) before a call in the other measures it afresh.
PROBE_EVERY = 256
#: As many, when the other place has no call of about as many rows to compare with.
FIRST_PROBE_EVERY = 8

Calls = collections.deque[tuple[int, float]]


class CallCosts:
    """The recent calls of one model, on the loop and on its thread (see the module)."""

    def __init__(self) -> None:
        # The last RECENT calls on the loop and on the thread: (rows, seconds) each.
        self.loop_calls: Calls = collections.deque(maxlen=RECENT)
        self.thread_calls: Calls = collections.deque(maxlen=RECENT)
        self._thread_batches = 0  # batches on the thread since the last call on the loop
        self._loop_batches = 0  # batches on the loop since the last call on the thread

    def forget(self, rows: int, *, on_loop: bool) -> None:
        """Forget the calls of about *rows* rows on the loop (or on the thread): a probe
        measures such calls afresh (those of other sizes stay, to spare their probes)."""
        calls = self.loop_calls if on_loop else self.thread_calls
        kept = [(r, s) for r, s in calls if not _similar(r, rows)]
        calls.clear()
        calls.extend(kept)

    def measured(self, rows: int, seconds: float, *, on_loop: bool) -> None:
        """Count a call of the model: *rows* rows in *seconds*, on the loop or its thread."""
        if on_loop:
            self.loop_calls.append((rows, seconds))
            self._thread_batches = 0
            self._loop_batches += 1
        else:
            self.thread_calls.append((rows, seconds))
            self._thread_batches += 1
            self._loop_batches = 0

    def cost_of(self, rows: int, *, on_loop: bool | None = None) -> float | None:
        """What a call of *rows* rows costs at most, from the recent calls on the loop and
        on the thread (*on_loop*: there only); None before any call (see the module)."""
        calls: tuple[Calls, ...]
        if on_loop is None:
            calls = (self.loop_calls, self.thread_calls)
        else:
            calls = (self.loop_calls,) if on_loop else (self.thread_calls,)
        bounds = [s * rows / max(r, 1) if rows > r else s for recent in calls for r, s in recent]
        return min(bounds) if bounds else None

    def convoy(self, rows: int) -> bool:
        """Whether calls of about *rows* rows (half to twice as many) cost ``CONVOY`` times
        as much on the thread as on the loop, over two thread calls or more: the thread's
        spend the difference waiting for the GIL."""
        loop, thread = _like(self.loop_calls, rows), _like(self.thread_calls, rows)
        return bool(loop) and len(thread) >= 2 and min(loop) * CONVOY <= min(thread)

    @property
    def cost(self) -> float | None:
        """What the model's cheapest call costs (a call of one row); None before the first."""
        return self.cost_of(1)

    @property
    def loop_seconds(self) -> float | None:
        """The cheapest recent call on the event loop (None: none there yet)."""
        return self.cost_of(1, on_loop=True)

    def probe_due(self, rows: int, expected: float | None) -> bool | None:
        """Where to call the model on a batch of *rows* rows once to measure it there
        afresh (True: the loop), or None; *expected*: what a call like the last one
        costs. The loop, after ``PROBE_EVERY`` batches on the
        thread, if such a call there costs under ``INLINE_ALONE_S``; the thread, after as
        many on the loop at a cost not cheap in itself (there because the thread's calls
        were dearer, or for requests coming one at a time: either may have changed).
        After ``FIRST_PROBE_EVERY`` only, when the place to probe has no call like it."""
        if _probe_due(self._thread_batches, self.loop_calls, rows):
            thread = self.cost_of(rows, on_loop=False)
            if thread is not None and thread < INLINE_ALONE_S:
                return True
        if (
            _probe_due(self._loop_batches, self.thread_calls, rows)
            and expected is not None
            and expected >= INLINE_S
        ):
            return False
        return None


def _probe_due(batches: int, there: Calls, rows: int) -> bool:
    """Whether *batches* elsewhere call for a probe in the place of the calls *there*:
    ``PROBE_EVERY``, or ``FIRST_PROBE_EVERY`` when none of them held about *rows* rows."""
    if batches < FIRST_PROBE_EVERY:  # the common case, without looking at the calls
        return False
    return batches >= PROBE_EVERY or not _like(there, rows)


def _like(calls: Calls, rows: int) -> list[float]:
    """The seconds of the *calls* of about *rows* rows."""
    return [s for r, s in calls if _similar(r, rows)]


def _similar(r: int, rows: int) -> bool:
    """Whether a call of *r* rows is about as big as one of *rows*: half to twice."""
    return rows <= 2 * r and r <= 2 * rows
