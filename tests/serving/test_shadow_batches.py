"""A shadow's answers counted a batch at a time are counted as one by one would be."""

from __future__ import annotations

import random

import numpy as np
import pytest

from maas_nb.serving.answers import agreeing, agreeing_pairs
from maas_nb.serving.intervals import latency_bucket
from maas_nb.serving.window import Window

NOW = 1_000_000.0


def answers(rng: random.Random, kind: str, n: int) -> np.ndarray:
    """An answer of *n* rows of *kind*, drawn from few values so that some rows agree."""
    if kind == "int":
        return np.array([rng.randrange(3) for _ in range(n)])
    if kind == "float":
        return np.array([rng.choice([0.5, 0.5 + 1e-9, 2.0]) for _ in range(n)])
    if kind == "str":
        return np.array([rng.choice(["setosa", "versicolor", "x"]) for _ in range(n)], object)
    return np.array([[rng.randrange(2), rng.randrange(2)] for _ in range(n)])  # 2 columns


@pytest.mark.parametrize(
    ("theirs", "mine"),
    [("int", "int"), ("float", "float"), ("int", "float"), ("str", "str"), ("wide", "wide")],
)
def test_agreement_of_many_pairs_at_once_is_their_sum(theirs, mine):
    rng = random.Random(7)
    for _ in range(50):
        sizes = [rng.randrange(1, 5) for _ in range(rng.randrange(1, 9))]
        a = [answers(rng, theirs, n) for n in sizes]
        b = [answers(rng, mine, n if rng.random() < 0.9 else n + 1) for n in sizes]
        assert agreeing_pairs(a, b) == sum(agreeing(x, y) for x, y in zip(a, b, strict=True))


def test_pairs_that_do_not_concatenate_are_compared_one_by_one():
    a = [np.array([1, 2]), np.array([[1, 2]])]  # one row of one column, one of two
    b = [np.array([1, 3]), np.array([[1, 2]])]
    assert agreeing_pairs(a, b) == 2
    assert agreeing_pairs([np.array([1]), np.array([1.5])], [np.array([1]), np.array([1.5])]) == 2


def window() -> Window:
    w = Window(lambda name: {}, clock=lambda: NOW, remember=40)
    w.watch("d")
    return w


def test_a_batch_of_copies_counts_and_remembers_what_each_copy_alone_would():
    rng = random.Random(3)
    batched = window()
    ids = [f"id{i}" for i in range(60)]  # 40 remembered: the first 20 are forgotten
    primary = {}
    for request_id in ids:
        answer = primary[request_id] = answers(rng, "int", rng.randrange(1, 4))
        batched.answered("d", "m:1", request_id, 0.001, {"y": answer}, at=NOW)
    copied = [*ids[::3], "never-seen"]
    offsets, latencies, parts = [0], [], []
    for request_id in copied:
        part = answers(rng, "int", len(primary.get(request_id, [0, 0])))
        parts.append(part)
        offsets.append(offsets[-1] + len(part))
        latencies.append(rng.choice([0.0001, 0.003, 0.2]))
    theirs = [primary.get(i) for i in copied]  # what each copy's client got
    answer = np.concatenate(parts)
    batched.record_copies("d", "m:2", copied, answer, offsets, latencies, NOW, theirs)
    # What each copy alone counts, worked out pair by pair with `agreeing`: a copy comes
    # with its client's answer, so even one whose id is forgotten (the first 20) is
    # compared; the copy of an id never seen is counted, not compared.
    compared = [(primary[i], p) for i, p in zip(copied, parts, strict=True) if i in primary]
    shadow = batched.table["d"]["m:2"][int(NOW // 10)]
    assert shadow.requests == len(copied) == 21
    assert shadow.compared == sum(len(p) for _, p in compared)
    assert shadow.agreed == sum(agreeing(a, p) for a, p in compared)
    assert 0 < shadow.agreed < shadow.compared
    histogram = [0] * len(shadow.latency)
    for seconds in latencies:
        histogram[latency_bucket(seconds)] += 1
    assert shadow.latency == histogram
    memory = batched.answers["d"]
    # the 40 newest requests, then the copies whose own request is forgotten
    assert list(memory) == ids[20:] + [i for i in copied if i not in ids[20:]]
    for request_id, answered in memory.items():
        if request_id in ids[20:]:
            assert np.array_equal(answered["m:1"], primary[request_id])
        else:
            assert "m:1" not in answered
        if request_id in copied:
            assert np.array_equal(answered["m:2"], parts[copied.index(request_id)])
        else:
            assert list(answered) == ["m:1"]
    rows = sum(len(primary[i]) for i in ids[20:])
    size = sum(primary[i].nbytes for i in ids[20:]) + answer.nbytes
    assert batched.remembered("d") == (rows, size)
