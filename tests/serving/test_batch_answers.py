"""A watched deployment's answers told to the window a batch at a time (`Batcher.answered`,
`Window.batch_answered`): each request's own rows under its own id, counted once."""

from __future__ import annotations

import asyncio
import time

import numpy as np
from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb.serving.batching import Batcher
from maas_nb.serving.rows import Rows
from maas_nb.serving.window import Window
from tests.serving.test_traffic import BATCHING, arms


def rows(values) -> Rows:
    array = np.asarray(values, dtype=np.float64).reshape(-1, 1)
    return Rows("tensor", array, len(array))


def doubled(batch: Rows) -> dict[str, np.ndarray]:
    return {"predictions": batch.data[:, 0] * 2}


async def told_of(requests, *, predict=doubled, max_batch_size=8):
    """The notes, outputs, offsets and rows *requests* ((values, note) each, queued
    together) leave with `answered`, and each request's outputs."""
    told = []
    batcher = Batcher(
        predict,
        name="m:1",
        max_batch_size=max_batch_size,
        answered=lambda *told_with: told.append(told_with),
    )
    try:
        got = await asyncio.gather(*(batcher.predict(rows(v), note) for v, note in requests))
    finally:
        await batcher.close()
    return told, got


def answers_by_note(told) -> dict:
    """note -> the rows `answered` was told for it (each answer beside the input rows
    it was told with: `doubled` doubles them)."""
    found = {}
    for notes, outputs, offsets, batch in told:
        assert len(batch.data) == batch.n == offsets[-1]
        for i, note in enumerate(notes):
            assert note not in found, "a request told twice"
            found[note] = outputs["predictions"][offsets[i] : offsets[i + 1]].tolist()
            assert found[note] == (batch.data[offsets[i] : offsets[i + 1], 0] * 2).tolist()
    return found


def test_each_noted_request_is_told_its_own_rows_once():
    requests = [([1, 2], "a"), ([3], "b"), ([4, 5, 6], "c"), ([7], "d")]
    told, got = asyncio.run(told_of(requests))
    assert answers_by_note(told) == {"a": [2, 4], "b": [6], "c": [8, 10, 12], "d": [14]}
    assert [g["predictions"].tolist() for g in got] == [[2, 4], [6], [8, 10, 12], [14]]


def test_requests_without_a_note_are_left_out_and_the_others_keep_their_rows():
    requests = [([1, 2], None), ([3], "b"), ([4, 5], None), ([6], "d")]
    told, _ = asyncio.run(told_of(requests))
    assert answers_by_note(told) == {"b": [6], "d": [12]}


def test_a_request_bigger_than_a_batch_leaves_no_note():
    told, got = asyncio.run(told_of([(list(range(10)), "big"), ([1], "small")], max_batch_size=4))
    assert answers_by_note(told) == {"small": [2]}
    assert got[0]["predictions"].tolist() == [2 * v for v in range(10)]


def test_a_failing_batch_tells_the_requests_answered_one_by_one():
    def picky(batch: Rows) -> dict[str, np.ndarray]:
        if (batch.data < 0).any():
            raise ValueError("negative")
        return doubled(batch)

    async def run():
        told = []
        batcher = Batcher(picky, name="m:1", answered=lambda *a: told.append(a))
        results = await asyncio.gather(
            batcher.predict(rows([1]), "a"),
            batcher.predict(rows([-1]), "bad"),
            batcher.predict(rows([3]), "c"),
            return_exceptions=True,
        )
        await batcher.close()
        return told, results

    told, results = asyncio.run(run())
    assert isinstance(results[1], Exception)
    assert answers_by_note(told) == {"a": [2], "c": [6]}


def test_a_lone_failing_request_calls_the_model_once():
    calls = []

    def failing(batch: Rows) -> dict[str, np.ndarray]:
        calls.append(batch.n)
        raise ValueError("never")

    async def run():
        batcher = Batcher(failing, name="m:1")
        try:
            await batcher.predict(rows([1, 2]))
        finally:
            await batcher.close()

    try:
        asyncio.run(run())
    except Exception as exc:
        assert "could not predict on this input: ValueError: never" in str(exc)
    else:
        raise AssertionError("the failing request succeeded")
    assert calls == [2]  # not called again on its own: it was alone


