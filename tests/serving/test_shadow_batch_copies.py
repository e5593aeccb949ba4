"""A primary's answered batch is copied to its shadow at once (`Shadowing.send_all`,
`Copies.add_all`): the same batches of copies as one copy at a time would make, the
rows one block; at 100% with room for all, queued at once; with no room left, all cut
off at once; with room for some, or a share below 100%, copy by copy."""

from __future__ import annotations

import asyncio
import random

import numpy as np
import pytest

from maas_nb.serving import shadowing as shadowing_module
from maas_nb.serving.batching import Batcher
from maas_nb.serving.copies import Copies
from maas_nb.serving.loaded import Loaded
from maas_nb.serving.rows import Rows, concat
from maas_nb.serving.shadowing import Shadowing
from maas_nb.serving.split import Shadow


def _batch(rng: random.Random, start: int, dtype: str) -> tuple[Rows, list[int]]:
    """A primary's batch: 1 to 5 requests of 1 to 6 rows (a shadow's batch is 4)."""
    sizes = [rng.choice([1, 1, 1, 2, 3, 6]) for _ in range(rng.randint(1, 5))]
    offsets = [0]
    for n in sizes:
        offsets.append(offsets[-1] + n)
    data = np.arange(start, start + 2 * offsets[-1], dtype=dtype).reshape(-1, 2)
    return Rows("tensor", data, offsets[-1]), offsets


def _clients(rng: random.Random, n: int) -> np.ndarray | None:
    return rng.choice([None, np.arange(n) % 3, np.arange(n) % 3, np.zeros(n, np.float32)])


def _state(copies: Copies) -> list:
    """Everything a shadow's batches hold, comparable."""
    found = []
    for b in copies.bundles:
        theirs = [None if t is None else t.tolist() for t in b.theirs]
        clients = None if b.clients is None else b.clients.tolist()
        found.append((b.ids, b.offsets, b.sent, b.layout, b.data().tolist(), theirs, clients))
    return [copies.rows, copies.waiting, found]


def _scenario(check, *, max_batch_size: int = 4) -> None:
    async def scenario() -> None:
        batcher = Batcher(
            lambda rows: {"y": np.zeros(rows.n)}, name="s:2", max_batch_size=max_batch_size
        )
        loaded = Loaded("s", 2, "sklearn", None, batcher, {})
        try:
            await check(Shadow("s:2", loaded, 100.0, 1.0, "s:2"))
        finally:
            await batcher.close()

    asyncio.run(scenario())


@pytest.mark.parametrize("seed", range(40))
def test_a_batch_added_at_once_makes_the_batches_copies_one_by_one_make(seed):
    rng = random.Random(seed)

    async def check(shadow: Shadow) -> None:
        one_by_one, at_once = Copies(shadow), Copies(shadow)
        for step in range(12):
            dtype = rng.choice(["float64", "float64", "float64", "float32"])
            rows, offsets = _batch(rng, 100 * step, dtype)
            ids = [f"r{step}-{i}" for i in range(len(offsets) - 1)]
            clients = _clients(rng, rows.n)
            for i, request_id in enumerate(ids):
                part = rows.slice(offsets[i], offsets[i + 1])
                theirs = None if clients is None else clients[offsets[i] : offsets[i + 1]]
                one_by_one.add(part, request_id, float(step), theirs)
            at_once.add_all(rows, offsets, ids, float(step), clients)
            assert _state(at_once) == _state(one_by_one)
            if rng.random() < 0.3:  # batches handed over and expired alike
                assert at_once.expire(step - 2.5) == one_by_one.expire(step - 2.5)
                if one_by_one.bundles:
                    got, want = at_once.take(), one_by_one.take()
                    assert got[0].data.tolist() == want[0].data.tolist()
                    assert got[1].ids == want[1].ids
                assert _state(at_once) == _state(one_by_one)

    _scenario(check)


def test_a_batch_copied_at_once_holds_its_own_rows():
    async def check(shadow: Shadow) -> None:
        copies = Copies(shadow)
        rows = Rows("tensor", np.arange(10.0).reshape(5, 2), 5)
        copies.add_all(rows, [0, 1, 2, 3, 4, 5], list("abcde"), 0.0, np.arange(5))
        assert [b.ids for b in copies.bundles] == [list("abcd"), ["e"]]
        for bundle in copies.bundles:  # the primary's batch array is not held
            assert not np.shares_memory(bundle.data(), rows.data)

    _scenario(check)


