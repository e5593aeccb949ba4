"""The merged live view (`maas_nb.deploying.live_view`) without Ray: a local-only listing
never imports Ray, and a target that cannot be read makes only its own rows unknown."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import textwrap
from pathlib import Path

import maas_nb
from maas_nb.cli import main
from maas_nb.deploying import live_view, targets

ROOT = Path(__file__).resolve().parents[2]


def test_nothing_deployed_and_no_server_is_no_view(registry):
    assert live_view() is None


def test_a_local_only_listing_does_not_import_ray(registry, classifier, iris, tmp_path):
    registry.register(classifier, "iris", sample=iris[0][:5])
    maas_nb.deploy("iris")
    script = textwrap.dedent(
        """
        import sys
        from maas_nb.cli import main
        from maas_nb.deploying import live_view

        assert main(["deployments"]) == 0
        assert main(["--json", "deployments"]) == 0
        view = live_view()
        assert [e["deploy_target"] for e in view["deployments"]] == ["local"], view
        print("ray imported:", "ray" in sys.modules)
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[-1] == "ray imported: False"
    assert "iris" in done.stdout and "local" in done.stdout


def test_an_unreadable_target_makes_only_its_rows_unknown(registry, classifier, iris, capsys):
    registry.register(classifier, "iris", sample=iris[0][:5])
    dep = maas_nb.deploy("iris")
    dep.predict(iris[0][:2])
    # A row that records its own target, one that does not answer (nothing listens on 1).
    gone = "http://127.0.0.1:1"
    config = {targets.OWN_TARGET: gone, targets.OWN_URL: f"{gone}/far", "replicas": 2}
    registry.put_deployment("far", "iris:1", config, server="ray.far")

    view = live_view()
    by_name = {e["name"]: e for e in view["deployments"]}
    assert (by_name["iris"]["status"], by_name["iris"]["deploy_target"]) == ("ready", "local")
    assert "replicas_wanted" not in by_name["iris"]  # a local server runs no replicas
    far = by_name["far"]
    assert (far["status"], far["deploy_target"], far["replicas_wanted"]) == ("unknown", gone, 2)
    assert far["reason"].startswith(
        f"Reading the deploy target {gone!r} failed: The model server at {gone} did not answer"
    )
    assert list(view["problems"]) == [gone]
    assert 'maas_requests_total{deployment="iris"}' in view["metrics"]  # the local figures

    assert main(["deployments"]) == 0
    captured = capsys.readouterr()
    header, *rows = captured.out.splitlines()
    assert header.split() == [
        *("NAME", "TARGET", "SERVER", "VERSION", "STATUS", "WHERE", "REPLICAS", "BY", "URL")
    ]
    cells = {row.split()[0]: row.split() for row in rows}
    assert cells["far"][3:7] == ["-", "unknown", gone, "?/2"]
    assert cells["iris"][3:7] == ["1", "ready", "local", "-"]
    assert captured.err.startswith(f"maas: note: Reading the deploy target {gone!r} failed: ")
    assert captured.err.rstrip().endswith("Its deployments show as unknown.")

    assert main(["--json", "deployments"]) == 0
    listed = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    assert (listed["far"]["deploy_target"], listed["far"]["status"]) == (gone, "unknown")
    assert (listed["far"]["replicas"], listed["far"]["replicas_wanted"]) == (None, 2)
    assert (listed["iris"]["deploy_target"], listed["iris"]["replicas"]) == ("local", None)


def test_a_ray_client_address_nothing_answers_at_is_told_before_ray_tries(tmp_path):
    """A ``ray://`` target nobody listens at is read as a problem from the TCP probe, and
    Ray's own connect (about 35 s of retries) is never started: the panel and
    ``maas deployments`` answer at once."""
    with socket.socket() as taken:  # a port nobody listens at
        taken.bind(("127.0.0.1", 0))
        port = taken.getsockname()[1]
    script = textwrap.dedent(
        f"""
        import json, ray
        from maas_nb.deploying import live_view

        view = live_view(target="ray://127.0.0.1:{port}")
        print(json.dumps({{"problems": view["problems"], "ray": ray.is_initialized()}}))
        """
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT), "MAAS_HOME": str(tmp_path / "home")}
    done = subprocess.run(
        [sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    seen = json.loads(done.stdout.splitlines()[-1])
    assert seen["ray"] is False  # ray.init was never called
    [problem] = seen["problems"].values()
    assert f"nothing answers at 127.0.0.1:{port}" in problem
    assert "ray start --head" in problem