def test_a_failing_hook_does_not_fail_the_batch():
    def broken(notes, outputs, offsets, rows):
        raise RuntimeError("the window broke")

    async def run():
        batcher = Batcher(doubled, name="m:1", answered=broken)
        out = await batcher.predict(rows([5]), "a")
        await batcher.close()
        return out

    assert asyncio.run(run())["predictions"].tolist() == [10]


def make_window() -> Window:
    window = Window(lambda name: {}, clock=lambda: 1_000_000.0)
    window.watch("d")
    return window


def test_a_batch_is_counted_and_remembered_for_feedback():
    window = make_window()
    start = time.perf_counter() - 0.004  # the requests came 4 ms ago
    answer = np.asarray([1, 0, 1, 1])
    window.batch_answered("d", "m:1", [("a", start), ("b", start)], {"p": answer}, [0, 1, 4])
    counts = window.table["d"]["m:1"][100_000]
    assert counts.requests == 2
    assert sum(counts.latency) == 2
    assert {k: v["m:1"].tolist() for k, v in window.answers["d"].items()} == {
        "a": [1],
        "b": [0, 1, 1],
    }
    report = window.join_feedback("d", [("a", 1), ("b", [0, 1, 0]), ("c", 1)])
    assert report["joined"] == 2 and report["unknown"] == ["c"]
    fed = window.table["d"]["m:1"][100_000]
    assert (fed.fed, fed.correct) == (4, 3)


def test_a_batch_keeps_no_view_of_a_bigger_array_and_cannot_be_changed():
    window = make_window()
    both = np.asarray([[1, 9], [0, 9]])
    window.batch_answered("d", "m:1", [("a", 0.0)], {"p": both[:, 0]}, [0, 2])
    kept = window.answers["d"]["a"]["m:1"]
    assert kept.tolist() == [1, 0]
    both[0, 0] = 7  # the model's own array, changed later
    assert window.answers["d"]["a"]["m:1"].tolist() == [1, 0]
    assert not kept.flags.writeable


def test_answers_told_one_by_one_are_remembered_before_a_later_batch():
    window = Window(lambda name: {}, clock=lambda: 1_000_000.0, remember=16)
    window.watch("d")
    window.answered("d", "m:1", "old", 0.001, {"p": np.asarray([1])})
    notes = [(f"x{i}", 0.0) for i in range(16)]
    window.batch_answered("d", "m:1", notes, {"p": np.zeros(16)}, list(range(17)))
    # the oldest, told alone, is remembered first and forgotten first
    assert list(window.answers["d"]) == [f"x{i}" for i in range(16)]


def test_batches_wait_together_and_a_models_own_array_is_left_alone():
    window = make_window()
    for k in range(100):  # a quiet deployment: one request a batch
        own = np.asarray([k % 2])
        window.batch_answered("d", "m:1", [(f"q{k}", 0.0)], {"p": own}, [0, 1])
        own[0] = 7  # the model reuses its array: what was remembered does not change
        assert own.flags.writeable
    memory = window._memory["d"]
    assert len(memory.chunks) == 1 and len(window._pending["d", "m:1"].ids) == 100 - 64
    big = np.arange(20)
    notes = [(f"b{i}", 0.0) for i in range(20)]
    window.batch_answered("d", "m:1", notes, {"p": big}, list(range(21)))
    big[:] = 7
    assert big.flags.writeable and len(memory.chunks) == 1  # 56 wait: fewer than 64
    wide = np.arange(30)  # three requests of 10 rows: 86 rows wait, a chunk is made
    notes = [(f"w{i}", 0.0) for i in range(3)]
    window.batch_answered("d", "m:1", notes, {"p": wide}, [0, 10, 20, 30])
    wide[:] = 7
    assert len(memory.chunks) == 2 and not window._pending["d", "m:1"].ids
    answers = window.answers["d"]
    assert [answers[f"q{k}"]["m:1"].tolist() for k in range(100)] == [[k % 2] for k in range(100)]
    assert [answers[f"b{i}"]["m:1"].tolist() for i in range(20)] == [[i] for i in range(20)]
    assert [answers[f"w{i}"]["m:1"].tolist() for i in range(3)] == [
        list(range(10 * i, 10 * i + 10)) for i in range(3)
    ]
    assert list(answers) == [*(f"q{k}" for k in range(100)), *(f"b{i}" for i in range(20))] + [
        f"w{i}" for i in range(3)
    ]  # remembered in the order they were answered


