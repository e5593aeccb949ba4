"""The live window and its intervals on numbers worked out by hand (or by scipy)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy.stats import t as student

from maas_nb.serving.intervals import bucket_bounds, latency_bucket, mean_interval, quantile, wilson
from maas_nb.serving.outcomes import Outcome
from maas_nb.serving.window import Window


class Clock:
    def __init__(self, now: float = 1_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def layout(task: str = "classification", shadow: bool = False) -> dict:
    versions = [
        {"version": "iris:1", "target": "iris@production", "role": "primary", "weight": 90},
        {"version": "iris:2", "target": "iris@candidate", "role": "arm", "weight": 10},
    ]
    if shadow:
        versions.append({"version": "iris:3", "target": "iris:3", "role": "shadow", "weight": 0})
    return {
        "deployment": "iris",
        "generation": 3,
        "primary": "iris:1",
        "task": task,
        "versions": versions,
    }


def make_window(clock: Clock, **kwargs) -> Window:
    window = Window(lambda name: layout(**kwargs), clock=clock)
    window.watch("iris")
    return window


def outcome(
    clock: Clock, version: int, rid: str, answer, *, latency=0.002, shadow=False
) -> Outcome:
    outputs = {"predictions": np.asarray(answer)}
    n = len(outputs["predictions"])
    return Outcome("iris", "iris", version, rid, latency, n, None, outputs, shadow, clock.now)


def record(window: Window, o: Outcome, theirs: np.ndarray | None = None) -> None:
    """Tell *window* the answer in *o* as the server does: a request's own (`answered`),
    a shadow's copy as a batch of one, with *theirs*, the answer its client got."""
    label = f"{o.model}:{o.version}"
    if not o.shadow:
        window.answered(o.deployment, label, o.request_id, o.latency_s, o.outputs, at=o.at)
        return
    answer = o.outputs["predictions"]
    window.record_copies(
        o.deployment, label, [o.request_id], answer, [0, o.rows], [o.latency_s], o.at, [theirs]
    )


def by_version(summary: dict) -> dict:
    return {v["version"]: v for v in summary["versions"]}


def test_wilson_intervals_match_the_textbook():
    low, high = wilson(0, 4500)
    assert low == 0.0 and high == pytest.approx(1.959964**2 / (4500 + 1.959964**2), rel=1e-6)
    assert wilson(90, 100) == pytest.approx([0.8256, 0.9448], abs=1e-4)
    assert wilson(0, 0) is None


def test_a_t_interval_of_a_mean_error():
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
    mean, (low, high) = mean_interval(5, values.sum(), (values**2).sum())
    half = student.ppf(0.975, 4) * values.std(ddof=1) / math.sqrt(5)
    assert mean == 3.0 and (low, high) == pytest.approx((3 - half, 3 + half))
    assert mean_interval(1, 2.0, 4.0) == (2.0, None)


def test_latency_quantiles_and_their_order_statistic_interval():
    counts = [0] * 122
    for ms in range(1, 1001):  # 1 ms .. 1 s, uniform
        counts[latency_bucket(ms / 1000)] += 1
    p50, (low, high) = quantile(counts, 0.5)
    assert abs(p50 - 0.5) / 0.5 < 0.07  # within half a 12 % bucket
    # the ranks 469 and 532 (500 -/+ 1.96 * sqrt(250)) lie inside, bucket bounds around
    assert low <= 0.469 and high >= 0.532 and high / low < 1.5
    p99, (low, high) = quantile(counts, 0.99)
    assert abs(p99 - 0.99) / 0.99 < 0.07 and low <= 0.984 <= 0.996 <= high
    assert (
        bucket_bounds(latency_bucket(0.0123))[0]
        <= 0.0123
        < bucket_bounds(latency_bucket(0.0123))[1]
    )


