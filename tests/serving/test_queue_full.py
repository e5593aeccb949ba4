"""A full queue, over HTTP: a real server answers 503 with Retry-After, then recovers.

The model (`GatedRegressor`) stays busy until the test opens its gate, so the queue is
filled deterministically: one batch running, the queue at its limit, then one more row.
"""

from __future__ import annotations

import concurrent.futures

import numpy as np
import pytest

from tests.custom_models import GatedRegressor
from tests.helpers import wait_for

FULL = "Model 'gated:1' has 8 rows queued (limit 8); retry shortly."


def oip_body(rows: np.ndarray) -> dict:
    return {
        "inputs": [
            {
                "name": "input",
                "shape": list(rows.shape),
                "datatype": "FP64",
                "data": rows.ravel().tolist(),
            }
        ]
    }


def queue_depth(server) -> float:
    with server.client() as c:
        text = c.get("/metrics").text
    prefix = 'maas_queue_depth_rows{deployment="gated"} '
    return float(next(x for x in text.splitlines() if x.startswith(prefix)).split()[-1])


@pytest.fixture
def gated_server(start_server, registry, tmp_path):
    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "open").touch()  # open while the server warms the model up
    model = GatedRegressor(str(gate)).fit(np.zeros((2, 2)))
    registry.register(
        model,
        "gated",
        sample=np.zeros((2, 2)),
        trusted_types=["tests.custom_models.GatedRegressor"],
    )
    registry.put_deployment(
        "gated", "gated", {"max_batch_size": 4, "max_latency_ms": 0, "max_queue_rows": 8}
    )
    server = start_server()
    assert [s["status"] for s in server.reconcile()] == ["ready"]
    (gate / "open").unlink()
    (gate / "entered").unlink()
    return server, gate


def test_a_full_queue_answers_503_with_retry_after_on_every_protocol(gated_server):
    server, gate = gated_server
    rng = np.random.default_rng(0)
    running_rows, queued_rows = rng.normal(size=(4, 2)), rng.normal(size=(8, 2))
    with server.client() as c, concurrent.futures.ThreadPoolExecutor(2) as pool:
        running = pool.submit(c.post, "/v2/models/gated/infer", json=oip_body(running_rows))
        one_row = [[1.0, 2.0]]
        try:
            wait_for((gate / "entered").exists, timeout=60, what="the first batch to start")
            queued = pool.submit(c.post, "/v2/models/gated/infer", json=oip_body(queued_rows))
            wait_for(lambda: queue_depth(server) == 8, timeout=60, what="8 rows to queue")
            refused = {
                "oip": c.post("/v2/models/gated/infer", json=oip_body(np.array(one_row))),
                "tfserving": c.post("/v1/models/gated:predict", json={"instances": one_row}),
                "mlflow": c.post("/models/gated/invocations", json={"inputs": one_row}),
            }
        finally:
            (gate / "open").touch()  # a failure above must not leave the model blocked
        answers = [running.result(timeout=60), queued.result(timeout=60)]

        for protocol, response in refused.items():
            assert response.status_code == 503, (protocol, response.text)
            assert response.headers["retry-after"] == "1", protocol
        assert refused["oip"].json() == {"error": FULL}
        assert refused["tfserving"].json() == {"error": FULL}
        assert refused["mlflow"].json() == {
            "error_code": "TEMPORARILY_UNAVAILABLE",
            "message": FULL,
        }

        # The requests that were queued, and any request after, are answered normally.
        for response, rows in zip(answers, (running_rows, queued_rows), strict=True):
            assert response.status_code == 200, response.text
            assert response.json()["outputs"][0]["data"] == rows.sum(axis=1).tolist()
        after = c.post("/v1/models/gated:predict", json={"instances": one_row})
        assert after.status_code == 200, after.text
        assert after.json() == {"predictions": [3.0]}
        assert queue_depth(server) == 0