def test_batches_and_single_answers_that_do_not_concatenate_wait_together():
    """Pieces of different layouts (a batch's, a request's told alone, strings and
    numbers) make one chunk of an answer each, every one its own rows."""
    window = make_window()
    window.answered("d", "m:1", "alone", 0.001, {"p": np.asarray([[1.5, 2.5]])})
    labels = np.asarray(["x", "yy", "zzz"])
    notes = [("s0", 0.0), ("s1", 0.0)]
    window.batch_answered("d", "m:1", notes, {"p": labels}, [0, 1, 3])
    numbers = np.arange(70)  # 70 rows: the three pieces become one chunk now
    window.batch_answered("d", "m:1", [("n", 0.0)], {"p": numbers}, [0, 70])
    labels[:] = "?"
    numbers[:] = -1
    memory = window._memory["d"]
    (chunk,) = memory.chunks
    assert isinstance(chunk.answer, list) and len(chunk.answer) == 4
    answers = window.answers["d"]
    assert answers["alone"]["m:1"].tolist() == [[1.5, 2.5]]
    assert answers["s0"]["m:1"].tolist() == ["x"]
    assert answers["s1"]["m:1"].tolist() == ["yy", "zzz"]
    assert answers["n"]["m:1"].tolist() == list(range(70))
    assert all(a.base is None for a in chunk.answer)  # rows of its own, each
    assert memory.rows == 1 + 3 + 70


def test_an_unwatched_deployment_is_not_counted():
    window = Window(lambda name: {}, clock=lambda: 1_000_000.0)
    window.batch_answered("d", "m:1", [("a", 0.0)], {"p": np.asarray([1])}, [0, 1])
    assert window.table == {} and window.answers == {}


def test_a_server_counts_and_joins_requests_within_a_batch_and_bigger_ones(start_server, iris):
    # max_batch_size 16: the 40-row requests are split over batches and tell the window
    # themselves; the one-row requests are told by their batches. Each is counted once.
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y)
    registry = maas_nb.api.registry()
    registry.register(model, "iris", sample=X[:5], alias="production")
    registry.register(model, "iris", sample=X[:5], alias="candidate")
    split = arms(("iris@production", 50), ("iris@candidate", 50))
    registry.put_deployment("iris", "iris@production", {**BATCHING, "traffic": split})
    server = start_server()
    (state,) = server.reconcile()
    assert state["status"] == "ready", state
    sent = {}  # request id -> rows
    with server.client() as client:
        for i in range(30):
            rows = X[i : i + 40] if i % 3 == 0 else X[i : i + 1]
            body = {
                "id": f"q{i}",
                "inputs": [
                    {
                        "name": "input",
                        "shape": list(rows.shape),
                        "datatype": "FP64",
                        "data": rows.ravel().tolist(),
                    }
                ],
            }
            r = client.post("/v2/models/iris/infer", json=body)
            assert r.status_code == 200, r.text
            sent[r.headers["x-maas-request-id"]] = (i, len(rows))
        summary = client.get("/maas/experiments/iris").json()
        assert sum(v["requests"] for v in summary["versions"]) == 30
        truth = [{"id": rid, "truth": y[i : i + n].tolist()} for rid, (i, n) in sent.items()]
        joined = client.post("/v2/models/iris/feedback", json={"feedback": truth}).json()
    assert joined["joined"] == 30 and joined["unknown"] == [] and joined["mismatched"] == []
    assert sorted(sent) == sorted(f"q{i}" for i in range(30))
