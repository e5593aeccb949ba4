"""Sinks are asked before an `Outcome` is built: an answer no sink wants (a deployment
beside a logged one, or a logged one's answer not drawn) costs no `Outcome`, and one
wanted is built once for every sink that wants it, on a real server for primaries and
shadows alike; and a deployment beside a watched one does not call the window."""

from __future__ import annotations

import collections

import numpy as np
from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb.serving.outcomes import Outcome, tell_sinks
from tests.helpers import wait_for
from tests.serving.test_shadow import in_process  # noqa: F401 (the fixture)


class Choosy:
    """A sink that wants the answers of some deployments only, and counts what it is asked."""

    def __init__(self, *wanted: str) -> None:
        self.wanted = set(wanted)
        self.asked: collections.Counter[str] = collections.Counter()
        self.taken: list[Outcome] = []

    def wants(self, deployment: str) -> bool:
        self.asked[deployment] += 1
        return deployment in self.wanted

    def take(self, outcome: Outcome) -> None:
        assert outcome.deployment in self.wanted, "take is only given what wants asked for"
        self.taken.append(outcome)


def outcome_of(deployment: str) -> Outcome:
    return Outcome(deployment, "m", 1, "id", 0.001, 1, None, {}, False, 0.0)


def test_an_outcome_is_built_only_when_a_sink_wants_it_and_then_once():
    built: list[Outcome] = []

    def make() -> Outcome:
        built.append(outcome_of("loud"))
        return built[-1]

    nobody = [Choosy(), Choosy("other")]
    tell_sinks(nobody, "loud", make)
    assert built == []
    assert [sink.asked["loud"] for sink in nobody] == [1, 1]

    sinks = [Choosy(), Choosy("loud"), Choosy("loud")]
    tell_sinks(sinks, "loud", make)
    assert len(built) == 1
    assert sinks[1].taken == sinks[2].taken == built  # the same object, built once
    assert sinks[0].taken == []


def test_a_server_gives_each_sink_only_the_answers_it_wants(in_process, iris):  # noqa: F811
    """A plain deployment beside a wanted one, and a shadow's copies: every answer is
    asked about once per sink, and only the wanted deployment's reach `take`."""
    X, y = iris
    registry = maas_nb.api.registry()
    registry.register(LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5])
    other = LogisticRegression(max_iter=1000).fit(X, (y + 1) % 3)
    registry.register(other, "iris", sample=X[:5])
    registry.put_deployment("quiet", "iris:1", {})
    shadow = {"target": "iris:2", "percent": 100.0, "timeout_ms": 5000.0}
    registry.put_deployment("loud", "iris:1", {"generation": 2, "shadow": shadow})
    sink = Choosy("loud")
    in_process.pool.sinks.append(sink)
    assert {s["name"]: s["status"] for s in _reconciled(in_process)} == {
        "quiet": "ready",
        "loud": "ready",
    }
    ids = {"quiet": [], "loud": []}
    with in_process.client() as client:
        for i in range(20):
            for name in ids:
                body = {"instances": X[i : i + 1].tolist()}
                r = client.post(f"/models/{name}/invocations", json=body)
                assert r.status_code == 200, r.text
                ids[name].append(r.headers["x-maas-request-id"])
    wait_for(lambda: sum(o.shadow for o in sink.taken) == 20, timeout=30, what="shadow copies")
    assert sink.asked == {"quiet": 20, "loud": 40}  # 20 answers and 20 shadow answers
    primaries = [o for o in sink.taken if not o.shadow]
    shadows = [o for o in sink.taken if o.shadow]
    assert [o.request_id for o in primaries] == ids["loud"]
    assert sorted(o.request_id for o in shadows) == sorted(ids["loud"])
    assert {(o.version, o.rows) for o in shadows} == {(2, 1)}
    expected = other.predict(X[:20])
    got = {o.request_id: o.outputs["predictions"] for o in shadows}
    assert [int(got[i][0]) for i in ids["loud"]] == expected.tolist()
    assert all(isinstance(o.outputs["predictions"], np.ndarray) for o in shadows)


def _reconciled(in_process) -> list[dict]:  # noqa: F811
    with in_process.client() as client:
        response = client.post("/maas/reconcile")
        response.raise_for_status()
        return response.json()


def test_a_deployment_beside_a_watched_one_tells_the_window_nothing(in_process, iris):  # noqa: F811
    """A plain deployment on a server whose other deployment runs an experiment: its
    requests do not call the window at all (before, each called `Window.answered`,
    which returned at once)."""
    X, y = iris
    registry = maas_nb.api.registry()
    registry.register(LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5])
    registry.register(LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5])
    registry.put_deployment("plain", "iris:1", {})
    traffic = [{"target": "iris:1", "weight": 50}, {"target": "iris:2", "weight": 50}]
    registry.put_deployment("split", "iris:1", {"generation": 2, "traffic": traffic})
    assert {s["status"] for s in _reconciled(in_process)} == {"ready"}
    window = in_process.pool.window
    assert window.watched == {"split"}
    told: list[str] = []
    answered, batch_answered = window.answered, window.batch_answered
    window.answered = lambda deployment, *a, **k: (
        told.append(deployment) or answered(deployment, *a, **k)
    )
    window.batch_answered = lambda deployment, *a, **k: (
        told.append(deployment) or (batch_answered(deployment, *a, **k))
    )
    with in_process.client() as client:
        for name in ("plain", "split"):
            for i in range(10):
                r = client.post(
                    f"/models/{name}/invocations", json={"instances": X[i : i + 1].tolist()}
                )
                assert r.status_code == 200, r.text
    assert "plain" not in told
    assert told.count("split") >= 1
