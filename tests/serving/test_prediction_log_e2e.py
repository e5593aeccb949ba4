"""The prediction log end to end: a real ``maas serve`` process answers OIP requests,
its pool hands each answer to the log, and `maas_nb.prediction_log` and `maas_nb.drift`
read what it wrote."""

from __future__ import annotations

import numpy as np

import maas_nb
from maas_nb.exceptions import DeploymentNotFoundError
from tests.helpers import wait_for


def body(X: np.ndarray, request_id: str) -> dict:
    data = X.reshape(-1).tolist()
    return {
        "id": request_id,
        "inputs": [{"name": "input", "shape": list(X.shape), "datatype": "FP64", "data": data}],
    }


def test_a_server_logs_its_answers_and_drift_reads_them(start_server, classifier, iris):
    X, _ = iris
    registry = maas_nb.api.registry()
    registry.register(classifier, "iris", sample=X[:5], reference=X)
    registry.put_deployment("iris", "iris:1", {"log": {"sample": 1.0}})
    server = start_server()
    assert [s["status"] for s in server.reconcile()] == ["ready"]
    rng = np.random.default_rng(0)
    sent = {}
    with server.client() as client:
        for i in range(60):
            rows = X[rng.choice(len(X), 5)]
            rows[:, 2] += 1.8  # petal length moved by one standard deviation
            response = client.post("/v2/models/iris/infer", json=body(rows, f"req-{i}"))
            response.raise_for_status()
            sent[f"req-{i}"] = rows

    def rows_logged() -> int:
        try:
            return len(maas_nb.prediction_log("iris"))
        except DeploymentNotFoundError:  # the writer has not written its first file yet
            return 0

    wait_for(
        lambda: rows_logged() == 300 or None,
        timeout=30,
        interval=0.05,
        what="the server's log writer",
    )
    frame = maas_nb.prediction_log("iris")
    assert set(frame["request_id"]) == set(sent)
    assert set(frame["version"]) == {1} and not frame["shadow"].any()
    for request_id, rows in sent.items():
        logged = frame[frame["request_id"] == request_id].sort_values("row")
        np.testing.assert_allclose(logged[["x0", "x1", "x2", "x3"]].to_numpy(), rows)
        assert logged["predictions"].tolist() == classifier.predict(rows).tolist()
    assert (frame["latency_ms"] > 0).all()
    result = maas_nb.drift("iris")
    assert result["flagged"].tolist() == [False, False, True, False], result
