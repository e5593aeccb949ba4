"""``maas --home OTHER VERB``: every verb works on OTHER and writes nothing under ``$MAAS_HOME``.

The verbs come from the parser itself, so a new verb without a case here fails the test.
The pipeline verbs, which execute notebooks, are covered by tests/pipelines/test_home.py.
"""

import argparse
import json
import os
import subprocess
import sys

import pytest

from maas_nb.cli import build_parser, main
from maas_nb.registry import Registry
from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT, wait_for

#: Verbs that execute notebooks in kernels: tests/pipelines/test_home.py runs each with
#: ``--home`` and asserts ``$MAAS_HOME`` stays empty (``alias --gate`` included).
COVERED_BY_TEST_HOME = {"run", "sweep", "rerun"}


def cli_verbs() -> set[str]:
    parser = build_parser()
    (sub,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    return set(sub.choices)


@pytest.fixture
def other(tmp_path, classifier, iris):
    """A registry home other than ``$MAAS_HOME``: a model with two versions and an alias,
    a training run and a finished pipeline run with its executed notebook."""
    X, _ = iris
    path = tmp_path / "elsewhere"
    reg = Registry(path)
    reg.register(classifier, "iris", sample=X[:5], alias="production")
    reg.register(classifier, "iris")
    run = reg.start_run("fit-iris")
    reg.end_run(run.id, metrics={"accuracy": 0.9})
    pipeline = reg.start_pipeline_run("tiny", notebook="tiny.ipynb", source=b"{}")
    reg.end_pipeline_run(pipeline.id, status="finished", output=b'{"executed": true}')
    return path


def start_server(other, env_home):
    """``maas --home OTHER serve``, the one server of this test (``$MAAS_HOME`` set)."""
    env = {**os.environ, "MAAS_HOME": str(env_home)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "maas_nb.cli", "--home", str(other), "serve", "--port", "0"],
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    wait_for(
        lambda: read_server_file(other) is not None or proc.poll() is not None,
        timeout=60,
        interval=0.02,
        what="maas serve to write its server file",
    )
    assert proc.poll() is None, proc.stderr.read().decode()
    return proc


def test_every_verb_honours_home_and_leaves_maas_home_empty(
    home, other, tmp_path, capsys, monkeypatch
):
    home.mkdir()
    monkeypatch.chdir(tmp_path)  # relative paths a verb writes land here, never in a home
    at = ["--home", str(other)]
    reg = Registry(other)
    (pipeline,) = reg.list_pipeline_runs()
    exported = tmp_path / "out.ipynb"

    def maas(*argv):
        code = main([*at, *argv])
        out, err = capsys.readouterr()
        assert code == 0, err
        return out

    def maas_json(*argv):
        return json.loads(maas("--json", *argv))

    tried: set[str] = set()

    def case(verb):
        tried.add(verb)
        return verb

    server = start_server(other, home)
    tried.add("serve")
    try:
        assert [m["name"] for m in maas_json(case("models"))] == ["iris"]
        assert [v["uri"] for v in maas_json(case("versions"), "iris")] == ["iris:1", "iris:2"]
        assert maas_json(case("show"), "iris@production")["uri"] == "iris:1"
        assert maas_json(case("compare"), "iris:1", "iris:2")["versions"] == ["iris:1", "iris:2"]
        maas(case("alias"), "iris:2", "staging")
        assert reg.get("iris@staging").version == 2
        maas(case("unalias"), "iris", "staging")
        assert reg.get_model("iris").aliases == {"production": 1}
        assert [r["name"] for r in maas_json(case("training-runs"))] == ["fit-iris"]
        assert [r["id"] for r in maas_json(case("runs"))] == [pipeline.id]
        assert maas_json("runs", "show", pipeline.id[:12])["id"] == pipeline.id
        maas("runs", "export", pipeline.id[:12], str(exported))
        assert exported.read_bytes() == b'{"executed": true}'
        assert dict(maas_json(case("doctor")))["registry"] == f"{other} (1 models)"

        deployed = maas_json(case("deploy"), "iris@production", "--log-sample", "1")
        assert deployed["status"] == "ready"
        assert [d.name for d in reg.list_deployments()] == ["iris"]
        assert [(d["name"], d["status"]) for d in maas_json(case("deployments"))] == [
            ("iris", "ready")
        ]
        assert maas_json(case("predict"), "iris", "[[5.1, 3.5, 1.4, 0.2]]") == [0]

        def logged() -> list:
            code = main([*at, "--json", case("predictions"), "iris"])
            out, _ = capsys.readouterr()
            return json.loads(out) if code == 0 else []

        assert len(wait_for(logged, timeout=30, what="the logged prediction")) == 1
        maas(case("drift"), "iris")  # too few rows to tell: a note, not a failure
        maas(case("traffic"), "iris", "production=100")
        assert reg.get_deployment("iris").config["traffic"] == [
            {"target": "iris@production", "weight": 100}
        ]
        maas(case("traffic"), "iris", "production=90", "2=10")
        assert maas_json(case("experiment"), "iris")["primary"] == "iris:1"
        truth = tmp_path / "truth.csv"
        truth.write_text("id,truth\nnobody,1\n")
        fed = maas_json(case("feedback"), "iris", "--file", str(truth))
        assert (fed["joined"], fed["unknown"]) == (0, ["nobody"])
        maas(case("promote"), "iris", "2")
        assert reg.get("iris@production").version == 2
        maas(case("rollback"), "iris")
        assert reg.get("iris@production").version == 1
        status = maas_json(case("server"), "status")
        assert status["running"] and status["pid"] == server.pid
        maas(case("undeploy"), "iris")
        assert reg.list_deployments() == []
        assert maas_json("server", "stop")["stopped"] == server.pid
        assert server.wait(timeout=60) == 0
        assert read_server_file(other) is None

        maas(case("delete"), "iris:2")
        assert [v.version for v in reg.list_versions("iris")] == [1]
        orphan = reg.artifacts.put(b"orphaned")
        gc = maas_json(case("registry"), "gc", "--older-than", "0")
        assert (gc["artifacts_uri"], gc["removed"]) == (f"file://{other}/artifacts", [orphan])
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=60)
        server.stderr.close()

    assert sorted(home.iterdir()) == []
    missing = cli_verbs() - tried - COVERED_BY_TEST_HOME
    assert not missing, (
        f"maas verbs with no --home case: {sorted(missing)}. Add one to this test, or to "
        "tests/pipelines/test_home.py (and COVERED_BY_TEST_HOME) if it executes notebooks."
    )
    assert cli_verbs() >= COVERED_BY_TEST_HOME
