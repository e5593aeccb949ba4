"""Copies waiting for a shadow are gathered as they come into the batches they go in:
of one layout, at most a batch of rows (a bigger copy alone); expiry drops exactly the
copies past their timeout, also from the middle of a batch."""

from __future__ import annotations

import asyncio

import numpy as np

from maas_nb.serving.batching import Batcher
from maas_nb.serving.copies import Copies
from maas_nb.serving.loaded import Loaded
from maas_nb.serving.rows import Rows
from maas_nb.serving.split import Shadow


def _tensor(n: int, width: int = 2, dtype: str = "float64", start: int = 0) -> Rows:
    data = np.arange(start, start + n * width, dtype=dtype).reshape(n, width)
    return Rows("tensor", data, n)


def _copies_scenario(check) -> None:
    async def scenario() -> None:
        batcher = Batcher(lambda rows: {"y": np.zeros(rows.n)}, name="s:2", max_batch_size=4)
        loaded = Loaded("s", 2, "sklearn", None, batcher, {})
        try:
            check(Copies(Shadow("s:2", loaded, 100.0, 1.0, "s:2")))
        finally:
            await batcher.close()

    asyncio.run(scenario())


def test_copies_gather_into_batches_of_one_layout_and_a_bigger_copy_goes_alone():
    def check(copies: Copies) -> None:
        sent = [
            ("a", _tensor(1, start=0)),
            ("b", _tensor(2, start=10)),
            ("c", _tensor(1, start=20)),  # 4 rows: the first batch is full
            ("d", _tensor(1, start=30)),
            ("e", _tensor(1, dtype="float32")),  # another layout: a batch of its own
            ("f", _tensor(6, start=40)),  # more than a batch: alone
            ("g", _tensor(1, start=60)),
        ]
        for i, (request_id, rows) in enumerate(sent):
            copies.add(rows, request_id, float(i), np.full(rows.n, i))
        assert copies.rows == 13 and copies.waiting == 7
        assert [b.ids for b in copies.bundles] == [["a", "b", "c"], ["d"], ["e"], ["f"], ["g"]]
        rows, batch = copies.take()
        assert rows.n == 4 and batch.offsets == [0, 1, 3, 4]
        expected = np.concatenate([sent[0][1].data, sent[1][1].data, sent[2][1].data])
        assert np.array_equal(rows.data, expected)
        assert [batch.rows_of(i).n for i in range(3)] == [1, 2, 1]
        assert np.array_equal(batch.rows_of(1).data, sent[1][1].data)
        # A copy's rows for a sink are its own: a view would hold the whole batch's array.
        assert not np.shares_memory(batch.rows_of(1).data, rows.data)
        assert [t.tolist() for t in batch.theirs] == [[0], [1, 1], [2]]
        assert copies.rows == 9
        rows, _ = copies.take()  # a lone copy is kept as it is: no room for a batch
        assert rows.data is sent[3][1].data
        copies.take()
        rows, batch = copies.take()  # the big one, whole: the batcher splits it
        assert rows.n == 6 and batch.ids == ["f"] and rows.data is sent[5][1].data
        assert copies.rows == 1 and copies.waiting == 1

    _copies_scenario(check)


def test_expiry_drops_the_copies_past_their_timeout_even_from_inside_a_batch():
    def check(copies: Copies) -> None:
        for i in range(10):  # one row each, sent at 0..9 s; batches of 4, 4, 2
            copies.add(_tensor(1, start=i), f"id{i}", float(i), None)
        assert copies.expire(5.9) == 5  # timeout 1 s: sent at 0..4 s are past it
        assert [b.ids for b in copies.bundles] == [["id5", "id6", "id7"], ["id8", "id9"]]
        head = copies.bundles[0]
        assert head.offsets == [0, 1, 2, 3] and head.sent == [5.0, 6.0, 7.0]
        assert copies.rows == 5 and copies.waiting == 5
        # Taken, the short batch is filled up from the next one: a whole batch.
        rows, batch = copies.take()
        assert rows.data[:, 0].tolist() == [5.0, 6.0, 7.0, 8.0]
        assert batch.ids == ["id5", "id6", "id7", "id8"] and batch.offsets == [0, 1, 2, 3, 4]
        assert [b.ids for b in copies.bundles] == [["id9"]] and copies.rows == 1
        copies.add(_tensor(1), "late", 9.5, None)  # fits in the newest batch
        assert [b.ids for b in copies.bundles] == [["id9", "late"]]
        assert copies.expire(100.0) == 2 and not copies.bundles and copies.rows == 0
        # A batch that lost copies to the timeout while still the newest has its room
        # back: the copies left move to the front.
        for i in range(3):
            copies.add(_tensor(1, start=10 * i), f"n{i}", 200.0 + i, np.array([i]))
        assert copies.expire(202.0) == 2 and copies.bundles[0].ids == ["n2"]
        for i in (3, 4, 5):
            copies.add(_tensor(1, start=10 * i), f"n{i}", 200.0 + i, np.array([i]))
        copies.add(_tensor(1, start=60), "n6", 206.0, np.array([6]))  # a batch of its own
        assert [b.ids for b in copies.bundles] == [["n2", "n3", "n4", "n5"], ["n6"]]
        rows, batch = copies.take()
        assert rows.data[:, 0].tolist() == [20.0, 30.0, 40.0, 50.0]
        assert batch.clients.tolist() == [2, 3, 4, 5]

    _copies_scenario(check)


def test_the_clients_answers_are_joined_only_while_each_is_known_and_of_one_layout():
    from maas_nb.serving.answers import agreeing_rows

    def check(copies: Copies) -> None:
        labels = [np.array([1]), np.array([0, 1]), np.array([1])]
        for i, theirs in enumerate(labels):  # one batch of 4 rows
            copies.add(_tensor(len(theirs)), f"k{i}", float(i), theirs)
        for i, theirs in enumerate([np.array([1]), None, np.array([2]), np.array([0])]):
            copies.add(_tensor(1), f"u{i}", 3.0, theirs)  # one answer unknown
        for i, theirs in enumerate([np.array([1]), np.array([1.5])]):
            copies.add(_tensor(1), f"f{i}", 4.0, theirs)  # an int, then a float answer
        known, unknown, mixed = copies.bundles
        assert known.clients.tolist() == [1, 0, 1, 1]
        assert unknown.clients is None and mixed.clients is None
        shadow = np.array([1, 1, 1, 0])  # agrees with rows 0 and 2 of theirs
        offsets = known.offsets
        assert agreeing_rows(known.theirs, shadow, offsets, known.clients) == (4, 2)
        assert agreeing_rows(known.theirs, shadow, offsets) == (4, 2)  # as when not joined

    _copies_scenario(check)
