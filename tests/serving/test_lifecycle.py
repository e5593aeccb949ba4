"""deploy / undeploy, failures with the server's reason, surviving the deploying process,
zero-downtime alias moves and graceful SIGTERM."""

import asyncio
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import threading

import httpx
import numpy as np
import pytest

import maas_nb
import maas_nb.deploying
from maas_nb.cli import main
from maas_nb.exceptions import DeploymentFailedError, PredictionError
from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT, wait_for


@pytest.fixture
def iris_model(classifier, iris):
    X, _ = iris
    maas_nb.register(classifier, "iris", sample=X[:5], alias="production")
    return classifier


def test_deploy_predict_undeploy(iris_model, iris):
    X, _ = iris
    dep = maas_nb.deploy("iris@production", max_batch_size=8, max_latency_ms=1)
    assert dep.name == "iris" and dep.target == "iris@production"
    assert dep.status == "ready"
    assert dep.config["max_batch_size"] == 8
    np.testing.assert_array_equal(dep.predict(X[:5]), iris_model.predict(X[:5]))
    info = read_server_file()
    assert dep.url == f"{info['url']}/v2/models/iris/infer"
    text = repr(dep)
    assert text.startswith(f"Deployment('iris' -> iris@production, {dep.url})\n")
    assert f"curl -s -X POST {dep.url} -H 'Content-Type: application/json' -d '" in text
    assert "<code>iris@production</code>" in dep._repr_html_()
    # The curl line works as printed.
    body = text.split("-d '", 1)[1].rstrip("'")
    r = httpx.post(
        dep.url, content=body, headers={"Content-Type": "application/json"}, trust_env=False
    )
    assert r.status_code == 200, r.text

    assert [d.name for d in maas_nb.deployments()] == ["iris"]
    with pytest.raises(
        PredictionError, match=r"Deployment 'iris' answered 400: instances: X has 3 features"
    ):
        dep.predict(X[:2, :3])
    maas_nb.undeploy("iris")
    assert maas_nb.deployments() == []
    assert dep.status == "stopped"


def test_a_second_deployment_reuses_the_running_server(iris_model, regressor):
    maas_nb.register(regressor, "petal", sample=np.zeros((2, 3)))
    a = maas_nb.deploy("iris")
    pid = read_server_file()["pid"]
    b = maas_nb.deploy("petal:1", name="petal-v1")
    assert read_server_file()["pid"] == pid
    assert a.server == b.server
    assert b.predict(np.zeros((1, 3))).shape == (1,)


def test_failed_load_raises_with_the_servers_reason(iris_model, registry, iris):
    X, _ = iris
    maas_nb.deploy("iris:1", name="healthy")
    bad = registry.register(iris_model, "broken")
    path = registry.artifacts.path(bad.digest)
    path.write_bytes(path.read_bytes()[:-10] + b"corrupted!")
    with pytest.raises(DeploymentFailedError) as info:
        maas_nb.deploy("broken:1")
    message = str(info.value)
    assert message.startswith(
        "The server could not load 'broken:1' for deployment 'broken': ArtifactCorruptedError: "
    )
    assert "is corrupted: its sha256 is sha256:" in message
    # The server and the other deployment keep working.
    healthy = next(d for d in maas_nb.deployments() if d.name == "healthy")
    assert healthy.predict(X[:2]).tolist() == iris_model.predict(X[:2]).tolist()
    assert next(d for d in maas_nb.deployments() if d.name == "broken").status == "failed"


def test_a_model_that_refuses_the_warm_up_rows_is_still_served(strict_frame_model):
    # Warm-up feeds made-up rows ("warm" for a text column): a strict encoder rejects them.
    model, frame = strict_frame_model
    maas_nb.register(model, "strict", sample=frame[:5])
    dep = maas_nb.deploy("strict")
    assert dep.predict(frame[:3]).tolist() == model.predict(frame[:3]).tolist()