def test_counts_rates_agreement_and_accuracy_per_version():
    clock = Clock()
    window = make_window(clock, shadow=True)
    truth = {}
    for i in range(200):
        rid = f"r{i}"
        arm = 1 if i % 10 else 2  # 180 to iris:1, 20 to iris:2
        answer = [i % 3]
        record(window, outcome(clock, arm, rid, answer, latency=0.004))
        copy = outcome(clock, 3, rid, [i % 3 if i % 4 else 9], shadow=True)
        record(window, copy, theirs=np.asarray(answer))
        truth[rid] = i % 3 if i % 5 else 7  # every fifth answer is wrong
    window.record_error("iris", "iris:2")
    result = window.join_feedback("iris", [*truth.items(), ("nobody", 1)])
    assert result["joined"] == 200 and result["unknown"] == ["nobody"]
    assert result["versions"] == {"iris:1": 180, "iris:2": 20, "iris:3": 200}
    summary = window.summary("iris")
    v = by_version(summary)
    assert v["iris:1"]["requests"] == 180 and v["iris:2"]["requests"] == 21
    assert v["iris:2"]["errors"]["count"] == 1 and v["iris:2"]["errors"]["rate"] == 1 / 21
    assert v["iris:2"]["errors"]["ci"] == wilson(1, 21)
    # the shadow disagrees on every fourth request: 150 of 200 agree
    assert v["iris:3"]["agreement"] == {
        "compared": 200,
        "agreed": 150,
        "rate": 0.75,
        "ci": wilson(150, 200),
    }
    assert v["iris:1"]["agreement"]["rate"] is None
    # iris:1 answered i % 10 != 0; wrong where i % 5 == 0: i = 5, 15, ... (20 of 180)
    fb = v["iris:1"]["feedback"]
    assert (fb["count"], fb["metric"], fb["value"]) == (180, "accuracy", 160 / 180)
    assert fb["ci"] == wilson(160, 180)
    assert v["iris:2"]["feedback"]["value"] == 0.0  # i % 10 == 0: all wrong
    p50 = v["iris:1"]["latency_ms"]["p50"]
    assert abs(p50 - 4.0) / 4.0 < 0.07
    assert "too few feedback rows to tell iris:2 from iris:1 (20 < 100)" in summary["warning"]
    assert summary["enough"] is False and summary["task"] == "classification"
    # a joined id is not joined twice
    assert window.join_feedback("iris", [("r1", 1)])["unknown"] == ["r1"]
    series = summary["series"]
    assert len(series["t"]) == 30 and sum(series["iris:1"]["requests"]) == 180
    assert series["iris:1"]["accuracy"][-1] == 160 / 180


def test_regressors_feedback_is_a_mean_absolute_error():
    clock = Clock()
    window = make_window(clock, task="regression")
    errors = []
    for i in range(50):
        record(window, outcome(clock, 1, f"r{i}", [float(i), float(i) + 1]))
        errors += [i % 3, 0.5]
    truth = [(f"r{i}", [float(i) + i % 3, float(i) + 1.5]) for i in range(50)]
    truth.append(("r0", [1.0]))  # the wrong number of rows: reported, not counted
    result = window.join_feedback("iris", truth)
    assert result["joined"] == 50 and result["mismatched"] == []
    fb = by_version(window.summary("iris"))["iris:1"]["feedback"]
    values = np.array(errors)
    assert fb["metric"] == "mae" and fb["count"] == 100
    assert fb["value"] == pytest.approx(values.mean())
    half = student.ppf(0.975, 99) * values.std(ddof=1) / 10
    assert fb["ci"] == pytest.approx([values.mean() - half, values.mean() + half])


def test_old_buckets_leave_the_window_and_old_ids_are_forgotten():
    clock = Clock()
    window = Window(lambda name: layout(), clock=clock, remember=10)
    window.watch("iris")
    for i in range(20):
        record(window, outcome(clock, 1, f"r{i}", [1]))
    assert window.join_feedback("iris", [("r0", 1), ("r19", 1)])["unknown"] == ["r0"]
    clock.now += 301
    record(window, outcome(clock, 2, "late", [1]))
    v = by_version(window.summary("iris"))
    assert v["iris:1"]["requests"] == 0 and v["iris:2"]["requests"] == 1
    assert len(window.table["iris"]["iris:1"]) == 1  # kept until a new bucket begins
    record(window, outcome(clock, 1, "x", [1]))
    assert len(window.table["iris"]["iris:1"]) == 1


def test_workers_windows_add_up_to_one():
    clock = Clock()
    one, a, b = (make_window(clock) for _ in range(3))
    for i in range(300):
        o = outcome(clock, 1 + i % 2, f"r{i}", [i % 3], latency=0.001 * (1 + i % 7))
        record(one, o)
        record(a if i % 3 else b, o)
        clock.now += 0.5
    assert a.summary("iris", [b.snapshot()])["versions"] == one.summary("iris")["versions"]


