"""Feedback and the live comparison on a real server: ground truth for 1,000 request ids
gives each version (two arms and a shadow) the accuracy sklearn computes offline on the
same rows, in ``/maas/experiments/NAME`` and ``/metrics``; on one worker or two."""

from __future__ import annotations

import collections
import json

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score
from sklearn.tree import DecisionTreeClassifier

import maas_nb
from maas_nb.serving.workers import run_directory
from tests.helpers import wait_for
from tests.serving.test_traffic import BATCHING, arms, infer_body

N = 1000


def metric(text: str, name: str, labels: dict[str, str]) -> float:
    """The value of the sample *name* with exactly *labels* in a Prometheus text."""
    wanted = name + "{" + ",".join(f'{k}="{v}"' for k, v in labels.items()) + "}"
    for line in text.splitlines():
        if line.split(" ")[0] == wanted:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{wanted} not in metrics")


@pytest.fixture
def three_versions(iris):
    """iris:1 (production), iris:2 (candidate, fitted on partly wrong labels) and iris:3
    (a stump, the shadow): three accuracies."""
    X, y = iris
    noisy = y.copy()
    noisy[np.random.default_rng(7).random(len(y)) < 0.3] = 0
    models = [
        LogisticRegression(max_iter=1000).fit(X, y),
        LogisticRegression(max_iter=1000).fit(X, noisy),
        DecisionTreeClassifier(max_depth=1, random_state=0).fit(X, y),
    ]
    registry = maas_nb.api.registry()
    for model, alias in zip(models, ("production", "candidate", "shadow"), strict=True):
        registry.register(model, "iris", sample=X[:5], alias=alias)
    split = arms(("iris@production", 50), ("iris@candidate", 50))
    shadow = {"target": "iris@shadow", "percent": 100.0, "timeout_ms": 10_000.0}
    config = {**BATCHING, "traffic": split, "generation": 2, "shadow": shadow}
    registry.put_deployment("iris", "iris@production", config)
    return models


def send(server, X, y, *, new_connections: bool = False) -> dict[str, list]:
    """N requests of one row each; per version, (request id, row index) of its answers."""
    answered: dict[str, list] = collections.defaultdict(list)
    # Without keep-alive each request opens a connection: whichever worker accepts it answers.
    limits = httpx.Limits(max_keepalive_connections=0) if new_connections else httpx.Limits()
    with server.client(limits=limits) as client:
        for i in range(N):
            k = i % len(X)
            r = client.post("/v2/models/iris/infer", json=infer_body(X[k]))
            assert r.status_code == 200, r.text
            answered[r.headers["x-maas-version"]].append((r.headers["x-maas-request-id"], k))
    return answered


def check_live_accuracy(server, models, X, y, answered) -> dict:
    ids = [(rid, k) for pairs in answered.values() for rid, k in pairs]
    assert len(ids) == N and {"iris:1", "iris:2"} <= set(answered)

    def shadows_done():
        with server.client() as client:
            summary = client.get("/maas/experiments/iris").json()
        shadow = next(v for v in summary["versions"] if v["version"] == "iris:3")
        return shadow["requests"] == N

    wait_for(shadows_done, timeout=60, what="the shadow to answer every copy")
    truth = [{"id": rid, "truth": int(y[k])} for rid, k in ids]
    with server.client() as client:
        r = client.post("/v2/models/iris/feedback", json={"feedback": truth})
        assert r.status_code == 200, r.text
        joined = r.json()
        summary = client.get("/maas/experiments/iris").json()
        text = client.get("/metrics").text
    assert joined["joined"] == N and joined["unknown"] == []
    assert joined["versions"] == {
        "iris:1": len(answered["iris:1"]),
        "iris:2": len(answered["iris:2"]),
        "iris:3": N,
    }
    offline = {}
    for label, model in zip(("iris:1", "iris:2"), models, strict=False):
        rows = [k for _, k in answered[label]]
        offline[label] = accuracy_score(y[rows], model.predict(X[rows]))
    every = [k for _, k in ids]
    offline["iris:3"] = accuracy_score(y[every], models[2].predict(X[every]))
    assert len(set(offline.values())) == 3  # three different accuracies to tell apart
    live = {v["version"]: v for v in summary["versions"]}
    for label, accuracy in offline.items():
        feedback = live[label]["feedback"]
        assert feedback["metric"] == "accuracy" and feedback["value"] == accuracy, label
        assert feedback["count"] == joined["versions"][label]
        low, high = feedback["ci"]
        assert low < accuracy < high or accuracy == 1.0
        labels = {"deployment": "iris", "version": label, "role": live[label]["role"]}
        assert metric(text, "maas_live_accuracy", labels) == pytest.approx(accuracy, rel=1e-6)
        assert metric(text, "maas_live_accuracy_low", labels) == pytest.approx(low, rel=1e-5)
    # the shadow's agreement with the answer the client got, row by row
    served = np.concatenate(
        [models[int(v[-1]) - 1].predict(X[[k for _, k in p]]) for v, p in answered.items()]
    )
    shadowed = models[2].predict(X[[k for p in answered.values() for _, k in p]])
    agreement = live["iris:3"]["agreement"]
    assert agreement["compared"] == N and agreement["agreed"] == int((served == shadowed).sum())
    assert [v["role"] for v in summary["versions"]] == ["primary", "arm", "shadow"]
    assert metric(text, "maas_shadow_requests_total", {"deployment": "iris"}) == N
    assert metric(text, "maas_shadow_timeouts_total", {"deployment": "iris"}) == 0
    return summary


def test_feedback_gives_each_version_its_offline_accuracy(start_server, three_versions, iris):
    X, y = iris
    server = start_server()
    (state,) = server.reconcile()
    assert state["status"] == "ready", state
    answered = send(server, X, y)
    summary = check_live_accuracy(server, three_versions, X, y, answered)
    assert summary["primary"] == "iris:1" and summary["generation"] == 2
    assert summary["window_s"] == 300 and summary["bucket_s"] == 10
    assert sum(summary["series"]["iris:1"]["requests"]) == len(answered["iris:1"])
    # the same ids again: joined already, so unknown, and nothing counted twice
    rid, k = answered["iris:1"][0]
    with server.client() as client:
        again = client.post("/v2/models/iris/feedback", json={"ids": [rid], "truth": [int(y[k])]})
        assert again.json() == {"joined": 0, "unknown": [rid], "mismatched": [], "versions": {}}
        after = client.get("/maas/experiments/iris").json()
    assert after["versions"][0]["feedback"] == summary["versions"][0]["feedback"]


def test_feedback_reaches_every_worker(start_server, three_versions, iris):
    X, y = iris
    server = start_server("--workers", "2")
    server.reconcile()
    answered = send(server, X, y, new_connections=True)
    check_live_accuracy(server, three_versions, X, y, answered)
    directory = run_directory(server.home, server.proc.pid)
    published = [json.loads(p.read_text()) for p in directory.glob("*.json")]
    served = [sum(b[0] for b in w["live"]["window"]["iris"]["iris:1"].values()) for w in published]
    assert len(served) == 2 and min(served) > 0, served  # both workers answered some
    assert list((directory / "feedback").iterdir()) == []  # the relay left no file behind
