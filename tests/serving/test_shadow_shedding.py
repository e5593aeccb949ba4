"""A shadow that cannot keep up is cut off before it is queued, and copies of any size
reach the shadow whole (several in one batch; a bigger one split by the batcher)."""

from __future__ import annotations

import asyncio
import gc
import threading

import numpy as np
from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb.serving.batching import Batcher
from maas_nb.serving.copies import room
from maas_nb.serving.loaded import Loaded
from maas_nb.serving.rows import Rows
from maas_nb.serving.shadowing import Shadowing
from maas_nb.serving.split import Shadow
from tests.helpers import wait_for
from tests.serving.test_shadow import ListSink, in_process  # noqa: F401 (the fixture)


def test_the_queue_holds_what_the_shadow_answers_within_its_timeout():
    async def scenario() -> list[int]:
        batcher = Batcher(lambda rows: {"y": np.zeros(rows.n)}, name="m:2", max_batch_size=4)
        seen = [room(None, 0.5, batcher)]  # nothing measured yet: what the batcher queues
        seen += [room(0.05, 0.5, batcher), room(0.05, 0.54, batcher), room(2.0, 0.5, batcher)]
        seen.append(room(0.0, 0.5, batcher) > 4096)  # answered at once: no division by 0
        await batcher.close()
        return seen

    # Ten batches of 4 rows at 50 ms in 500 ms: the one in flight, nine queued (whole
    # batches only, at least one); a copy at the back is answered within the timeout.
    assert asyncio.run(scenario()) == [4096, 36, 36, 4, True]


def test_copies_beyond_what_the_shadow_answers_in_its_timeout_are_cut_off_at_once():
    release = threading.Event()
    called: list[int] = []

    def predict(rows: Rows) -> dict[str, np.ndarray]:
        called.append(rows.n)
        release.wait(30)  # held busy until the test lets it go
        return {"predictions": np.zeros(rows.n)}

    async def scenario(sink: ListSink) -> list[tuple[int, ...]]:
        batcher = Batcher(predict, name="slow:2", max_batch_size=4, max_latency_ms=0)
        batcher.costs.measured(4, 0.5, on_loop=False)  # as measured: 500 ms a call of 4 rows
        loaded = Loaded("slow", 2, "sklearn", None, batcher, {})
        shadow = Shadow("slow:2", loaded, 100.0, 5.0, "slow:2")  # 9 queued, 1 in flight
        shadowing = Shadowing([sink])
        one = Rows("tensor", np.zeros((1, 2)), 1)
        shadowing.maybe_send("d", shadow, one, "first")
        while not called:  # the first copy is in the (held) model's call
            await asyncio.sleep(0.001)
        for i in range(45):  # 36 rows fit in the queue, the last 9 are cut off at once
            shadowing.maybe_send("d", shadow, one, f"id{i}")
        seen = [(shadowing.sent, shadowing.timed_out, shadowing.waiting, shadowing.answered)]
        # Gathered as they came into the batches they go in: 9 of 4 copies each (their
        # rows copied into one array), and none of a copy's own parts costs young
        # collections anything (untracked).
        bundles = shadowing.queues["d", "slow:2"].bundles
        assert [len(bundle.ids) for bundle in bundles] == [4] * 9
        assert all(bundle.data().shape == (4, 2) and not bundle.datas for bundle in bundles)
        gc.collect()
        parts = [p for b in bundles for p in (*b.ids, *b.sent, *b.theirs)]
        assert len(parts) == 3 * 36 and not any(map(gc.is_tracked, parts))
        release.set()
        while shadowing.answered + shadowing.timed_out < shadowing.sent:
            await asyncio.sleep(0.001)
        seen.append((shadowing.sent, shadowing.timed_out, shadowing.waiting, shadowing.answered))
        await batcher.close()
        return seen

    sink = ListSink()
    assert asyncio.run(asyncio.wait_for(scenario(sink), 30)) == [(46, 9, 36, 0), (46, 9, 0, 37)]
    assert [o.request_id for o in sink.outcomes] == ["first", *(f"id{i}" for i in range(36))]
    assert called == [1, 4, 4, 4, 4, 4, 4, 4, 4, 4]  # the queued copies in whole batches


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
    # Nothing left in flight (the pump ends on the server's loop, after its last answer).
    wait_for(lambda: not shadowing.tasks and not shadowing.queues, timeout=30, what="idle")
    got = sorted((o.rows, o.outputs["predictions"].tolist()) for o in sink.of(shadow=True))
    assert got == sorted((n, second.predict(X[:n]).tolist()) for n in sizes)
