"""The live window's memory of answers: chunks, exact bounds, the index made for feedback."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from maas_nb.serving.answers import answer_bytes
from maas_nb.serving.memory import Chunk, Memory

BIG = 10**9


def chunk_of(label: str, ids: list[str], answers: list[np.ndarray]) -> Chunk:
    """The chunk of *answers*, one per id (each its own piece)."""
    return Chunk.of_pieces(label, ids, answers, [(0, len(a)) for a in answers])


def arm(ids: list[str], label: str = "m:1") -> Chunk:
    return chunk_of(label, ids, [np.asarray([int(i[1:]) % 3]) for i in ids])


def found(memory: Memory, request_id: str) -> dict[str, list]:
    return {label: c.answer_at(i).tolist() for label, (c, i) in memory.find(request_id).items()}


def test_the_oldest_answers_are_forgotten_one_by_one_not_a_chunk_at_a_time():
    memory = Memory(100, BIG, BIG)
    ids = [f"r{i}" for i in range(3 * 64)]
    for k in range(3):
        memory.add(arm(ids[64 * k : 64 * (k + 1)]))
    assert memory.requests == 100 and memory.rows == 100 and memory.bytes == 100 * 8
    assert list(memory.view()) == ids[-100:]
    assert memory.find(ids[-101]) == {} and found(memory, ids[-100]) == {"m:1": [92 % 3]}
    assert len(memory.chunks) == 2  # the first chunk, wholly forgotten, is dropped


def test_rows_and_bytes_bound_what_is_held():
    memory = Memory(BIG, 10, BIG)
    memory.add(chunk_of("m:1", ["a", "b", "c"], [np.arange(4), np.arange(4), np.arange(4)]))
    assert list(memory.view()) == ["b", "c"] and memory.rows == 8
    memory = Memory(BIG, BIG, 100)  # int64 rows: 12 fit
    memory.add(chunk_of("m:1", ["a", "b"], [np.arange(8), np.arange(5)]))
    assert list(memory.view()) == ["b"] and memory.bytes == 40


def test_answers_that_do_not_concatenate_are_kept_one_by_one():
    answers = [np.asarray(["setosa"]), np.asarray(["virginica", "x"]), np.asarray([[1.5, 2.5]])]
    chunk = chunk_of("m:1", ["a", "b", "c"], answers)
    assert isinstance(chunk.answer, list)
    assert [chunk.answer_at(i).tolist() for i in range(3)] == [a.tolist() for a in answers]
    assert chunk.bytes[-1] == sum(a.nbytes for a in answers)
    mixed = chunk_of("m:1", ["a", "b"], [np.asarray(["1"]), np.asarray([1])])
    assert [mixed.answer_at(i).tolist() for i in range(2)] == [["1"], [1]]  # not widened
    widths = chunk_of("m:1", ["a", "b"], answers[:2])  # strings of two widths: one array
    assert isinstance(widths.answer, np.ndarray) and widths.answer.dtype == np.dtype("<U9")
    assert [widths.answer_at(i).tolist() for i in range(2)] == [["setosa"], ["virginica", "x"]]


def test_a_joined_id_is_found_no_more_nor_its_older_answer_after_a_rebuild():
    memory = Memory(BIG, BIG, BIG)
    memory.add(chunk_of("m:1", ["dup", "a"], [np.asarray([1]), np.asarray([2])]))
    memory.add(chunk_of("m:1", ["dup"], [np.asarray([3])]))  # a client reusing its id
    where = memory.find("dup")
    assert found(memory, "dup") == {"m:1": [3]}  # the newest answer
    memory.joined("dup", where)
    assert memory.find("dup") == {}
    memory._index = None  # made afresh, from the chunks
    assert memory.find("dup") == {} and found(memory, "a") == {"m:1": [2]}
    assert "dup" not in memory.view()
    memory.add(chunk_of("m:1", ["dup"], [np.asarray([4])]))  # asked again: a new request
    assert found(memory, "dup") == {"m:1": [4]}


def test_the_index_follows_new_chunks_and_forgets_what_is_forgotten():
    memory = Memory(10, BIG, BIG)
    for k in range(3000):
        memory.add(arm([f"x{k}"]))
        assert found(memory, f"x{k}") == {"m:1": [k % 3]}  # indexed since the last lookup
        index = memory.index()["m:1"]
        assert len(index) <= 10  # an answer forgotten leaves the index (and frees its chunk)
        assert all(c in memory.chunks and c.position(i) is not None for i, c in index.items())
    assert memory.find("x2989") == {}
    assert [f"x{k}" for k in range(2990, 3000)] == list(memory.view())


def test_each_kind_over_its_bound_loses_its_own_oldest_answers():
    memory = Memory(100, BIG, BIG)
    for k in range(10):  # 60 requests a batch; their copies answered a batch later
        memory.add(arm([f"r{60 * k + i}" for i in range(60)]))
        if k:
            copied = [f"r{60 * (k - 1) + i}" for i in range(60)]
            memory.add_copies("m:2", copied, np.arange(60), list(range(61)))
        assert memory.requests == min(100, 60 * (k + 1))
        assert memory.copies == min(100, 60 * k)
    assert found(memory, "r499") == {"m:2": [499 - 480]}  # its own answer is forgotten


def test_answers_remembered_cannot_be_changed_through_what_is_read():
    memory = Memory(BIG, BIG, BIG)
    memory.add(arm(["r1", "r2"]))
    memory.add(chunk_of("m:3", ["r1"], [np.asarray(["a", 1], dtype=object), np.zeros((2, 2))][:1]))
    for answers in memory.view().values():
        for answer in answers.values():
            with pytest.raises(ValueError, match="read-only"):
                answer[0] = 7
    assert found(memory, "r1") == {"m:1": [1], "m:3": ["a", 1]}


def test_a_copy_answered_after_its_id_was_joined_is_not_remembered():
    memory = Memory(BIG, BIG, BIG)
    memory.add(chunk_of("m:1", ["y", "z"], [np.asarray([0]), np.asarray([0])]))
    memory.joined("y", memory.find("y"))
    memory.add_copies("m:2", ["y", "z"], np.asarray([5, 6, 7]), [0, 2, 3])
    assert memory.find("y") == {}
    assert found(memory, "z") == {"m:1": [0], "m:2": [7]}
    assert memory.copies == 1 and memory.bytes == 2 * 8 + 8


def test_a_shadows_answers_are_found_beside_the_arms_and_bounded_alike():
    memory = Memory(4, BIG, BIG)
    memory.add(arm(["r1", "r2", "r3"]))
    memory.add(Chunk.whole("m:2", ["r1", "r3"], np.asarray([7, 8, 9]), [0, 1, 3], shadow=True))
    assert found(memory, "r3") == {"m:1": [0], "m:2": [8, 9]}
    assert not memory.find("r3")["m:1"][0].shadow
    assert memory.find("nobody") == {}
    assert (memory.requests, memory.copies, memory.rows, memory.bytes) == (3, 2, 3, 6 * 8)
    memory.add(arm(["r4", "r5"]))  # 5 requests: r1's own answer goes, its copy's stays
    assert found(memory, "r1") == {"m:2": [7]}
    assert all(chunk.shadow for chunk, _ in memory.find("r1").values())


def test_old_copies_held_while_the_arms_answers_come_and_go():
    # A shadow's few copies stay (under their bound) while the arms' answers are
    # forgotten past them: each kind is forgotten from its own oldest, the bytes from
    # the oldest of either, and lookups and the view keep their order throughout.
    memory = Memory(8, BIG, 14 * 8)
    memory.add_copies("m:2", ["c0", "c1"], np.asarray([5, 6]), [0, 1, 2])
    for k in range(30):
        memory.add(arm([f"r{k}"]))
        assert found(memory, "c1") == {"m:2": [6]}
        assert memory.requests == min(8, k + 1) and memory.copies == 2
    assert [c.seq for c in memory.chunks] == sorted(c.seq for c in memory.chunks)
    assert list(memory.view()) == ["c0", "c1"] + [f"r{k}" for k in range(22, 30)]
    memory.add_copies("m:2", [f"d{i}" for i in range(8)], np.arange(8), list(range(9)))
    # The copies' bound drops c0 and c1; then the bytes' drops the oldest left: r22, r23.
    assert memory.bytes == 14 * 8 and memory.copies == 8 and memory.requests == 6
    assert memory.find("c1") == {} and found(memory, "r29") == {"m:1": [29 % 3]}
    assert list(memory.view()) == [f"r{k}" for k in range(24, 30)] + [f"d{i}" for i in range(8)]


@pytest.mark.parametrize("seed", range(20))
def test_a_chunk_of_pieces_holds_each_answer_its_rows_and_bytes(seed):
    """Batches' answers end to end (and answers told alone), as pieces: each answer as
    it was, kept when the pieces change later, with its rows and bytes."""
    rng = np.random.default_rng(seed)
    kind = ["int", "float2d", "str", "mixed"][seed % 4]
    pieces, offsets, answers = [], [], []
    for _ in range(int(rng.integers(1, 6))):
        sizes = rng.integers(0 if kind != "mixed" else 1, 4, int(rng.integers(1, 5)))
        ends = [0, *np.cumsum(sizes).tolist()]
        rows = ends[-1]
        if kind == "int" or (kind == "mixed" and rng.random() < 0.5):
            piece = rng.integers(0, 9, rows)
        elif kind == "str" or kind == "mixed":
            piece = np.asarray([f"s{v}" * int(v % 3 + 1) for v in rng.integers(0, 9, rows)])
        else:
            piece = rng.random((rows, 2))
        pieces.append(piece)
        offsets.append(ends)
        answers += [piece[a:b] for a, b in itertools.pairwise(ends)]
    ids = [f"r{i}" for i in range(len(answers))]
    expected = [a.tolist() for a in answers]
    chunk = Chunk.of_pieces("m:1", ids, pieces, offsets)
    for piece in pieces:
        piece[...] = piece[::-1]  # the pieces change later: the chunk's answers do not
    assert [chunk.answer_at(i).tolist() for i in range(len(ids))] == expected
    assert chunk.offsets.tolist() == [0, *np.cumsum([len(a) for a in expected]).tolist()]
    sizes = [
        answer_bytes(np.asarray(a, dtype=chunk.answer_at(i).dtype)) for i, a in enumerate(expected)
    ]
    assert chunk.bytes.tolist() == [0, *np.cumsum(sizes).tolist()]
