"""A deployment in a split with its answers logged: the window is told each answer by
the request itself, and every other sink still gets an `Outcome` of the same answer."""

from __future__ import annotations

import collections

import numpy as np
from sklearn.linear_model import LogisticRegression

import maas_nb
from tests.serving.test_shadow import ListSink, in_process  # noqa: F401 (the fixture)


def test_the_window_and_the_other_sinks_see_each_answer_under_its_id(in_process, iris):  # noqa: F811
    X, y = iris
    registry = maas_nb.api.registry()
    first = LogisticRegression(max_iter=1000).fit(X, y)
    second = LogisticRegression(max_iter=1000).fit(X, (y + 1) % 3)
    registry.register(first, "iris", sample=X[:5])
    registry.register(second, "iris", sample=X[:5])
    traffic = [{"target": "iris:1", "weight": 50}, {"target": "iris:2", "weight": 50}]
    registry.put_deployment("iris", "iris:1", {"generation": 2, "traffic": traffic})
    sink = ListSink()
    in_process.pool.sinks.append(sink)
    assert in_process.reconcile()["status"] == "ready"
    answered = {}
    with in_process.client() as client:
        for i in range(40):
            r = client.post("/models/iris/invocations", json={"instances": X[i : i + 1].tolist()})
            assert r.status_code == 200, r.text
            version = r.headers["x-maas-version"]
            answered[r.headers["x-maas-request-id"]] = (version, r.json()["predictions"])
    by_version = collections.Counter(v for v, _ in answered.values())
    assert set(by_version) == {"iris:1", "iris:2"}
    got = {
        o.request_id: (f"{o.model}:{o.version}", o.outputs["predictions"].tolist())
        for o in sink.outcomes
    }
    assert got == answered  # one Outcome per answer, with its id, version and answer
    window = in_process.pool.window
    counts = window.counts("iris")
    assert {label: sum(c.requests for c in b.values()) for label, b in counts.items()} == dict(
        by_version
    )
    memory = window.answers["iris"]
    assert {
        rid: (*a.keys(), np.concatenate(list(a.values())).tolist()) for rid, a in memory.items()
    } == {rid: (version, answer) for rid, (version, answer) in answered.items()}
