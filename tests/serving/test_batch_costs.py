"""Where a batcher calls its model and how long it waits for more requests follow what
its calls cost: a model slowed down on its thread (by waits for the GIL) is tried on
the event loop, and a version that gets a small share of the requests does not wait for
clients whose next requests go elsewhere."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable

import numpy as np
import pytest

from maas_nb.serving import batching, call_costs
from maas_nb.serving.batching import Batcher
from maas_nb.serving.rows import Rows
from tests.serving.test_hot_path import rows


class CallClock:
    """The batcher's clock for timing calls: it moves only by what each call says it
    took, so that where a call is made depends on the costs the test gives, not on
    how busy the machine running the test is."""

    monotonic = staticmethod(time.monotonic)

    def __init__(self) -> None:
        self.now = 0.0

    def perf_counter(self) -> float:
        return self.now


def three_at_a_time(
    monkeypatch: pytest.MonkeyPatch,
    batches: int,
    seconds: Callable[[bool, list[bool]], float],
) -> tuple[list[bool], Batcher]:
    """Where each of *batches* batches of three requests was predicted (True: on the
    loop), by a model whose call takes *seconds(on the loop, where the earlier ones
    were)* by the batcher's clock (`CallClock`)."""
    clock = CallClock()
    monkeypatch.setattr(batching, "time", clock)
    on_loop: list[bool] = []

    async def go():
        loop_thread = threading.get_ident()

        def predict(batch: Rows) -> dict[str, np.ndarray]:
            here = threading.get_ident() == loop_thread
            clock.now += seconds(here, on_loop)  # one call at a time: no race
            on_loop.append(here)
            return {"out": batch.data[:, 0]}

        batcher = Batcher(predict, name="m:1")
        for _ in range(batches):  # three requests at a time: never "alone"
            await asyncio.gather(*(batcher.predict(rows()) for _ in range(3)))
        await batcher.close()
        return batcher

    return on_loop, asyncio.run(go())


def test_a_model_slowed_down_on_its_thread_is_tried_on_the_loop(monkeypatch):
    monkeypatch.setattr(call_costs, "PROBE_EVERY", 8)

    def seconds(here: bool, before: list[bool]) -> float:
        # Off the loop it mostly waits (as a forest does for the busy loop's GIL, once
        # per tree): 8 ms a call, now and then 1 ms. On the loop: no wait.
        return 0.0 if here else 0.001 if (len(before) + 1) % 4 == 0 else 0.008

    on_loop, batcher = three_at_a_time(monkeypatch, 16, seconds)
    assert on_loop[0] is False  # cost unknown: the thread
    assert on_loop[-4:] == [True] * 4, on_loop  # probed, found cheap there, and kept there
    assert (
        batcher.costs.loop_seconds is not None and batcher.costs.loop_seconds < call_costs.INLINE_S
    )


def test_a_rarely_asked_version_does_not_wait_for_clients_gone_elsewhere():
    batches: list[int] = []

    def predict(batch: Rows) -> dict[str, np.ndarray]:
        batches.append(batch.n)
        return {"out": batch.data[:, 0]}

    async def go():
        # Waiting for more may last 20 s: only a batcher that waits would take that long.
        batcher = Batcher(predict, name="m:1", max_latency_ms=20_000)
        await batcher.predict(rows())  # its cost is known
        await asyncio.gather(*(batcher.predict(rows()) for _ in range(8)))
        # Eight clients were answered; what comes back now comes far less often than a
        # call takes (the others' next requests went to another version of a split): a
        # request every 50 ms (pacing, as such clients would; nothing waits on it).
        for _ in range(3):
            await asyncio.sleep(0.05)
            await asyncio.wait_for(batcher.predict(rows()), 10)
        await batcher.close()

    asyncio.run(go())
    assert batches == [1, 8, 1, 1, 1]


def test_a_call_of_many_rows_is_costed_by_its_rows():
    threads: list[int] = []

    def predict(batch: Rows) -> dict[str, np.ndarray]:
        threads.append(threading.get_ident())
        time.sleep(0.0002 * batch.n)  # 0.2 ms a row, wherever it is called
        return {"out": batch.data[:, 0]}

    async def go():
        batcher = Batcher(predict, name="m:1")
        for _ in range(3):
            await batcher.predict(rows())  # cheap: on the loop after the first
        await batcher.predict(rows(32))  # 6.4 ms or more: too dear for the loop
        await batcher.close()
        return threading.get_ident()

    loop_thread = asyncio.run(go())
    assert threads[0] != loop_thread and threads[1:3] == [loop_thread] * 2
    assert threads[3] != loop_thread  # not the one-row calls' cost


def test_a_model_waiting_for_the_gil_on_its_thread_is_called_on_the_loop_until_it_no_longer_does(
    monkeypatch,
):
    monkeypatch.setattr(call_costs, "PROBE_EVERY", 8)

    def seconds(here: bool, before: list[bool]) -> float:
        if here:
            return 0.0015  # neither cheap nor dear on the loop
        if not any(before):
            # Off the loop it waits for the GIL (as a forest does, once per tree): 3 ms a
            # call, twice the loop's 1.5 ms (and then some), under INLINE_ALONE_S.
            return 0.003
        return 0.0006  # the waits have gone: cheaper than on the loop

    on_loop, _ = three_at_a_time(monkeypatch, 20, seconds)
    # The thread, a probe on the loop found it cheaper there; eight batches on, a probe
    # on the thread found that cheaper again.
    assert on_loop == [False] * 8 + [True] * 8 + [False] * 4, on_loop


def test_a_busy_version_whose_batch_was_cut_short_still_waits_for_its_clients():
    def predict(batch: Rows) -> dict[str, np.ndarray]:
        time.sleep(0.00003 * batch.n)  # a full batch of 64 rows: 2 ms; two rows: 60 us
        return {"out": batch.data[:, 0]}

    async def go():
        batcher = Batcher(predict, name="m:1")
        seen = []
        for n in (64, 2, 64):
            await batcher.predict(rows(n))
            batcher._gap = 0.0005  # a request every 0.5 ms lately
            seen.append(batcher._arriving_often())
        await batcher.close()
        return seen

    # After a full batch its clients come back more often than such a call takes; after
    # a batch of two a call is quicker than the gap; after a full one again, they do:
    # the cheap call of two rows does not stand for a full batch's.
    assert asyncio.run(go()) == [True, False, True]


def test_a_new_model_waiting_for_the_gil_on_its_thread_is_tried_on_the_loop_soon(monkeypatch):
    """Costs unknown, a new model's calls go to its thread; with no call on the loop to
    compare with, the loop is tried after FIRST_PROBE_EVERY batches, not PROBE_EVERY
    (256: a server's first seconds under load)."""

    def seconds(here: bool, before: list[bool]) -> float:
        return 0.0015 if here else 0.003  # the thread's calls wait for the GIL

    on_loop, _ = three_at_a_time(monkeypatch, 20, seconds)
    first = call_costs.FIRST_PROBE_EVERY
    assert first < call_costs.PROBE_EVERY
    assert on_loop == [False] * first + [True] * (20 - first), on_loop


def test_a_probe_forgets_only_the_calls_like_its_own():
    costs = call_costs.CallCosts()
    for n, seconds in ((6, 0.0003), (60, 0.001), (64, 0.0011)):
        costs.measured(n, seconds, on_loop=True)
    costs.forget(50, on_loop=True)  # a probe of 50 rows measures those afresh
    assert list(costs.loop_calls) == [(6, 0.0003)]
    assert costs.probe_due(6, 0.0003) is None  # small calls: known on the loop, cheap