def test_an_unwatched_deployment_counts_nothing_and_says_why():
    clock = Clock()
    window = Window(lambda name: layout(), clock=clock)
    record(window, outcome(clock, 1, "r", [1]))
    window.record_error("iris", "iris:1")
    summary = window.summary("iris")
    assert all(v["requests"] == 0 for v in summary["versions"])
    assert "nothing to compare" in summary["warning"]


def test_big_requests_are_remembered_within_a_bound_on_rows():
    clock = Clock()
    window = Window(lambda name: layout(), clock=clock, remember_rows=10)
    window.watch("iris")
    for i in range(4):
        record(window, outcome(clock, 1, f"r{i}", [1, 2, 3]))  # 12 rows > 10: r0 goes
    assert list(window.answers["iris"]) == ["r1", "r2", "r3"]
    assert window.remembered("iris")[0] == 9
    record(window, outcome(clock, 1, "r3", [4, 5, 6]))  # the same id again: r1 goes
    assert list(window.answers["iris"]) == ["r2", "r3"]
    assert window.answers["iris"]["r3"]["iris:1"].tolist() == [4, 5, 6]  # the newest
    assert window.remembered("iris")[0] == 9  # both answers to r3 are held
    assert window.join_feedback("iris", [("r3", [4, 5, 6])])["joined"] == 1
    # the older answer to r3 does not come back to be joined
    assert window.join_feedback("iris", [("r3", [1, 2, 3])])["unknown"] == ["r3"]
    assert window.remembered("iris")[0] == 9  # held, joined or not, until forgotten


def test_wilson_bounds_are_exact_at_none_and_all():
    assert wilson(0, 300)[0] == 0.0 and wilson(300, 300)[1] == 1.0


def test_remembered_answers_are_bounded_by_bytes_shadows_included():
    clock = Clock()
    window = Window(lambda name: layout(shadow=True), clock=clock, remember_bytes=1000)
    window.watch("iris")
    for rid in ("a", "b", "c"):  # 200 bytes each answer: five fit
        record(window, outcome(clock, 1, rid, np.zeros(25)))
        assert rid in window.answers["iris"]
        record(window, outcome(clock, 3, rid, np.zeros(25), shadow=True), theirs=np.zeros(25))
    # the oldest answer (a's own) went first; the shadow's answer to a is still joined
    assert {rid: list(a) for rid, a in window.answers["iris"].items()} == {
        "a": ["iris:3"],
        "b": ["iris:1", "iris:3"],
        "c": ["iris:1", "iris:3"],
    }
    assert window.remembered("iris") == (2 * 25, 1000)
    record(window, outcome(clock, 1, "wide", np.zeros((1, 200))))  # 1,600 bytes alone
    assert list(window.answers["iris"]) == [] and window.remembered("iris") == (0, 0)
    record(window, outcome(clock, 1, "d", np.asarray(["cat"] * 5, dtype=object)))
    assert window.remembered("iris") == (5, 5 * (8 + 64))
    assert window.join_feedback("iris", [("d", ["cat"] * 5)])["joined"] == 1
    assert "d" not in window.answers["iris"]
    assert window.remembered("iris") == (5, 5 * (8 + 64))  # held until forgotten


def test_a_join_that_fails_leaves_everything_as_it_was():
    clock = Clock()
    window = make_window(clock, task="regression")
    record(window, outcome(clock, 1, "a", [1.5]))
    record(window, outcome(clock, 1, "b", [2.5]))
    with pytest.raises(OverflowError):  # the server refuses such a truth (live._scalar)
        window.join_feedback("iris", [("a", 1.0), ("b", 10**400)])
    assert list(window.answers["iris"]) == ["a", "b"]
    assert by_version(window.summary("iris"))["iris:1"]["feedback"]["count"] == 0
    assert window.join_feedback("iris", [("a", 1.0), ("a", 1.0)])["unknown"] == ["a"]
    assert by_version(window.summary("iris"))["iris:1"]["feedback"]["count"] == 1


