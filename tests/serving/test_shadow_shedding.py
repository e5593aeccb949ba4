"""A shadow that cannot keep up is cut off before it is queued, and copies of any size
reach the shadow whole (one batch: followed by callbacks; bigger: a task of its own)."""

from __future__ import annotations

import asyncio

import numpy as np
from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb.serving.batching import Batcher
from maas_nb.serving.rows import Rows
from maas_nb.serving.shadowing import behind
from tests.helpers import wait_for
from tests.serving.test_shadow import ListSink, in_process  # noqa: F401 (the fixture)


def test_a_copy_that_would_wait_past_the_timeout_is_cut_off_before_it_is_queued():
    async def scenario() -> list[bool]:
        batcher = Batcher(lambda rows: {"y": np.zeros(rows.n)}, name="slow", max_batch_size=4)
        seen = [behind(batcher, 1, 0.5)]  # nothing queued, nothing measured
        for _ in range(10):  # queued while the batcher's task has not run yet: 40 rows
            batcher.submit(Rows("tensor", np.zeros((4, 2)), 4))
        seen.append(behind(batcher, 1, 0.5))  # queued, but no call measured yet
        batcher.thread_seconds = 0.05  # what the batcher measured: 50 ms a call
        # 40 rows queued + 1 = 11 batches of 4 = 0.55 s ahead of the copy.
        seen += [behind(batcher, 1, 0.5), behind(batcher, 1, 0.6), behind(batcher, 1, 0.54)]
        await batcher.close()
        seen.append(behind(batcher, 1, 0.01))  # all answered: an empty queue always goes
        return seen

    assert asyncio.run(scenario()) == [False, False, True, False, True, False]


def test_copies_of_one_row_and_of_several_batches_reach_the_shadow_whole(in_process, iris):  # noqa: F811
    X, y = iris
    registry = maas_nb.api.registry()
    first = LogisticRegression(max_iter=1000).fit(X, y)
    second = LogisticRegression(max_iter=1000).fit(X, (y + 1) % 3)
    registry.register(first, "iris", sample=X[:5], alias="production")
    registry.register(second, "iris", sample=X[:5], alias="candidate")
    shadow = {"target": "iris@candidate", "percent": 100.0, "timeout_ms": 5000.0}
    config = {"generation": 2, "shadow": shadow, "max_batch_size": 4}
    registry.put_deployment("iris", "iris@production", config)
    sink = ListSink()
    in_process.pool.sinks.append(sink)
    assert in_process.reconcile()["status"] == "ready"
    sizes = [1, 10, 4, 5]  # 10 and 5 rows: more than one batch of 4
    with in_process.client() as client:
        for n in sizes:
            body = {"instances": X[:n].tolist()}
            r = client.post("/models/iris/invocations", json=body)
            assert r.status_code == 200, r.text
            assert r.json()["predictions"] == first.predict(X[:n]).tolist()
    wait_for(lambda: len(sink.of(shadow=True)) == len(sizes), timeout=30, what="shadows")
    shadowing = in_process.pool.shadowing
    assert (shadowing.sent, shadowing.answered, shadowing.timed_out) == (4, 4, 0)
    assert not shadowing.pending and not shadowing.tasks  # nothing left in flight
    got = sorted((o.rows, o.outputs["predictions"].tolist()) for o in sink.of(shadow=True))
    assert got == sorted((n, second.predict(X[:n]).tolist()) for n in sizes)
