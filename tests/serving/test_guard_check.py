"""The guard's decision (`maas_nb.serving.watch`) as a pure function of the live window's
summary: thresholds, the minimum sample, and failures in a row."""

from __future__ import annotations

import pytest

from maas_nb.exceptions import ConfigurationError
from maas_nb.serving.watch import ROLLED_BACK, GuardState, check, guard_config


def entry(version, role="arm", requests=200, errors=0, p99=5.0, feedback=0, accuracy=None):
    return {
        "version": version,
        "role": role,
        "requests": requests,
        "errors": {"count": errors, "rate": errors / requests if requests else None},
        "latency_ms": {"count": requests, "p50": 1.0, "p99": p99},
        "feedback": {"count": feedback, "metric": "accuracy", "value": accuracy},
    }


def summary(*candidates):
    return {"versions": [entry("iris:1", role="primary", p99=900.0), *candidates]}


def test_p99_above_the_threshold_fails_and_the_primary_is_never_judged():
    guard = guard_config({"max_p99_ms": 250})
    (finding,) = check(summary(entry("iris:2", p99=251.0)), guard)
    assert (finding.version, finding.waiting) == ("iris:2", False)
    assert finding.failed == (("max_p99_ms", 250.0, 251.0),)
    assert finding.reason() == "p99 latency (ms) 251 above the guard's max_p99_ms=250"
    assert check(summary(entry("iris:2", p99=250.0)), guard)[0].failed == ()


def test_an_arm_below_the_minimum_sample_is_not_judged():
    guard = guard_config({"max_error_rate": 0.05, "min_sample": 100})
    (finding,) = check(summary(entry("iris:2", requests=99, errors=99)), guard)
    assert finding.waiting and finding.failed == ()
    (finding,) = check(summary(entry("iris:2", requests=100, errors=6)), guard)
    assert finding.failed == (("max_error_rate", 0.05, 0.06),)


def test_accuracy_is_judged_on_enough_feedback_and_shadows_are_not_judged():
    guard = guard_config({"min_accuracy": 0.8, "min_sample": 50})
    low = entry("iris:2", feedback=49, accuracy=0.1)
    assert check(summary(low), guard)[0].waiting
    low = entry("iris:2", requests=10, feedback=50, accuracy=0.7)  # few requests, enough truth
    assert check(summary(low), guard)[0].failed == (("min_accuracy", 0.8, 0.7),)
    shadow = entry("iris:3", role="shadow", errors=200)
    assert check(summary(shadow), guard_config({"max_error_rate": 0.0})) == []


def test_more_failures_in_a_row_than_allowed_roll_back():
    guard = guard_config({"max_error_rate": 0.05, "failures_allowed": 2})
    state = GuardState(2, guard)
    bad = check(summary(entry("iris:2", errors=50)), guard)
    good = check(summary(entry("iris:2", errors=0)), guard)
    waiting = check(summary(entry("iris:2", requests=3, errors=3)), guard)
    assert state.observe(bad, 1.0) is None
    assert state.observe(bad, 2.0) is None
    assert state.observe(good, 3.0) is None  # a pass starts the count again
    assert state.observe(bad, 4.0) is None
    assert state.observe(waiting, 5.0) is None  # too few to judge: no count either way
    assert state.observe(bad, 6.0) is None
    finding = state.observe(bad, 7.0)
    assert finding is not None and finding.version == "iris:2"
    state.roll_back(finding, 7.0)
    described = state.describe()
    assert (described["state"], described["version"], described["at"]) == (
        ROLLED_BACK,
        "iris:2",
        7.0,
    )
    assert described["reason"] == (
        "iris:2 failed 3 checks in a row (error rate 0.25 above the guard's "
        "max_error_rate=0.05); the primary serves alone"
    )
    assert [c["result"] for c in described["checks"]] == [
        "failed", "failed", "passed", "failed", "waiting", "failed", "failed"
    ]  # fmt: skip


@pytest.mark.parametrize(
    ("values", "message"),
    [
        (
            {"interval_s": 5},
            "A guard needs at least one threshold (max_error_rate, max_p99_ms, min_accuracy), "
            "got ['interval_s']; for example max_error_rate=0.05 (--guard-error-rate 0.05).",
        ),
        (
            {"max_error_rate": 5},
            "The guard's max_error_rate is a fraction from 0 to 1, got 5; for example 0.05.",
        ),
        (
            {"max_p99_ms": 100, "failures_allowed": 1.5},
            "The guard's failures_allowed must be a whole number of at least 0, got 1.5.",
        ),
        ({"max_p99_ms": 0}, "The guard's max_p99_ms must be above 0, got 0."),
        (
            {"max_p99_ms": 9, "window": 3},
            "Unknown guard settings ['window']; the guard takes interval_s, failures_allowed, "
            "min_sample, max_error_rate, max_p99_ms, min_accuracy.",
        ),
    ],
)
def test_a_bad_guard_says_what_and_how_to_fix_it(values, message):
    with pytest.raises(ConfigurationError) as info:
        guard_config(values)
    assert str(info.value) == message


def test_the_defaults_fill_what_is_not_given():
    assert guard_config({"max_error_rate": 0.1, "interval_s": 2}) == {
        "interval_s": 2.0,
        "failures_allowed": 2,
        "min_sample": 50,
        "max_error_rate": 0.1,
    }


def test_a_server_whose_one_worker_rolled_back_says_so():
    from maas_nb.serving.workers import merge

    def entry(guard):
        return {"name": "iris", "status": "ready", "generation": 2, "guard": guard}

    watching = {"state": "watching", "generation": 2}
    rolled = {"state": "rolled_back", "generation": 2, "version": "iris:2"}
    (merged,) = merge([entry(watching)], [[entry(rolled)], [entry(watching)]])
    assert merged["guard"] == rolled
    (merged,) = merge([entry(watching)], [[entry(watching)]])
    assert merged["guard"] == watching
