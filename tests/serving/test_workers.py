"""``maas serve --workers N``: N processes on one port, answering as one server."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import threading
from pathlib import Path

import httpx
import pytest

import maas_nb
import maas_nb.deploying
from maas_nb.cli import main
from maas_nb.processes import pid_alive
from maas_nb.serving.workers import run_directory
from tests.custom_models import WorkerGatedRegressor
from tests.helpers import wait_for
from tests.serving.conftest import stop
from tests.serving.test_metrics import metric

BODY = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}


def fresh(server, method: str, path: str, **kwargs) -> httpx.Response:
    """One request on a new connection: whichever worker accepts it answers."""
    with server.client() as c:
        return c.request(method, path, **kwargs)


def worker_pids(server, n: int = 2) -> set[int]:
    """The pids of the workers answering, once *n* distinct ones have answered."""
    seen: set[int] = set()

    def both() -> bool:
        seen.add(fresh(server, "GET", "/maas/workers").json()["pid"])
        return len(seen) >= n

    wait_for(both, timeout=30, interval=0.01, what=f"{n} workers to answer")
    return seen


def by_worker(server, pids: set[int]) -> dict[int, int]:
    """The requests each worker counted, as it last published them."""
    directory = run_directory(server.home, server.proc.pid)
    published = {p: json.loads((directory / f"{p}.json").read_text()) for p in pids}
    return {p: info["metrics"].get("iris", {}).get("requests", 0) for p, info in published.items()}


@pytest.fixture
def two_workers(start_server, registry, classifier, iris):
    X, _ = iris
    registry.register(classifier, "iris", sample=X[:5], alias="production")
    registry.put_deployment("iris", "iris@production", {"max_batch_size": 16})
    return start_server("--workers", "2")


def test_both_workers_answer_metrics_sum_both_and_stop_stops_both(two_workers):
    server = two_workers
    pids = worker_pids(server)
    listed = fresh(server, "GET", "/maas/workers").json()["workers"]
    assert sorted(w["pid"] for w in listed) == sorted(pids)
    assert server.proc.pid not in pids  # the supervisor serves nothing itself
    sent = 0
    while True:  # until each worker has answered predictions
        assert sent < 400, f"one worker took every connection: {by_worker(server, pids)}"
        for _ in range(10):
            r = fresh(server, "POST", "/v2/models/iris/infer", json=BODY)
            assert r.status_code == 200, r.text
        sent += 10
        counts = wait_for(
            lambda total=sent: (c := by_worker(server, pids)) and sum(c.values()) == total and c,
            timeout=10,
            what="the workers to publish their counts",
        )
        if all(counts.values()):
            break
    label = '{deployment="iris"}'
    for _ in range(6):  # scrapes land on either worker; each answers with the sum
        text = fresh(server, "GET", "/metrics").text
        assert metric(text, f"maas_requests_total{label}") == sent
        assert metric(text, f"maas_request_latency_seconds_count{label}") == sent
        assert metric(text, f"maas_request_errors_total{label}") == 0
    output = stop(server)  # SIGTERM: each worker drains and finishes, then the supervisor
    assert server.proc.returncode == 0, output
    for pid in pids:
        assert f"Finished server process [{pid}]" in output
    assert [p for p in pids if pid_alive(p)] == []
    assert not run_directory(server.home, server.proc.pid).exists()


@pytest.mark.slow
def test_an_alias_move_under_load_reaches_every_worker_with_no_failure(two_workers, registry, iris):
    from sklearn.dummy import DummyClassifier

    X, y = iris
    server = two_workers
    worker_pids(server)
    registry.register(DummyClassifier(strategy="most_frequent").fit(X, y), "iris", sample=X[:5])
    stop = threading.Event()
    failures: list[str] = []
    answers: list[tuple[int, str]] = []  # (index of the request, version that answered)

    def client() -> None:
        while not stop.is_set():
            headers = {"Connection": "close"}  # new connections: both workers get traffic
            with httpx.Client(base_url=server.url, timeout=30, trust_env=False) as c:
                r = c.post("/v2/models/iris/infer", json=BODY, headers=headers)
            if r.status_code != 200:
                failures.append(f"{r.status_code} {r.text}")
            else:
                answers.append((len(answers), r.json()["model_version"]))

    threads = [threading.Thread(target=client) for _ in range(3)]
    for t in threads:
        t.start()
    try:
        wait_for(lambda: len(answers) >= 30, timeout=60, what="traffic on version 1")
        registry.set_alias("iris:2", "production")
        [entry] = server.reconcile()  # answers once every worker serves the new version
        right_after = [
            fresh(server, "POST", "/v2/models/iris/infer", json=BODY).json()["model_version"]
            for _ in range(10)
        ]
        moved = len(answers)
        assert (entry["version"], entry["status"]) == (2, "ready")
        assert right_after == ["2"] * 10
        wait_for(lambda: len(answers) >= moved + 60, timeout=60, what="traffic after the move")
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert failures == []
    late = [version for i, version in answers[moved + 3 :]]  # 3: requests in flight
    assert set(late) == {"2"}, f"a worker still served version 1 after the move: {late}"
    for pid in worker_pids(server):
        assert pid_alive(pid)


def test_reconcile_answers_once_every_worker_serves_the_move(two_workers, registry, iris, tmp_path):
    server = two_workers
    pids = worker_pids(server)
    gate = tmp_path / "gate"
    gate.mkdir()
    model = WorkerGatedRegressor(str(gate)).fit(iris[0])
    (gate / f"open-{os.getpid()}").touch()  # registering predicts on the sample here
    trusted = ["tests.custom_models.WorkerGatedRegressor"]
    registry.register(model, "iris", sample=iris[0][:5], trusted_types=trusted)
    registry.set_alias("iris:2", "production")
    answer: list = []
    mover = threading.Thread(target=lambda: answer.extend(server.reconcile()))
    mover.start()
    try:
        first = wait_for(
            lambda: [p for p in gate.glob("entered-*") if not p.name.endswith(f"-{os.getpid()}")],
            timeout=60,
            what="a worker warming up v2",
        )[0]
        ahead = int(first.name.removeprefix("entered-"))  # most likely the one asked
        (behind,) = pids - {ahead}
        wait_for(lambda: (gate / f"entered-{behind}").exists(), timeout=60, what="the other")
        (gate / f"open-{ahead}").touch()
        wait_for(lambda: by_worker_version(server, ahead) == 2, timeout=60, what="v2 on one")
        for _ in range(6):  # whichever worker answers: the server as a whole is still on v1
            [entry] = fresh(server, "GET", "/maas/deployments").json()
            assert entry["version"] == 1, entry
        mover.join(timeout=1.0)
        assert mover.is_alive(), "reconcile answered while a worker still loaded v2"
    finally:
        for pid in pids:
            (gate / f"open-{pid}").touch()
        mover.join(60)
    assert [(e["version"], e["status"]) for e in answer] == [(2, "ready")]
    assert {by_worker_version(server, pid) for pid in pids} == {2}


def by_worker_version(server, pid: int) -> int | None:
    """The version of iris worker *pid* last published as serving."""
    path = run_directory(server.home, server.proc.pid) / f"{pid}.json"
    [entry] = json.loads(path.read_text())["deployments"]
    return entry["version"]


def test_a_crashed_worker_is_replaced_and_none_outlives_a_killed_supervisor(two_workers):
    server = two_workers
    pids = worker_pids(server)
    victim = min(pids)
    os.kill(victim, signal.SIGKILL)

    def replaced() -> set[int] | None:
        try:
            workers = fresh(server, "GET", "/maas/workers").json()["workers"]
        except httpx.TransportError:  # a connection the killed worker had queued is reset
            return None
        listed = {w["pid"] for w in workers}
        return listed if len(listed) == 2 and victim not in listed else None

    pids = wait_for(replaced, timeout=60, interval=0.05, what="a new worker for the killed one")
    assert fresh(server, "POST", "/v2/models/iris/infer", json=BODY).status_code == 200
    server.proc.kill()  # no chance to stop its workers: the kernel tells them
    wait_for(
        lambda: not any(pid_alive(p) for p in pids),
        timeout=60,
        interval=0.02,
        what="the workers of a killed supervisor to exit",
    )
    output = stop(server)  # the workers shared its stdout: read once they are gone
    assert f"(pid {victim}) was killed by SIGKILL: starting another" in output


def test_cli_deploy_workers_starts_them_and_undeploy_reaches_all(registry, classifier, iris):
    X, _ = iris
    registry.register(classifier, "iris", sample=X[:5], alias="production")
    assert main(["deploy", "iris@production", "--workers", "2"]) == 0
    info = json.loads((registry.home / "server.json").read_text())
    assert info["workers"] == 2
    dep = maas_nb.deploying.get_deployment("iris")
    seen: set[int] = set()
    with httpx.Client(timeout=30, trust_env=False) as c:

        def both() -> bool:
            r = c.get(f"{dep.server}/maas/workers", headers={"Connection": "close"})
            seen.add(r.json()["pid"])
            return len(seen) == 2

        wait_for(both, timeout=30, interval=0.01, what="2 workers to answer")
        with pytest.warns(UserWarning, match=r"already runs with 2 worker\(s\); it keeps them"):
            maas_nb.deploy("iris@production", name="again", workers=1)
        assert main(["undeploy", "iris"]) == 0
        for _ in range(10):  # whichever worker answers no longer serves it
            r = c.post(dep.url, json=BODY, headers={"Connection": "close"})
            assert r.status_code == 404, r.text
    assert main(["server", "stop"]) == 0
    assert not pid_alive(info["pid"])
    assert [p for p in seen if pid_alive(p)] == []


def test_workers_stop_the_server_when_its_home_is_deleted(start_server, home):
    server = start_server("--workers", "2")
    pids = worker_pids(server)
    port = int(server.url.rsplit(":", 1)[1])
    shutil.rmtree(home)
    server.proc.wait(timeout=30)
    output = stop(server)
    assert server.proc.returncode == 0, output
    assert f"the registry home {home} was deleted: stopping the server" in output
    assert "stopped on its own: stopping" in output
    assert [p for p in pids if pid_alive(p)] == []
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port is free again


def test_workers_take_the_token_from_the_environment_only(start_server):
    token = "w0rkers-t0ken-in-no-argv"
    server = start_server("--workers", "2", token=token)
    pids = worker_pids(server)
    for pid in pids:
        assert token not in Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
    for _ in range(10):  # whichever worker answers wants the token
        with httpx.Client(base_url=server.url, trust_env=False) as c:
            assert c.get("/maas/workers").status_code == 401


def test_a_single_process_server_is_its_only_worker(start_server):
    server = start_server()
    me = {"pid": server.proc.pid, "index": 0}
    assert fresh(server, "GET", "/maas/workers").json() == {**me, "workers": [me]}
    assert not (server.home / "run").exists()


@pytest.mark.parametrize("workers", [0, -1, True, 1.5])
def test_a_bad_number_of_workers_is_refused(workers, registry, classifier, iris):
    registry.register(classifier, "iris", sample=iris[0][:5])
    with pytest.raises(maas_nb.exceptions.ConfigurationError) as caught:
        maas_nb.deploy("iris", workers=workers)
    assert str(caught.value) == (
        f"workers is {workers!r}; give the number of server processes, a whole number of at "
        "least 1 (the default, 1, serves from one process)."
    )
