"""Shadow traffic on a real uvicorn server (in this process, to reach its pool's sinks):
answers recorded as outcomes, never returned, a slow shadow cut off by its timeout
while the clients get their answers, and a shadow's model in a process of its own."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import numpy as np
import pytest
import uvicorn
from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb.serving.app import create_app
from maas_nb.serving.outcomes import Outcome
from maas_nb.serving.pool import ModelPool
from tests.custom_models import GatedRegressor, ProcessReporter
from tests.helpers import wait_for


class ListSink:
    """Keeps every outcome (a list append: O(1), no I/O)."""

    def __init__(self) -> None:
        self.outcomes: list[Outcome] = []

    def wants(self, deployment: str) -> bool:
        return True

    def take(self, outcome: Outcome) -> None:
        self.outcomes.append(outcome)

    def of(self, *, shadow: bool) -> list[Outcome]:
        return [o for o in list(self.outcomes) if o.shadow is shadow]


@dataclass
class InProcess:
    url: str
    pool: ModelPool

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, timeout=30, trust_env=False)

    def reconcile(self) -> dict:
        with self.client() as client:
            response = client.post("/maas/reconcile")
            response.raise_for_status()
            return response.json()[0]


@pytest.fixture
def in_process(home) -> Iterator[InProcess]:
    app = create_app(maas_nb.api.registry(), poll_interval=0.2)
    config = uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    wait_for(lambda: server.started, timeout=30, what="uvicorn to start")
    port = server.servers[0].sockets[0].getsockname()[1]
    yield InProcess(f"http://127.0.0.1:{port}", app.app.state.pool)  # type: ignore[attr-defined]
    server.should_exit = True
    thread.join(timeout=60)


def row_body(row: np.ndarray) -> dict:
    return {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": list(row)}]}


def test_shadow_answers_are_recorded_and_never_returned(in_process, iris):
    X, y = iris
    registry = maas_nb.api.registry()
    first = LogisticRegression(max_iter=1000).fit(X, y)
    second = LogisticRegression(max_iter=1000).fit(X, (y + 1) % 3)
    registry.register(first, "iris", sample=X[:5], alias="production")
    registry.register(second, "iris", sample=X[:5], alias="candidate")
    shadow = {"target": "iris@candidate", "percent": 100.0, "timeout_ms": 5000.0}
    registry.put_deployment("iris", "iris@production", {"generation": 2, "shadow": shadow})
    sink = ListSink()
    in_process.pool.sinks.append(sink)
    state = in_process.reconcile()
    assert (state["status"], state["generation"]) == ("ready", 2)
    assert state["shadow"] == {
        "target": "iris@candidate",
        "version": 2,
        "percent": 100.0,
        "timeout_ms": 5000.0,
    }
    rows = X[::5]
    with in_process.client() as client:
        ids = []
        for row in rows:
            r = client.post("/v2/models/iris/infer", json=row_body(row))
            assert r.status_code == 200, r.text
            assert r.headers["x-maas-version"] == "iris:1"  # the shadow never answers
            assert r.json()["outputs"][0]["data"] == [int(first.predict(row[None])[0])]
            ids.append(r.headers["x-maas-request-id"])
    wait_for(lambda: len(sink.of(shadow=True)) == len(rows), timeout=30, what="shadow outcomes")
    primary, shadowed = sink.of(shadow=False), sink.of(shadow=True)
    assert [o.request_id for o in primary] == ids
    assert {o.request_id for o in shadowed} == set(ids)
    assert {(o.model, o.version, o.deployment) for o in primary} == {("iris", 1, "iris")}
    assert {(o.model, o.version) for o in shadowed} == {("iris", 2)}
    by_id = {o.request_id: o for o in shadowed}
    for row, request_id in zip(rows, ids, strict=True):
        outcome = by_id[request_id]
        assert outcome.rows == 1 and outcome.latency_s >= 0
        assert outcome.outputs["predictions"].tolist() == second.predict(row[None]).tolist()


def test_a_shadow_share_copies_about_that_share(in_process, iris):
    X, y = iris
    registry = maas_nb.api.registry()
    model = LogisticRegression(max_iter=1000).fit(X, y)
    registry.register(model, "iris", sample=X[:5], alias="production")
    registry.register(model, "iris", sample=X[:5], alias="candidate")
    shadow = {"target": "iris@candidate", "percent": 20.0, "timeout_ms": 5000.0}
    registry.put_deployment("iris", "iris@production", {"generation": 2, "shadow": shadow})
    sink = ListSink()
    in_process.pool.sinks.append(sink)
    in_process.reconcile()
    with in_process.client() as client:
        for _ in range(1000):
            assert client.post("/v2/models/iris/infer", json=row_body(X[0])).status_code == 200
    shadowing = in_process.pool.shadowing
    wait_for(lambda: shadowing.answered == shadowing.sent, timeout=30, what="shadows to finish")
    assert 120 <= shadowing.sent <= 280, shadowing.sent  # 20% of 1000, +/- 6 sd
    assert len(sink.of(shadow=True)) == shadowing.sent


@pytest.mark.parametrize("timeout_ms", [100.0, 120_000.0])
def test_a_slow_shadow_does_not_hold_the_client_and_is_cut_off_by_its_timeout(
    in_process, iris, tmp_path, timeout_ms
):
    X, y = iris
    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "open").touch()  # open while it is registered and warmed up
    registry = maas_nb.api.registry()
    registry.register(LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5])
    trusted = ["tests.custom_models.GatedRegressor"]
    slow = GatedRegressor(str(gate)).fit(X)
    registry.register(slow, "iris", sample=X[:5], trusted_types=trusted, alias="slow")
    shadow = {"target": "iris@slow", "percent": 100.0, "timeout_ms": timeout_ms}
    registry.put_deployment(
        "iris", "iris:1", {"generation": 2, "shadow": shadow, "max_latency_ms": 0}
    )
    sink = ListSink()
    in_process.pool.sinks.append(sink)
    assert in_process.reconcile()["status"] == "ready"
    (gate / "open").unlink()  # from now on the shadow's model blocks until the gate opens
    shadowing = in_process.pool.shadowing
    try:
        with in_process.client() as client:
            for _ in range(20):
                # A client waiting for its shadow would wait until the gate opens (after
                # this loop) or its shadow's timeout (120 s): more than its own 10 s.
                r = client.post("/v2/models/iris/infer", json=row_body(X[0]), timeout=10)
                assert r.status_code == 200, r.text
                assert r.headers["x-maas-version"] == "iris:1"
        assert len(sink.of(shadow=False)) == 20
        if timeout_ms < 1000:
            wait_for(lambda: shadowing.timed_out == 20, timeout=30, what="shadows cut off")
            assert shadowing.answered == 0 and sink.of(shadow=True) == []
    finally:
        (gate / "open").touch()  # let the blocked calls end, so the server can stop
    if timeout_ms > 1000:  # within its timeout, the shadow's answers are recorded
        wait_for(lambda: len(sink.of(shadow=True)) == 20, timeout=60, what="shadow answers")
        assert shadowing.timed_out == 0


def _process_state(pid: int) -> str | None:
    """The state letter of process *pid* (None: gone)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return None