def _shadowing_scenario(check, percent: float = 100.0) -> None:
    async def scenario() -> None:
        batcher = Batcher(lambda rows: {"y": np.zeros(rows.n)}, name="s:2", max_batch_size=4)
        loaded = Loaded("s", 2, "sklearn", None, batcher, {})
        shadowing = Shadowing([])
        try:
            check(shadowing, Shadow("s:2", loaded, percent, 1.0, "s:2"))
        finally:
            await shadowing.stop()
            await batcher.close()

    asyncio.run(scenario())


def _primary_batch(n: int, start: int = 0) -> tuple[Rows, list, dict, list[int]]:
    rows = concat([Rows("tensor", np.full((1, 2), start + i, float), 1) for i in range(n)])
    notes = [(f"id{start + i}", 0.0) for i in range(n)]
    return rows, notes, {"predictions": np.arange(start, start + n)}, list(range(n + 1))


def test_a_batch_with_room_for_all_is_queued_at_once_and_one_without_room_is_cut_off():
    def check(shadowing: Shadowing, shadow: Shadow) -> None:
        shadowing.send_all("d", shadow, *_primary_batch(5))  # synchronously: no pump yet
        copies = shadowing.queues["d", "s:2"]
        assert [b.ids for b in copies.bundles] == [["id0", "id1", "id2", "id3"], ["id4"]]
        assert copies.bundles[0].clients.tolist() == [0, 1, 2, 3]
        copies.limit = 6  # one row of room left: copy by copy, the first fits
        shadowing.send_all("d", shadow, *_primary_batch(3, start=5))
        assert copies.waiting == 6 and copies.bundles[-1].ids == ["id4", "id5"]
        shadowing.send_all("d", shadow, *_primary_batch(4, start=8))  # no room: all cut
        assert copies.waiting == 6 and copies.cut == 6
        assert shadowing.by_deployment["d"] == [12, 0, 6, 0]  # sent, answered, cut, failed

    _shadowing_scenario(check)


def test_a_share_below_all_copies_the_requests_drawn(monkeypatch):
    draws = iter([0.1, 0.9, 0.2, 0.8, 0.3])  # percent 50: the first, third and fifth

    monkeypatch.setattr(shadowing_module, "_random", lambda: next(draws))

    def check(shadowing: Shadowing, shadow: Shadow) -> None:
        shadowing.send_all("d", shadow, *_primary_batch(5))
        copies = shadowing.queues["d", "s:2"]
        assert [b.ids for b in copies.bundles] == [["id0", "id2", "id4"]]
        assert copies.bundles[0].data().tolist() == [[0.0, 0.0], [2.0, 2.0], [4.0, 4.0]]
        assert [t.tolist() for t in copies.bundles[0].theirs] == [[0], [2], [4]]
        assert shadowing.by_deployment["d"][0] == 3

    _shadowing_scenario(check, percent=50.0)


def test_a_copy_drawn_alone_from_a_batch_holds_its_own_rows(monkeypatch):
    draws = iter([0.9, 0.1, 0.9])  # percent 50: only the second

    monkeypatch.setattr(shadowing_module, "_random", lambda: next(draws))

    def check(shadowing: Shadowing, shadow: Shadow) -> None:
        rows, notes, outputs, offsets = _primary_batch(3)
        shadowing.send_all("d", shadow, rows, notes, outputs, offsets)
        (bundle,) = shadowing.queues["d", "s:2"].bundles
        assert bundle.ids == ["id1"] and bundle.data().tolist() == [[1.0, 1.0]]
        # Kept alone (no batch's room), its rows are not a view of the primary's batch,
        # nor what a sink gets of it.
        assert not np.shares_memory(bundle.data(), rows.data)
        assert not np.shares_memory(bundle.rows_of(0).data, rows.data)

    _shadowing_scenario(check, percent=50.0)


def test_a_table_batch_is_copied_copy_by_copy_into_columns_of_its_own():
    async def check(shadow: Shadow) -> None:
        copies = Copies(shadow)
        table = Rows("dataframe", {"a": np.arange(3.0), "b": np.arange(3)}, 3)
        copies.add_all(table, [0, 1, 3], ["x", "y"], 0.0, None)
        (bundle,) = copies.bundles
        assert bundle.ids == ["x", "y"] and bundle.offsets == [0, 1, 3]
        assert {k: v.tolist() for k, v in bundle.data().items()} == {
            "a": [0.0, 1.0, 2.0],
            "b": [0, 1, 2],
        }
        for i in range(2):
            for column in ("a", "b"):
                assert not np.shares_memory(bundle.rows_of(i).data[column], table.data[column])

    _scenario(check)
