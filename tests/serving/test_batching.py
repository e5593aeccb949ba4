"""Adaptive batching: every response holds exactly its own rows."""

import asyncio
import random
import threading

import httpx
import numpy as np
import pytest

import maas_nb
from maas_nb.serving.batching import Batcher
from maas_nb.serving.errors import BadRequest, Unavailable
from maas_nb.serving.rows import Rows


def test_concurrent_requests_of_mixed_sizes_get_their_own_rows(start_server, iris):
    from sklearn.ensemble import RandomForestClassifier

    X, y = iris
    model = RandomForestClassifier(n_estimators=20, random_state=0).fit(X, y)
    registry = maas_nb.api.registry()
    registry.register(model, "forest", sample=X[:5])
    registry.put_deployment("forest", "forest", {"max_batch_size": 32, "max_latency_ms": 5})
    server = start_server()
    server.reconcile()
    rng = random.Random(7)
    data = np.random.default_rng(7).normal(loc=X.mean(0), scale=X.std(0), size=(2000, 4))
    requests = []
    for _ in range(120):
        n = rng.randint(1, 50)
        start = rng.randint(0, len(data) - n)
        requests.append(data[start : start + n])

    async def run():
        limits = httpx.Limits(max_connections=32)
        async with httpx.AsyncClient(
            base_url=server.url, timeout=60, limits=limits, trust_env=False
        ) as c:

            async def one(rows):
                body = {
                    "inputs": [
                        {
                            "name": "input",
                            "shape": list(rows.shape),
                            "datatype": "FP64",
                            "data": rows.ravel().tolist(),
                        }
                    ]
                }
                return rows, await c.post("/v2/models/forest/infer", json=body)

            return await asyncio.gather(*(one(r) for r in requests))

    for rows, response in asyncio.run(run()):
        assert response.status_code == 200, response.text
        outputs = {o["name"]: o for o in response.json()["outputs"]}
        assert outputs["predictions"]["shape"] == [len(rows)]
        assert outputs["predictions"]["data"] == model.predict(rows).tolist()
        np.testing.assert_allclose(
            np.reshape(outputs["probabilities"]["data"], (len(rows), 3)), model.predict_proba(rows)
        )

    with server.client() as c:
        metrics = c.get("/metrics").text
    count = next(
        line
        for line in metrics.splitlines()
        if line.startswith('maas_batch_size_rows_count{deployment="forest"}')
    )
    batches = int(count.split()[-1])
    total_rows = sum(len(r) for r in requests)
    assert batches < sum(-(-len(r) // 32) for r in requests), (
        "some requests should have shared a batch"
    )
    assert f'maas_requests_total{{deployment="forest"}} {len(requests)}' in metrics
    assert total_rows > 0


def tensor(n, start=0):
    data = np.arange(start, start + n, dtype="float64").reshape(n, 1)
    return Rows("tensor", data, n)


def echo(rows):
    return {"out": rows.data[:, 0] * 2}


def run(coro):
    return asyncio.run(coro)


def test_large_request_is_split_and_reassembled():
    sizes = []

    def predict(rows):
        sizes.append(rows.n)
        return echo(rows)

    async def go():
        batcher = Batcher(predict, name="m:1", max_batch_size=8)
        try:
            return await batcher.predict(tensor(30))
        finally:
            await batcher.close()

    out = run(go())
    assert out["out"].tolist() == [2.0 * i for i in range(30)]
    assert max(sizes) <= 8 and sum(sizes) == 30


def test_a_lone_request_does_not_wait_for_the_latency_window():
    async def go():
        batcher = Batcher(echo, name="m:1", max_batch_size=64, max_latency_ms=10_000)
        try:
            return await asyncio.wait_for(batcher.predict(tensor(1)), timeout=5)
        finally:
            await batcher.close()

    assert run(go())["out"].tolist() == [0.0]


def blocking(predict):
    """Wrap *predict* so it signals when a batch starts and waits to be released."""
    started, release = threading.Event(), threading.Event()

    def wrapped(rows):
        started.set()
        release.wait(10)
        return predict(rows)

    async def wait_started():
        assert await asyncio.to_thread(started.wait, 10)

    return wrapped, wait_started, release


def test_requests_queued_while_the_model_is_busy_share_a_batch():
    sizes = []

    def record(rows):
        sizes.append(rows.n)
        return echo(rows)

    slow, wait_started, release = blocking(record)

    async def go():
        batcher = Batcher(slow, name="m:1", max_batch_size=64)
        first = asyncio.ensure_future(batcher.predict(tensor(1)))
        await wait_started()  # the first batch is running (and blocked)
        rest = [
            asyncio.ensure_future(batcher.predict(tensor(2, start=10 * i))) for i in range(1, 6)
        ]
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(first, *rest)
        await batcher.close()
        return results

    results = run(go())
    assert sizes == [1, 10]
    assert [r["out"].tolist() for r in results[1:]] == [
        [20.0 * i, 20.0 * i + 2] for i in range(1, 6)
    ]


def test_full_queue_answers_503_with_retry_after():
    slow, wait_started, release = blocking(echo)

    async def go():
        batcher = Batcher(slow, name="m:1", max_batch_size=4, max_queue_rows=8)
        running = asyncio.ensure_future(batcher.predict(tensor(4)))
        await wait_started()
        queued = asyncio.ensure_future(batcher.predict(tensor(8)))
        await asyncio.sleep(0)
        with pytest.raises(Unavailable) as info:
            await batcher.predict(tensor(1))
        release.set()
        await asyncio.gather(running, queued)
        await batcher.close()
        return info.value

    error = run(go())
    assert error.headers == {"Retry-After": "1"}
    assert str(error) == "Model 'm:1' has 8 rows queued (limit 8); retry shortly."


def test_one_bad_request_does_not_fail_its_batch_mates():
    def fussy(rows):
        if (rows.data < 0).any():
            raise ValueError("negative input")
        return echo(rows)

    picky, wait_started, release = blocking(fussy)

    async def go():
        batcher = Batcher(picky, name="m:1", max_batch_size=64)
        first = asyncio.ensure_future(batcher.predict(tensor(1)))
        await wait_started()
        good = asyncio.ensure_future(batcher.predict(tensor(2, start=5)))
        bad = asyncio.ensure_future(batcher.predict(Rows("tensor", np.array([[-1.0]]), 1)))
        await asyncio.sleep(0)
        release.set()
        results = await asyncio.gather(first, good, bad, return_exceptions=True)
        await batcher.close()
        return results

    _, good, bad = run(go())
    assert good["out"].tolist() == [10.0, 12.0]
    assert isinstance(bad, BadRequest)
    assert str(bad) == "Model 'm:1' could not predict on this input: ValueError: negative input"
