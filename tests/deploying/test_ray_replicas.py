"""A Ray Serve replica of a ``ray`` deployment killed under load, on the real cluster:
the view (`server_view`, ``maas deployments``) says the deployment is degraded and which
replica stopped while Serve replaces it, then ready again with both replicas, and a load
run after the replacement is ready fails no request."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import numpy as np
import pytest
import requests

import maas_nb
from maas_nb.cli import main
from maas_nb.deploying import ray_target, server_view
from tests.helpers import wait_for

pytestmark = pytest.mark.usefixtures("no_apps_left")


def live_replicas(name: str) -> list[dict[str, Any]]:
    """Serve's details of the live replicas of deployment *name* (actor name, pid, state)."""
    from ray.serve.context import _get_global_client

    client = _get_global_client()
    assert client is not None
    app = client.get_serve_details()["applications"][ray_target.app_name(name)]
    return list(app["deployments"][ray_target.SERVE_DEPLOYMENT]["replicas"])


def running(name: str) -> list[dict[str, Any]]:
    return [r for r in live_replicas(name) if ray_target.plain(r["state"]) == "RUNNING"]


def the_entry(name: str) -> dict[str, Any]:
    [entry] = [e for e in server_view(target="ray")["deployments"] if e["name"] == name]
    return entry


class Load:
    """*clients* threads posting one row to *url*'s ``/invocations`` back to back; each
    answer recorded as (when it was sent, when it came back, None or the failure)."""

    def __init__(self, url: str, rows: np.ndarray, clients: int) -> None:
        self.url, self.body = url, {"instances": rows.tolist()}
        self.answers: list[tuple[float, float, str | None]] = []
        self.stop = threading.Event()
        self.threads = [threading.Thread(target=self.run) for _ in range(clients)]

    def run(self) -> None:
        with requests.Session() as session:
            while not self.stop.is_set():
                sent = time.monotonic()
                try:
                    r = session.post(self.url, json=self.body, timeout=60)
                    failure = None if r.status_code == 200 else f"{r.status_code}: {r.text}"
                except Exception as exc:
                    failure = f"{type(exc).__name__}: {exc}"
                self.answers.append((sent, time.monotonic(), failure))

    def __enter__(self) -> Load:
        for t in self.threads:
            t.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.stop.set()
        for t in self.threads:
            t.join(timeout=90)

    def failures(self, after: float = 0.0, before: float = float("inf")) -> list[str]:
        return [f for sent, _, f in list(self.answers) if f and after <= sent <= before]

    def count(self, after: float = 0.0) -> int:
        return sum(1 for sent, _, _ in list(self.answers) if sent >= after)


