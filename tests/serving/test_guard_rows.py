"""The guard against rows it did not expect: a guard written by hand (no ``interval_s``,
or unusable) never stops the other deployments' guards; a rollback holds when the split
is rebuilt for the same generation (an alias the row names moved); and a split is
judged by the guard it was made with, not by the one of a split still loading."""

from __future__ import annotations

import time

from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb import flavors
from tests.custom_models import SwitchedFailure
from tests.flavors import crafted
from tests.helpers import wait_for
from tests.serving.test_shadow import in_process

__all__ = ["in_process"]  # the fixture: a server in this process, to read its pool

GUARD = {"max_error_rate": 0.5, "interval_s": 0.2, "failures_allowed": 0, "min_sample": 5}
BODY = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


def _two_versions(iris, switch):
    """iris:1 (@production) answers; iris:2 (@candidate) fails once *switch* exists."""
    X, y = iris
    registry = maas_nb.api.registry()
    registry.register(LogisticRegression(max_iter=1000).fit(X, y), "iris", alias="production")
    trusted = ["tests.custom_models.SwitchedFailure"]
    failing = SwitchedFailure(str(switch)).fit(X)
    registry.register(failing, "iris", sample=X[:5], trusted_types=trusted, alias="candidate")
    return registry


def _split(generation: int, guard, candidate: str = "iris@candidate") -> dict:
    traffic = [{"target": "iris@production", "weight": 50}, {"target": candidate, "weight": 50}]
    return {"generation": generation, "traffic": traffic, "guard": guard}


def _roll_back(in_process, name: str = "iris") -> dict:
    """Send requests to *name* until its guard rolls it back; its guard's state."""
    slot = in_process.pool.slots[name]

    def rolled_back() -> bool:
        with in_process.client() as c:
            for _ in range(10):
                c.post(f"/v1/models/{name}:predict", json=BODY)
        return (slot.guard or {}).get("state") == "rolled_back"

    wait_for(rolled_back, timeout=30, interval=0.01, what="the rollback")
    assert slot.guard is not None
    return slot.guard


def _versions(in_process, n: int = 200) -> set[str]:
    with in_process.client() as c:
        answers = [c.post("/v1/models/iris:predict", json=BODY) for _ in range(n)]
    return {f"{r.status_code} {r.headers.get('x-maas-version')}" for r in answers}


def test_a_hand_written_guard_never_stops_the_other_deployments_guards(in_process, iris, tmp_path):
    switch = tmp_path / "fail"
    registry = _two_versions(iris, switch)
    # Written by hand, not by `traffic`: no interval_s (the default applies), and unusable.
    registry.put_deployment("a-loose", "iris@production", _split(2, {"max_error_rate": 0.5}))
    registry.put_deployment("a-wrong", "iris@production", _split(2, {"max_error_rate": "x"}))
    registry.put_deployment("iris", "iris@production", _split(2, GUARD))
    in_process.reconcile()
    slots = in_process.pool.slots
    assert list(slots) == ["a-loose", "a-wrong", "iris"]  # the hand-written ones first
    wait_for(lambda: slots["iris"].guard, timeout=10, what="the guard to watch")
    loose = slots["a-loose"].guard
    assert loose is not None and loose["state"] == "watching"
    assert loose["config"]["interval_s"] == 10.0  # the default, from the checked config
    wrong = slots["a-wrong"].guard
    assert wrong is not None and wrong["state"] == "invalid"
    assert wrong["reason"] == "The guard's max_error_rate must be a number, got 'x'."
    switch.touch()
    rolled = _roll_back(in_process)
    assert (rolled["version"], rolled["generation"]) == ("iris:2", 2)
    assert _versions(in_process) == {"200 iris:1"}


def test_a_rollback_holds_when_an_alias_the_row_names_moves(in_process, iris, tmp_path):
    switch = tmp_path / "fail"
    registry = _two_versions(iris, switch)
    X, y = iris
    registry.register(LogisticRegression(max_iter=300).fit(X, y), "iris")  # iris:3 answers
    registry.put_deployment("iris", "iris@production", _split(2, GUARD))
    in_process.reconcile()
    slot = in_process.pool.slots["iris"]
    wait_for(lambda: slot.guard, timeout=10, what="the guard to watch")
    switch.touch()
    _roll_back(in_process)
    registry.set_alias("iris:3", "candidate")  # the pool rebuilds generation 2's split
    state = in_process.reconcile()
    assert [(a["version"], a["weight"]) for a in state["arms"]] == [(1, 100), (3, 0)]
    assert (state["generation"], state["guard"]["state"]) == (2, "rolled_back")
    assert _versions(in_process) == {"200 iris:1"}


def test_a_split_is_judged_by_its_own_guard_while_the_next_one_loads(in_process, iris, tmp_path):
    switch = tmp_path / "fail"
    registry = _two_versions(iris, switch)
    X, y = iris
    data = crafted.rewrite(
        flavors.get("sklearn").save(crafted.base_model(X, y)),
        crafted.function("sklearn.utils._testing", "check_output"),
    )
    crafted.put_version(registry, "iris", data)  # iris:3, refused by the server's audit
    registry.put_deployment("iris", "iris@production", _split(2, GUARD))
    in_process.reconcile()
    slot = in_process.pool.slots["iris"]
    wait_for(lambda: slot.guard, timeout=10, what="the guard to watch")
    # Generation 3 with another guard never loads: generation 2 serves on, and its guard
    # (not generation 3's) keeps judging it.
    other = {**GUARD, "max_error_rate": 0.9}
    registry.put_deployment("iris", "iris@production", _split(3, other, candidate="iris:3"))
    state = in_process.reconcile()
    assert (state["generation"], state["failed_generation"]) == (2, 3)
    since = time.time()

    def checked_since() -> bool:
        guard = slot.guard or {}
        checks = guard.get("checks") or [{"at": 0}]
        return guard.get("config") == GUARD and checks[-1]["at"] > since

    wait_for(checked_since, timeout=10, what="a check of generation 2 by its own guard")
    assert slot.guard is not None and slot.guard["generation"] == 2