def test_deployments_and_server_outlive_the_deploying_process(iris_model, home, iris):
    X, _ = iris
    script = "import maas_nb, json; d = maas_nb.deploy('iris@production'); print(json.dumps({'url': d.url}))"
    result = subprocess.run(
        [sys.executable, "-c", script],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=ROOT,
        env={**os.environ},
    )
    assert result.returncode == 0, result.stderr
    url = json.loads(result.stdout)["url"]
    body = {
        "inputs": [{"name": "input", "shape": [2, 4], "datatype": "FP64", "data": X[:2].tolist()}]
    }
    r = httpx.post(url, json=body, trust_env=False, timeout=30)
    assert r.status_code == 200
    assert [d.status for d in maas_nb.deployments()] == ["ready"]


def test_cli_deploy_deployments_undeploy_and_server_stop(iris_model, capsys):
    argv = ["deploy", "iris@production", "--name", "web", "--max-batch-size", "4"]
    assert main([*argv, "--max-queue-rows", "100"]) == 0
    out = capsys.readouterr().out
    assert out.startswith(
        "Deployment web\n  target   iris@production\n  server   (any)\n  version  1\n"
        "  status   ready\n"
        "  url      http://127.0.0.1:"
    )
    assert main(["deployments"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == [
        "NAME",
        "TARGET",
        "SERVER",
        "VERSION",
        "STATUS",
        "WHERE",
        "REPLICAS",
        "BY",
        "URL",
    ]
    assert lines[1].split()[:5] == ["web", "iris@production", "(any)", "1", "ready"]
    assert main(["deployments", "--json"]) == 0
    listed = json.loads(capsys.readouterr().out)[0]
    assert (listed["status"], listed["server"]) == ("ready", None)  # the home's own database
    assert listed["config"]["max_queue_rows"] == 100 and listed["config"]["max_batch_size"] == 4
    assert main(["server", "status"]) == 0
    assert capsys.readouterr().out.startswith("Running: http://127.0.0.1:")
    assert main(["undeploy", "web"]) == 0
    assert capsys.readouterr().out == "Undeployed web (iris@production)\n"
    pid = read_server_file()["pid"]
    assert main(["server", "stop"]) == 0
    assert capsys.readouterr().out == f"Stopped the server (pid {pid})\n"
    assert read_server_file() is None
    assert main(["server", "stop"]) == 0
    assert capsys.readouterr().out == "No server is running for this home.\n"
    assert main(["undeploy", "web"]) == 1
    assert (
        capsys.readouterr().err
        == "maas: error: No deployment named 'web'. List them with: maas deployments "
        "(in a notebook: %maas deployments)\n"
    )


@pytest.mark.slow
def test_alias_move_is_zero_downtime(registry, iris, classifier):
    from sklearn.dummy import DummyClassifier

    X, y = iris
    registry.register(classifier, "iris", sample=X[:5], alias="production")
    registry.register(DummyClassifier(strategy="most_frequent").fit(X, y), "iris", sample=X[:5])
    dep = maas_nb.deploy("iris@production", max_batch_size=8)
    body = {
        "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": X[0].tolist()}]
    }
    stop = threading.Event()
    seen: list[list[str]] = [[] for _ in range(4)]
    failures: list[str] = []

    def client(log):
        with httpx.Client(timeout=30, trust_env=False) as c:
            while not stop.is_set():
                r = c.post(dep.url, json=body)
                if r.status_code != 200:
                    failures.append(r.text)
                else:
                    log.append(r.json()["model_version"])

    threads = [threading.Thread(target=client, args=(log,)) for log in seen]
    for t in threads:
        t.start()
    try:
        wait_for(
            lambda: all(len(log) >= 20 for log in seen), timeout=60, what="traffic on version 1"
        )
        registry.set_alias("iris:2", "production")  # the server notices on its own
        wait_for(
            lambda: all(log[-20:] == ["2"] * 20 for log in seen),
            timeout=60,
            what="traffic on version 2",
        )
    finally:
        stop.set()
        for t in threads:
            t.join(60)
    assert failures == []
    for log in seen:
        switch = log.index("2")
        assert set(log[:switch]) == {"1"} and set(log[switch:]) == {"2"}, (
            "answers go 1...1 then 2...2"
        )
    assert dep.describe()["version"] == 2