def test_a_reused_id_joins_only_the_versions_whose_answer_fits_the_truth():
    clock = Clock()
    window = make_window(clock)
    window.answered("iris", "iris:1", "x", 0.001, {"predictions": np.asarray([0, 1, 2])})
    window.answered("iris", "iris:2", "x", 0.001, {"predictions": np.asarray([2])})
    result = window.join_feedback("iris", [("x", [2])])  # fits iris:2's answer only
    assert result["joined"] == 1 and result["versions"] == {"iris:2": 1}
    window.answered("iris", "iris:1", "w", 0.001, {"predictions": np.asarray([0, 1])})
    assert window.join_feedback("iris", [("w", [1])])["mismatched"] == ["w"]


def test_a_latency_on_a_buckets_bound_falls_in_that_bucket():
    from maas_nb.serving.intervals import LATENCY_BUCKETS

    for k in range(1, LATENCY_BUCKETS):
        low, high = bucket_bounds(k)
        assert latency_bucket(low) == k  # [low, high): its own lower bound is in
        if k < LATENCY_BUCKETS - 1:
            assert latency_bucket(float(np.nextafter(high, 0.0))) == k
    assert latency_bucket(0.0) == 0 and latency_bucket(1e6) == LATENCY_BUCKETS - 1


def test_an_answer_told_directly_is_counted_and_remembered():
    clock = Clock()
    window = make_window(clock)
    latencies: dict[int, list[float]] = {}
    for i in range(150):  # more than a deferred batch: some remembered, some pending
        latency = 0.001 * (1 + i % 7)
        window.answered("iris", "iris:1", f"r{i}", latency, {"predictions": np.asarray([i % 3])})
        latencies.setdefault(int(clock.now // 10), []).append(latency)
        clock.now += 0.5  # 20 answers to a 10 s bucket
    buckets = window.table["iris"]["iris:1"]
    assert sorted(buckets) == sorted(latencies)
    for number, seen in latencies.items():
        histogram = [0] * len(buckets[number].latency)
        for seconds in seen:
            histogram[latency_bucket(seconds)] += 1
        assert (buckets[number].requests, buckets[number].latency) == (len(seen), histogram)
    assert window.remembered("iris") == (150, 150 * 8)  # one int64 row each
    memory = window.answers["iris"]
    assert list(memory) == [f"r{i}" for i in range(150)]
    assert all(
        a == {"iris:1": [i % 3]}
        for i, a in enumerate(
            {k: v.tolist() for k, v in answered.items()} for answered in memory.values()
        )
    )
    truth = [(f"r{i}", 0) for i in range(150)]  # right where i % 3 == 0: 50 of 150
    assert window.join_feedback("iris", truth)["versions"] == {"iris:1": 150}
    total = window.counts("iris")["iris:1"]
    assert sum(c.fed for c in total.values()) == 150
    assert sum(c.correct for c in total.values()) == 50


def test_a_batch_of_latencies_falls_in_the_buckets_one_by_one_would():
    from maas_nb.serving.intervals import LATENCY_BUCKETS, latency_buckets

    rng = np.random.default_rng(3)
    seconds = [0.0, 1e-5, 1e6, *rng.lognormal(-6, 2, 500).tolist()]
    seconds += [bucket_bounds(k)[0] for k in range(1, LATENCY_BUCKETS)]  # on the bounds
    assert latency_buckets(seconds) == [latency_bucket(s) for s in seconds]


def test_a_shadows_batch_agrees_as_its_copies_pair_by_pair_would():
    from maas_nb.serving.answers import agreeing_pairs, agreeing_rows

    answer = np.asarray([1, 0, 2, 2, 1, 0])
    offsets = [0, 1, 3, 4, 6]
    clients = [np.asarray([1]), np.asarray([0, 1]), np.asarray([2]), np.asarray([1, 1])]
    pairs = [answer[offsets[i] : offsets[i + 1]] for i in range(4)]
    expected = (6, agreeing_pairs(clients, pairs))
    assert expected == (6, 4) and agreeing_rows(clients, answer, offsets) == expected
    unknown = [clients[0], None, clients[2], clients[3]]  # the second's client not known
    assert agreeing_rows(unknown, answer, offsets) == (4, 3)
    floats = [clients[0].astype(float), *clients[1:]]  # two dtypes: pair by pair
    assert agreeing_rows(floats, answer, offsets) == expected
    wide = np.asarray([[1, 1], [0, 0], [2, 2], [2, 2], [1, 1], [0, 0]])  # other shapes
    assert agreeing_rows(clients, wide, offsets) == (6, 0)