def test_a_killed_replica_shows_degraded_then_is_replaced_and_fails_no_request_after(
    monkeypatch, capsys, registry, classifier, iris
):
    import ray

    X, _ = iris
    maas_nb.register(classifier, "iris", sample=X[:5])
    dep = maas_nb.deploy("iris", target="ray", replicas=2, timeout=120)
    entry = the_entry("iris")
    assert (entry["status"], entry["replicas"], entry["replicas_wanted"]) == ("ready", 2, 2)
    before = running("iris")
    assert len(before) == 2
    victim = before[0]
    url = f"{dep.server}/invocations"

    with Load(url, X[:1], clients=4) as during:
        wait_for(lambda: during.count() >= 40, timeout=60, what="40 answers before the kill")
        killed = time.monotonic()
        ray.kill(ray.get_actor(victim["actor_name"], namespace="serve"), no_restart=True)

        # Serve notices (its health check, every 10 s), stops it and starts another: in
        # between the view says so, and the deployment still answers from the other one.
        degraded = wait_for(
            lambda: (e := the_entry("iris"))["status"] == "degraded" and e,
            timeout=120,
            interval=0.05,
            what="the view to say degraded",
        )
        noticed = time.monotonic()
        assert (degraded["replicas"], degraded["replicas_wanted"]) == (1, 2)
        assert degraded["reason"].startswith("Ray Serve (1 of 2 replicas running): ")
        assert "health check failed" in degraded["reason"]
        assert f"replica {victim['replica_id']} (pid {victim['pid']})" in degraded["reason"]

        wait_for(
            lambda: len(running("iris")) == 2 and the_entry("iris")["status"] == "ready",
            timeout=120,
            interval=0.05,
            what="Serve to replace the killed replica",
        )
        replaced = time.monotonic()
        wait_for(lambda: during.count(replaced) >= 20, timeout=60, what="20 answers after")
    after = running("iris")
    assert victim["replica_id"] not in {r["replica_id"] for r in after}
    entry = the_entry("iris")
    assert (entry["status"], entry["replicas"], entry["replicas_wanted"]) == ("ready", 2, 2)
    assert "reason" not in entry or not entry["reason"], entry

    # The load once the replacement is ready: not one failure, on both replicas.
    with Load(url, X[:1], clients=4) as load:
        wait_for(lambda: load.count() >= 400, timeout=120, what="400 answers after")
    assert load.failures() == [], load.failures()[:3]
    assert during.failures(after=replaced) == [], during.failures(after=replaced)[:3]
    served_by = {r["actor_name"]: r for r in after}
    assert len(served_by) == 2

    # What the kill window cost (reported, not asserted: the issue asks for none after).
    lost = during.failures(after=killed, before=replaced)
    with capsys.disabled():
        print(
            f"\nkill -> degraded in view {noticed - killed:.1f} s, -> replaced "
            f"{replaced - killed:.1f} s; {during.count(killed) - during.count(replaced)} "
            f"requests sent in between, {len(lost)} failed: {sorted(set(lost))[:3]}"
        )

    # ``maas deployments`` (the magic's command) shows the same.
    monkeypatch.setenv("MAAS_DEPLOY_TARGET", "ray")
    capsys.readouterr()
    assert main(["deployments", "--json"]) == 0
    [listed] = json.loads(capsys.readouterr().out)
    assert (listed["name"], listed["status"], listed["replicas"]) == ("iris", "ready", 2)
    maas_nb.undeploy("iris", target="ray")


def test_a_killed_replica_that_cannot_come_back_shows_failed_with_serves_reason(
    registry, classifier, iris
):
    import ray

    from maas_nb.serving import ray_app

    X, _ = iris
    maas_nb.register(classifier, "solo", sample=X[:5])
    dep = maas_nb.deploy("solo", target="ray", timeout=120)
    [victim] = running("solo")
    # Its replacement will find no settings (as if their actor had been lost too).
    ray_app.forget_settings("solo")
    ray.kill(ray.get_actor(victim["actor_name"], namespace="serve"), no_restart=True)

    failed = wait_for(
        lambda: (e := the_entry("solo"))["status"] == "failed" and "settings" in e["reason"] and e,
        timeout=120,
        interval=0.2,
        what="the view to say failed, with the replacement's error",
    )
    assert (failed["replicas"], failed["replicas_wanted"]) == (0, 1)
    assert failed["reason"].startswith("Ray Serve (0 of 1 replicas running): ")
    assert "failed to start" in failed["reason"]
    assert ray_app.settings_actor_name("solo") in failed["reason"]  # what it could not find

    # Deploying again puts the settings back: Serve's next try starts a replica.
    maas_nb.deploy("solo", target="ray", timeout=120)
    entry = wait_for(
        lambda: (e := the_entry("solo"))["status"] == "ready" and e,
        timeout=120,
        what="the replacement to be ready",
    )
    assert (entry["replicas"], entry["replicas_wanted"]) == (1, 1)
    assert dep.predict(X[:3]).tolist() == classifier.predict(X[:3]).tolist()
    maas_nb.undeploy("solo", target="ray")
