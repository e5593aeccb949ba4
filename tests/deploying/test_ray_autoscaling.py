"""Autoscaling on the ``ray`` target, on the real single-node cluster: under sustained
load a deployment with one to two replicas reaches two, and returns to one when idle.

Ray Serve's autoscaler is told to look at a 12 s window (the proxy pushes its
counts every 10 s) and to wait 1 s before adding a replica and 3 s before removing one,
so both transitions happen within the test; its policy is Ray Serve's own."""

from __future__ import annotations

import threading
import time

import requests

import maas_nb
from maas_nb.cli import main
from maas_nb.deploying import ray_target, server_view
from tests.deploying.conftest import running_replicas
from tests.helpers import wait_for


def test_one_to_two_replicas_under_load_and_back_to_one_when_idle(
    ray_driver, registry, classifier, iris
):
    X, _ = iris
    maas_nb.register(classifier, "auto", sample=X[:5], alias="production")
    dep = maas_nb.deploy(
        "auto@production",
        target="ray",
        min_replicas=1,
        max_replicas=2,
        target_ongoing_requests=1,
        upscale_delay_s=1,
        downscale_delay_s=3,
        autoscaling_config={"look_back_period_s": 12},
    )
    try:
        assert dep.config["autoscaling"]["max_replicas"] == 2
        [entry] = server_view(target="ray")["deployments"]
        assert (entry["status"], entry["replicas"], entry["scaling"]) == ("ready", 1, "1-2")

        counts: list[tuple[float, int]] = [(time.monotonic(), running_replicas("auto"))]

        def now_running(wanted: int) -> bool:
            count = running_replicas("auto")
            if count != counts[-1][1]:
                counts.append((time.monotonic(), count))
            return count == wanted

        failed: list[str] = []
        answered = [0]
        stop = threading.Event()

        def load() -> None:
            with requests.Session() as session:
                while not stop.is_set():
                    body = {"instances": X[:8].tolist()}
                    try:
                        r = session.post(f"{dep.server}/invocations", json=body, timeout=30)
                        if r.status_code != 200:
                            failed.append(f"{r.status_code} {r.text}")
                    except requests.RequestException as exc:
                        failed.append(repr(exc))
                    answered[0] += 1

        threads = [threading.Thread(target=load) for _ in range(8)]
        loaded = time.monotonic()
        for t in threads:
            t.start()
        try:
            wait_for(lambda: now_running(2), timeout=120, interval=0.2, what="two replicas")
            up = time.monotonic()
            # Both replicas take traffic: keep the load a while on two.
            wait_for(lambda: answered[0] > 200 and time.monotonic() > up + 2, timeout=60)
        finally:
            stop.set()
            for t in threads:
                t.join(timeout=60)
        idle = time.monotonic()
        wait_for(lambda: now_running(1), timeout=120, interval=0.2, what="back to one replica")
        assert failed == [], failed[:3]
        assert [count for _, count in counts] == [1, 2, 1]
        assert counts[1][0] > loaded and counts[2][0] > idle
        [entry] = server_view(target="ray")["deployments"]
        assert (entry["status"], entry["replicas"]) == ("ready", 1)
    finally:
        maas_nb.undeploy("auto", target="ray")


def test_the_cli_deploys_with_autoscaling_and_lists_it(ray_driver, registry, classifier, iris):
    registry.register(classifier, "iris", sample=iris[0][:5])
    args = ["deploy", "iris", "--target", "ray", "--min-replicas", "1", "--max-replicas", "3"]
    assert main([*args, "--target-ongoing-requests", "4", "--downscale-delay", "60"]) == 0
    try:
        config = registry.get_deployment("iris").config
        assert config["autoscaling"] == {
            "min_replicas": 1,
            "max_replicas": 3,
            "target_ongoing_requests": 4.0,
            "downscale_delay_s": 60.0,
        }
        assert config["deploy_target"] == "ray"
        # Listing and predicting need no --target: the row says where it runs.
        [handle] = maas_nb.deployments()
        assert (handle.deploy_target, handle.status) == ("ray", "ready")
        assert handle.server == config["url"]
        assert handle.predict(iris[0][:2]).tolist() == classifier.predict(iris[0][:2]).tolist()
    finally:
        maas_nb.undeploy("iris")  # no --target either: stopped on Ray, not left running
    from ray import serve

    assert ray_target.app_name("iris") not in serve.status().applications


def test_metrics_count_every_replica(ray_driver, registry, classifier, iris):
    """A scrape reaches one replica through the proxy; it answers for all of them."""
    X, _ = iris
    registry.register(classifier, "iris", sample=X[:5])
    dep = maas_nb.deploy("iris", target="ray", replicas=2)
    try:
        with requests.Session() as session:
            for _ in range(40):
                body = {"instances": X[:1].tolist()}
                r = session.post(f"{dep.server}/invocations", json=body, timeout=30)
                assert r.status_code == 200, r.text
        line = 'maas_requests_total{deployment="iris"} 40'

        def every_scrape_counts_all() -> bool:
            texts = [requests.get(f"{dep.server}/metrics", timeout=30).text for _ in range(6)]
            return all(line in text.splitlines() for text in texts)

        wait_for(every_scrape_counts_all, timeout=30, interval=0.2, what=line)
    finally:
        maas_nb.undeploy("iris")