@pytest.mark.slow
def test_sigterm_drains_requests_in_flight_and_exits_0(start_server, registry):
    from sklearn.neighbors import KNeighborsClassifier

    rng = np.random.default_rng(0)
    model = KNeighborsClassifier(algorithm="brute").fit(
        rng.normal(size=(20_000, 8)), rng.integers(0, 2, 20_000)
    )
    registry.register(model, "slow", sample=np.zeros((2, 8)))
    registry.put_deployment("slow", "slow", {"max_batch_size": 256})
    server = start_server()
    server.reconcile()
    query = rng.normal(size=(256, 8))
    body = {
        "inputs": [
            {"name": "input", "shape": [256, 8], "datatype": "FP64", "data": query.ravel().tolist()}
        ]
    }

    async def flood():
        async with httpx.AsyncClient(base_url=server.url, timeout=120, trust_env=False) as c:
            return await asyncio.gather(
                *(c.post("/v2/models/slow/infer", json=body) for _ in range(12))
            )

    results: list = []
    sender = threading.Thread(target=lambda: results.extend(asyncio.run(flood())))
    sender.start()

    def queued():
        text = httpx.get(f"{server.url}/metrics", trust_env=False, timeout=30).text
        line = next(
            x for x in text.splitlines() if x.startswith('maas_queue_depth_rows{deployment="slow"}')
        )
        return float(line.split()[-1]) >= 256

    wait_for(queued, timeout=60, interval=0.005, what="requests queued on the server")
    server.proc.send_signal(signal.SIGTERM)
    sender.join(120)
    output, _ = server.proc.communicate(timeout=120)
    assert server.proc.returncode == 0, output
    assert [r.status_code for r in results] == [200] * 12
    expected = model.predict(query).tolist()
    assert all(r.json()["outputs"][0]["data"] == expected for r in results)
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{server.url}/v2/health/live", trust_env=False, timeout=5)


def test_a_deployment_made_inside_a_pipeline_run_names_it(iris_model, monkeypatch):
    monkeypatch.setenv("MAAS_PIPELINE_RUN", "0123456789abcdef")
    dep = maas_nb.deploy("iris@production")
    assert dep.config["pipeline_run"] == "0123456789abcdef"
    assert maas_nb.registry().get_deployment("iris").config["pipeline_run"] == "0123456789abcdef"


def test_the_curl_line_quotes_a_body_with_quotes(registry):
    import shlex

    import pandas as pd
    from sklearn.linear_model import LinearRegression

    frame = pd.DataFrame({"it's": [1.0, 2.0, 3.0], "b": [0.0, 1.0, 0.0]})
    maas_nb.register(LinearRegression().fit(frame, [1.0, 2.0, 3.0]), "quoted", sample=frame)
    dep = maas_nb.deploying.Deployment(
        "quoted",
        "quoted",
        {},
        registry.get("quoted").created_at,
        "http://127.0.0.1:1",
        str(registry.home),
    )
    words = shlex.split(dep.curl())
    body = json.loads(words[words.index("-d") + 1])
    assert [i["name"] for i in body["inputs"]] == ["it's", "b"]


def replace_database(home):
    """Put another file where the registry database was (a restore, a clean-up script)."""
    database = home / "registry.db"
    other = home / "other.db"
    other.write_bytes(database.read_bytes())
    os.replace(other, database)


@pytest.mark.parametrize(
    ("remove", "reason"),
    [
        (shutil.rmtree, "the registry home {home} was deleted"),
        (replace_database, "the registry database {home}/registry.db was replaced by another file"),
    ],
)
def test_a_server_whose_home_is_gone_stops_and_frees_its_port(start_server, home, remove, reason):
    server = start_server()
    server.reconcile()  # started: its pool polls the registry
    port = int(server.url.rsplit(":", 1)[1])
    remove(home)
    # Before, it polled a registry that no longer existed, forever, holding its port.
    server.proc.wait(timeout=10)  # a few poll intervals (0.5 s) and a graceful stop
    output, _ = server.proc.communicate(timeout=60)
    assert server.proc.returncode == 0, output
    assert f"{reason.format(home=home)}: stopping the server" in output
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))  # the port is free again
