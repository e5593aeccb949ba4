"""What a promote, a rollback or a guard change does on the server: a swap of splits of
the versions already in memory, never a second load of them."""

from __future__ import annotations

import time

from sklearn.linear_model import LogisticRegression

import maas_nb
from tests.serving.test_shadow import in_process

__all__ = ["in_process"]  # the fixture: a server in this process, to read its pool


def _loaded(in_process) -> dict[int, int]:
    """The id of each version's `Loaded` in the split serving now."""
    split = in_process.pool.slots["iris"].split
    return {x.version: id(x) for x in split.loaded()}


def test_promote_rollback_and_a_guard_change_reuse_the_loaded_versions(in_process, iris):
    X, y = iris
    registry = maas_nb.api.registry()
    registry.register(LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5])
    registry.register(LogisticRegression(max_iter=500).fit(X, y), "iris", sample=X[:5])
    split = [{"target": "iris:1", "weight": 90}, {"target": "iris:2", "weight": 10}]
    guard = {"max_error_rate": 0.05, "interval_s": 1.0, "failures_allowed": 2, "min_sample": 50}
    registry.put_deployment("iris", "iris:1", {"generation": 2, "traffic": split, "guard": guard})
    assert in_process.reconcile()["generation"] == 2
    before = _loaded(in_process)
    assert set(before) == {1, 2}
    # A new guard, then what `promote` writes (its ``promoted`` entry is stamped with the
    # time), then what `rollback` writes: each a new generation of the same versions.
    other = {**guard, "max_error_rate": 0.1}
    registry.put_deployment("iris", "iris:1", {"generation": 3, "traffic": split, "guard": other})
    assert in_process.reconcile()["generation"] == 3
    assert _loaded(in_process) == before
    promoted = {"alias": "production", "from": 1, "to": 2, "target": "iris:1", "at": time.time()}
    alone = [{"target": "iris:2", "weight": 100}]
    registry.put_deployment(
        "iris", "iris:2", {"generation": 4, "traffic": alone, "promoted": promoted}
    )
    assert in_process.reconcile()["generation"] == 4
    assert _loaded(in_process) == {2: before[2]}
    registry.put_deployment("iris", "iris:1", {"generation": 5, "traffic": split})
    state = in_process.reconcile()
    assert (state["status"], state["generation"]) == ("ready", 5)
    assert _loaded(in_process)[2] == before[2]  # version 1 was retired at generation 4
