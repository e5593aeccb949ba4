"""The guard on a real server: a candidate failing on every row, at 20% with a guard on
the error rate, is rolled back by the server within the guard's window; after that no
request reaches it and none fails."""

from __future__ import annotations

import threading
import time

import httpx
from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb.serving.watch import guard_config
from tests.custom_models import SwitchedFailure
from tests.helpers import wait_for
from tests.serving.conftest import stop
from tests.serving.test_shadow import in_process

__all__ = ["in_process"]  # the fixture: a server in this process, to read its window

INTERVAL_S, FAILURES_ALLOWED, MARGIN_S = 1.0, 1, 2.0
CLIENTS = 4


def test_a_failing_candidate_is_rolled_back_within_the_guards_window(
    start_server, home, iris, tmp_path
):
    X, y = iris
    switch = tmp_path / "fail"
    registry = maas_nb.api.registry()
    registry.register(LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5])
    failing = SwitchedFailure(str(switch)).fit(X)
    trusted = ["tests.custom_models.SwitchedFailure"]
    registry.register(failing, "iris", sample=X[:5], trusted_types=trusted)
    guard = guard_config(
        {
            "max_error_rate": 0.05,
            "interval_s": INTERVAL_S,
            "failures_allowed": FAILURES_ALLOWED,
            "min_sample": 10,
        }
    )
    traffic = [{"target": "iris:1", "weight": 80}, {"target": "iris:2", "weight": 20}]
    registry.put_deployment("iris", "iris:1", {"generation": 2, "traffic": traffic, "guard": guard})
    server = start_server()
    assert server.reconcile()[0]["status"] == "ready"

    def entry() -> dict:
        with server.client() as c:
            (state,) = c.get("/maas/deployments").json()
        return state

    watching = wait_for(lambda: entry()["guard"], timeout=10, what="the guard to watch")
    assert (watching["state"], watching["config"]) == ("watching", guard)
    switch.touch()  # from now on every call of version 2 fails
    body = {"instances": X[:1].tolist()}
    stop_load = threading.Event()
    seen: list[list[tuple[float, int, str, str]]] = [[] for _ in range(CLIENTS)]

    def load(out: list[tuple[float, int, str, str]]) -> None:
        with server.client() as c:
            while not stop_load.is_set():
                sent = time.monotonic()
                try:
                    r = c.post("/v1/models/iris:predict", json=body)
                except httpx.HTTPError as exc:
                    out.append((sent, 0, "", type(exc).__name__))
                    continue
                out.append((sent, r.status_code, r.headers.get("x-maas-version", ""), r.text))

    def guard_state() -> dict | None:
        guard = entry()["guard"]
        return guard if guard["state"] == "rolled_back" else None

    threads = [threading.Thread(target=load, args=(out,)) for out in seen]
    started = time.monotonic()
    for thread in threads:
        thread.start()
    try:
        window = INTERVAL_S * (FAILURES_ALLOWED + 1) + MARGIN_S
        rolled = wait_for(guard_state, timeout=window, interval=0.02, what="the rollback")
        rolled_at = time.monotonic()
        after = [len(o) for o in seen]
        wait_for(
            lambda: all(len(o) >= n + 50 for o, n in zip(seen, after, strict=True)),
            timeout=30,
            what="load after the rollback",
        )
    finally:
        stop_load.set()
        for thread in threads:
            thread.join(timeout=60)
    answers = [a for out in seen for a in out]
    failed = [a for a in answers if a[1] != 200]
    # The failures are all the candidate's, and all before the rollback.
    assert failed, "the candidate never failed: the test tests nothing"
    assert all("fails on purpose" in a[3] for a in failed), failed[:3]
    assert max(a[0] for a in failed) < rolled_at
    later = [a for a in answers if a[0] > rolled_at]
    assert len(later) >= 200 and {(a[1], a[2]) for a in later} == {(200, "iris:1")}
    assert rolled["version"] == "iris:2" and rolled["generation"] == 2
    assert rolled["reason"].startswith("iris:2 failed 2 checks in a row (error rate ")
    assert [(a["version"], a["weight"]) for a in entry()["arms"]] == [(1, 100), (2, 0)]
    took = rolled_at - started
    print(f"rolled back {took:.2f} s after the failures began; {len(failed)} failed requests")
    output = stop(server)
    assert "the guard rolled generation 2 back to iris:1 alone: iris:2 failed 2" in output
    assert "max_error_rate=0.05" in output


def test_the_experiments_summary_carries_the_guards_state(in_process, iris, tmp_path):
    X, y = iris
    switch = tmp_path / "fail"
    registry = maas_nb.api.registry()
    registry.register(LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5])
    trusted = ["tests.custom_models.SwitchedFailure"]
    registry.register(SwitchedFailure(str(switch)).fit(X), "iris", trusted_types=trusted)
    guard = guard_config({"max_error_rate": 0.5, "interval_s": 0.2, "min_sample": 5})
    traffic = [{"target": "iris:1", "weight": 50}, {"target": "iris:2", "weight": 50}]
    registry.put_deployment("iris", "iris:1", {"generation": 2, "traffic": traffic, "guard": guard})
    assert in_process.reconcile()["status"] == "ready"
    window = in_process.pool.window
    wait_for(lambda: window.summary("iris")["guard"], timeout=10, what="the guard to watch")
    assert window.summary("iris")["guard"]["state"] == "watching"
    switch.touch()
    body = {"instances": X[:1].tolist()}

    def rolled_back() -> bool:
        with in_process.client() as c:
            for _ in range(10):
                c.post("/v1/models/iris:predict", json=body)
        return window.summary("iris")["guard"]["state"] == "rolled_back"

    wait_for(rolled_back, timeout=30, interval=0.01, what="the rollback")
    summary = window.summary("iris")
    assert summary["guard"]["version"] == "iris:2"
    assert [(v["version"], v["weight"]) for v in summary["versions"]] == [
        ("iris:1", 100),
        ("iris:2", 0),
    ]