def test_a_shadow_runs_in_a_process_of_its_own_that_a_crash_does_not_take_the_server(
    in_process, iris
):
    X, y = iris
    registry = maas_nb.api.registry()
    registry.register(LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5])
    trusted = ["tests.custom_models.ProcessReporter"]
    registry.register(ProcessReporter().fit(X), "iris", sample=X[:5], trusted_types=trusted)
    shadow = {"target": "iris:2", "percent": 100.0, "timeout_ms": 30_000.0}
    registry.put_deployment("iris", "iris:1", {"generation": 2, "shadow": shadow})
    sink = ListSink()
    in_process.pool.sinks.append(sink)
    assert in_process.reconcile()["status"] == "ready"
    shadowing = in_process.pool.shadowing

    def send(row: np.ndarray, answered: int) -> set[int]:
        with in_process.client() as client:
            r = client.post("/v2/models/iris/infer", json=row_body(row))
        assert r.status_code == 200, r.text
        assert r.headers["x-maas-version"] == "iris:1"

        def settled() -> bool:  # (the count goes up just before the sinks are told)
            done = shadowing.answered + shadowing.failed == answered
            return done and len(sink.of(shadow=True)) == shadowing.answered

        wait_for(settled, timeout=60, what="the shadow's answer or failure")
        return {int(p) for o in sink.of(shadow=True) for p in o.outputs["predictions"]}

    pids = send(X[0], 1)
    (pid,) = pids
    assert pid != os.getpid()  # this test's process is the server's
    assert f"PPid:\t{os.getpid()}\n" in Path(f"/proc/{pid}/status").read_text()
    crash = X[0].copy()
    crash[0] = -1.0  # ends the shadow's process mid-batch
    assert send(crash, 2) == {pid}
    assert shadowing.failed == 1
    wait_for(lambda: _process_state(pid) is None, timeout=30, what="the crashed process reaped")
    pids = send(X[1], 3)  # the next batch starts a new process
    assert len(pids) == 2 and pid in pids
    (again,) = pids - {pid}
    registry.delete_deployment("iris")
    with in_process.client() as client:
        assert client.post("/maas/reconcile").json() == []
    wait_for(lambda: _process_state(again) is None, timeout=30, what="the process stopped")
