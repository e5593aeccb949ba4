"""Feedback bodies of 64 KiB and more (parsed as plain JSON off the event loop), and
feedback that cannot be scored: refused whole with a 422, nothing joined."""

from __future__ import annotations

import collections
import json

import pytest
from sklearn.metrics import accuracy_score

from maas_nb.serving.decoding import BIG
from maas_nb.serving.errors import Unprocessable
from maas_nb.serving.live import parse_feedback
from tests.helpers import wait_for

# Importing the fixture is what makes it one of this module's.
from tests.serving.test_feedback import three_versions  # noqa: F401
from tests.serving.test_traffic import infer_body

N = 5000


def test_a_big_feedback_body_joins_every_id(start_server, three_versions, iris):  # noqa: F811
    X, y = iris
    server = start_server()
    (state,) = server.reconcile()
    assert state["status"] == "ready", state
    answered: dict[str, list] = collections.defaultdict(list)
    with server.client() as client:
        for i in range(N):
            k = i % len(X)
            r = client.post("/v2/models/iris/infer", json=infer_body(X[k], f"request-{i:06d}"))
            assert r.status_code == 200, r.text
            answered[r.headers["x-maas-version"]].append((r.headers["x-maas-request-id"], k))
    ids = [(rid, k) for pairs in answered.values() for rid, k in pairs]
    truth = [{"id": rid, "truth": int(y[k])} for rid, k in ids]
    body = json.dumps({"feedback": truth}).encode()
    assert len(body) >= BIG
    headers = {"content-type": "application/json"}
    with server.client() as client:
        # One bad truth among good ones: 422, and none of the good ones is joined.
        for bad in ("1" + "0" * 400, "NaN", "1e400", str(2**53 + 1)):
            spoilt = body[:-2] + b', {"id": "request-000000", "truth": ' + bad.encode() + b"}]}"
            r = client.post("/v2/models/iris/feedback", content=spoilt, headers=headers)
            assert r.status_code == 422, r.text
            assert f"feedback[{N}].truth must be a label" in r.json()["error"]
            assert "Send labels as strings or small integers" in r.json()["error"]

        def shadows_done():
            summary = client.get("/maas/experiments/iris").json()
            return {v["version"]: v for v in summary["versions"]}["iris:3"]["requests"] == N

        wait_for(shadows_done, timeout=60, what="the shadow to answer every copy")
        r = client.post("/v2/models/iris/feedback", content=body, headers=headers)
        assert r.status_code == 200, r.text
        joined = r.json()
        summary = client.get("/maas/experiments/iris").json()
    assert joined["joined"] == N and joined["unknown"] == [] and joined["mismatched"] == []
    live = {v["version"]: v["feedback"] for v in summary["versions"]}
    models = three_versions
    for label, model in zip(("iris:1", "iris:2"), models, strict=False):
        rows = [k for _, k in answered[label]]
        assert live[label]["count"] == len(rows)
        assert live[label]["value"] == accuracy_score(y[rows], model.predict(X[rows])), label
    every = [k for _, k in ids]
    assert live["iris:3"]["count"] == N
    assert live["iris:3"]["value"] == accuracy_score(y[every], models[2].predict(X[every]))


@pytest.mark.parametrize(
    "truth",
    [10**400, -(2**53) - 1, float("nan"), float("inf"), [1, float("-inf")], [], None, {"a": 1}],
)
def test_truths_that_cannot_be_scored_are_refused(truth):
    with pytest.raises(Unprocessable, match=r"feedback\[1\]\.truth must be a label"):
        parse_feedback({"feedback": [{"id": "a", "truth": 1}, {"id": "b", "truth": truth}]})


def test_the_largest_exact_integers_and_labels_are_taken():
    items = [("a", 2**53), ("b", -(2**53)), ("c", True), ("d", "cat"), ("e", [1.5, 2])]
    payload = {"ids": [i for i, _ in items], "truth": [t for _, t in items]}
    assert parse_feedback(payload) == items
