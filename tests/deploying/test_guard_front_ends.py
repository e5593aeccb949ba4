"""The guard from the front ends: ``maas traffic --guard-*`` writes it, the server rolls a
failing candidate back, ``maas deployments`` shows the rollback, and a new generation
(or ``maas rollback``) ends it."""

from __future__ import annotations

import httpx
import pytest
from sklearn.linear_model import LinearRegression, LogisticRegression

import maas_nb
from maas_nb.cli import main
from tests.custom_models import SwitchedFailure
from tests.deploying.test_traffic import ROW, versions_answering
from tests.helpers import wait_for

GUARD = ["--guard-error-rate", "0.05", "--guard-interval", "0.5", "--guard-failures", "0"]


@pytest.fixture
def failing_candidate(iris, tmp_path):
    X, y = iris
    maas_nb.register(
        LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5], alias="production"
    )
    switch = tmp_path / "fail"
    trusted = ["tests.custom_models.SwitchedFailure"]
    model = SwitchedFailure(str(switch)).fit(X)
    maas_nb.register(model, "iris", sample=X[:5], alias="candidate", trusted_types=trusted)
    return switch


def state() -> dict:
    (entry,) = maas_nb.deploying.server_states().values()
    return entry


def test_a_guard_set_from_the_cli_rolls_back_and_the_listing_shows_it(failing_candidate, capsys):
    dep = maas_nb.deploy("iris@production")
    capsys.readouterr()
    split = ["traffic", "iris", "production=80", "candidate=20"]
    assert main([*split, *GUARD, "--guard-min-sample", "5"]) == 0
    text = capsys.readouterr().out
    assert (
        "  guard       error rate > 0.05; every 0.5 s, 0 failures allowed, min sample 5\n" in text
    )
    assert maas_nb.registry().get_deployment("iris").config["guard"] == {
        "interval_s": 0.5,
        "failures_allowed": 0,
        "min_sample": 5,
        "max_error_rate": 0.05,
    }
    failing_candidate.touch()

    def rolled_back() -> bool:
        with httpx.Client(trust_env=False, timeout=30) as client:
            for _ in range(20):
                client.post(f"{dep.server}/v1/models/iris:predict", json=ROW)
        return (state()["guard"] or {}).get("state") == "rolled_back"

    wait_for(rolled_back, timeout=30, interval=0.05, what="the guard to roll back")
    assert versions_answering(dep.server, 50) == {"iris:1": 50}
    assert main(["deployments"]) == 0
    out, err = capsys.readouterr()
    assert "production=80 candidate=20 (rolled back: iris:2)" in out
    assert "Deployment iris: iris:2 failed 1 checks in a row (error rate " in err
    assert "(the server's guard, at generation 2). Make it last with maas rollback iris, " in err
    assert main(["--json", "deployments"]) == 0
    assert '"state": "rolled_back"' in capsys.readouterr().out

    # A new generation watches afresh: both arms serve again.
    failing_candidate.unlink()
    guard = {"max_error_rate": 0.05, "interval_s": 0.5, "failures_allowed": 0, "min_sample": 5}
    maas_nb.traffic("iris", {"production": 80, "candidate": 20}, guard=guard)
    wait_for(lambda: (state()["guard"] or {}).get("state") == "watching", timeout=10)

    def passed_twice() -> bool:
        assert set(versions_answering(dep.server, 50)) == {"iris:1", "iris:2"}
        guard = state()["guard"]
        assert guard["state"] == "watching", guard  # the last generation's errors not counted
        return [c["result"] for c in guard["checks"]][-2:] == ["passed", "passed"]

    wait_for(passed_twice, timeout=30, interval=0.05, what="two passed checks")
    # A rollback from the front end: the primary alone, the guard gone with the split.
    assert main(["rollback", "iris"]) == 0
    config = maas_nb.registry().get_deployment("iris").config
    assert "guard" not in config and config["generation"] == 4
    assert state()["guard"] is None
    assert versions_answering(dep.server, 20) == {"iris:1": 20}


def test_a_bad_guard_is_refused_before_anything_changes(failing_candidate, capsys):
    maas_nb.registry().put_deployment("iris", "iris@production", {})
    assert main(["traffic", "iris", "production=80", "candidate=20", "--guard-interval", "5"]) == 1
    assert capsys.readouterr().err == (
        "maas: error: A guard needs at least one threshold (max_error_rate, max_p99_ms, "
        "min_accuracy), got ['interval_s']; for example max_error_rate=0.05 "
        "(--guard-error-rate 0.05).\n"
    )
    assert maas_nb.registry().get_deployment("iris").config == {}


def test_a_min_accuracy_guard_on_a_regressor_is_refused(iris, capsys):
    X, y = iris
    for _ in range(2):
        maas_nb.register(LinearRegression().fit(X, y), "petal", sample=X[:5])
    maas_nb.registry().put_deployment("petal", "petal:1", {})
    args = ["traffic", "petal", "1=80", "2=20", "--guard-accuracy", "0.9"]
    assert main(args) == 1
    assert capsys.readouterr().err == (
        "maas: error: The guard's min_accuracy judges a classifier's live accuracy, but "
        "petal:1 is a regressor (its predictions are float64, with no probabilities); guard "
        "it with max_error_rate or max_p99_ms instead.\n"
    )
    assert maas_nb.registry().get_deployment("petal").config == {}
