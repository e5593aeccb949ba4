"""Where a batcher calls its model and how long it waits for more requests follow what
its calls cost: a model slowed down on its thread (by waits for the GIL) is tried on
the event loop, and a version that gets a small share of the requests does not wait for
clients whose next requests go elsewhere."""

from __future__ import annotations

import asyncio
import threading
import time

import numpy as np

from maas_nb.serving import batching
from maas_nb.serving.batching import Batcher
from maas_nb.serving.rows import Rows
from tests.serving.test_hot_path import rows


def test_a_model_slowed_down_on_its_thread_is_tried_on_the_loop(monkeypatch):
    monkeypatch.setattr(batching, "PROBE_EVERY", 8)
    on_loop: list[bool] = []

    async def go():
        loop_thread = threading.get_ident()

        def predict(batch: Rows) -> dict[str, np.ndarray]:
            here = threading.get_ident() == loop_thread
            on_loop.append(here)
            if not here:
                # Off the loop it mostly waits (as a forest does for the busy loop's GIL,
                # once per tree): 8 ms a call, now and then 1 ms. On the loop: no wait.
                time.sleep(0.001 if len(on_loop) % 4 == 0 else 0.008)
            return {"out": batch.data[:, 0]}

        batcher = Batcher(predict, name="m:1")
        for _ in range(16):  # three requests at a time: never "alone"
            await asyncio.gather(*(batcher.predict(rows()) for _ in range(3)))
        await batcher.close()
        return batcher

    batcher = asyncio.run(go())
    assert on_loop[0] is False  # cost unknown: the thread
    assert on_loop[-4:] == [True] * 4, on_loop  # probed, found cheap there, and kept there
    assert batcher.loop_seconds is not None and batcher.loop_seconds < batching.INLINE_S


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
        # call takes (the others' next requests went to another version of a split).
        for _ in range(3):
            await asyncio.wait_for(batcher.predict(rows()), 10)
        await batcher.close()

    asyncio.run(go())
    assert batches == [1, 8, 1, 1, 1]
