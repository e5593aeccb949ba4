"""Ray deployments in the front ends, on the real single-node cluster: ``maas deployments``
(text and JSON) and the panel (Deployed table, Monitor tab, deploying with Where=ray and
replicas) show where each deployment runs, its replicas and its live status."""

from __future__ import annotations

import json

import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.deploying import live_view, ray_target
from tests.deploying.conftest import running_replicas
from tests.helpers import wait_for
from tests.notebook.ui.conftest import make_panel, versions  # noqa: F401 (fixtures)

pytestmark = pytest.mark.usefixtures("no_apps_left")


def listed(capsys) -> dict[str, list[str]]:
    """``maas deployments``' rows by name, split in cells; the header is checked."""
    assert main(["deployments"]) == 0
    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == [
        *("NAME", "TARGET", "SERVER", "VERSION", "STATUS", "WHERE", "REPLICAS", "BY", "URL")
    ]
    return {row.split()[0]: row.split() for row in rows}


def test_a_two_replica_ray_deployment_is_listed_beside_a_local_one(
    registry, classifier, iris, capsys
):
    X, _ = iris
    registry.register(classifier, "iris", sample=X[:5])
    local = maas_nb.deploy("iris", name="iris-local")
    far = maas_nb.deploy("iris", name="iris-ray", target="ray", replicas=2)
    wait_for(lambda: running_replicas("iris-ray") == 2, timeout=120, what="two replicas")

    cells = listed(capsys)
    assert cells["iris-ray"][3:7] == ["1", "ready", "ray", "2/2"]
    assert cells["iris-ray"][-1] == far.url  # its own URL, on Serve's proxy
    assert cells["iris-local"][3:7] == ["1", "ready", "local", "-"]

    assert main(["--json", "deployments"]) == 0
    data = {d["name"]: d for d in json.loads(capsys.readouterr().out)}
    ray_row = data["iris-ray"]
    assert (ray_row["deploy_target"], ray_row["status"]) == ("ray", "ready")
    assert (ray_row["replicas"], ray_row["replicas_wanted"], ray_row["scaling"]) == (2, 2, "2")
    assert (data["iris-local"]["deploy_target"], data["iris-local"]["replicas"]) == ("local", None)

    # One view, both targets' figures: the same metric names, told apart by the label.
    local.predict(X[:2])
    far.predict(X[:2])
    view = live_view()
    assert view["url"] == local.server and view["problems"] == {}
    assert sorted((e["name"], e["deploy_target"]) for e in view["deployments"]) == [
        ("iris-local", "local"),
        ("iris-ray", "ray"),
    ]
    for name in ("iris-local", "iris-ray"):
        assert f'maas_requests_total{{deployment="{name}"}}' in view["metrics"]

    maas_nb.undeploy("iris-ray")
    assert "iris-ray" not in listed(capsys)


def test_autoscaling_shows_its_range(registry, classifier, iris, capsys):
    registry.register(classifier, "iris", sample=iris[0][:5])
    maas_nb.deploy("iris", target="ray", min_replicas=1, max_replicas=3)
    cells = listed(capsys)
    assert cells["iris"][3:8] == ["1", "ready", "ray", "1", "(1-3)"]
    maas_nb.undeploy("iris")


def test_deploy_from_the_panel_on_ray_with_two_replicas_and_watch_it(
    versions,  # noqa: F811 (the fixture imported above)
    make_panel,  # noqa: F811 (the fixture imported above)
    classifier,
    iris,
):
    X, _ = iris
    panel = make_panel()
    deploy = panel.deploy
    assert deploy.where.options == ("local", "ray")
    assert (deploy.where.value, deploy.replicas.disabled) == ("local", True)
    deploy.where.value = "ray"
    assert not deploy.replicas.disabled and not deploy.autoscale.disabled
    deploy.replicas.value = 2
    deploy.deploy.click()
    deploy.wait(timeout=300)
    assert ">ready</span>" in deploy.status.value, deploy.status.value

    record = maas_nb.registry().get_deployment("iris")
    assert (record.config["deploy_target"], record.config["replicas"]) == ("ray", 2)
    wait_for(lambda: running_replicas("iris") == 2, timeout=120, what="two Serve replicas")
    from ray import serve

    app = serve.status().applications[ray_target.app_name("iris")]
    assert str(app.status).endswith("RUNNING")

    def shown() -> str:
        panel.tick()
        return deploy.deployments.value

    row = "<td>iris</td><td>iris@production</td><td>2</td><td>ready</td><td>ray</td><td>2/2</td>"
    wait_for(lambda: row in shown(), timeout=60, what="the Ray row, ready on two replicas")
    assert "served elsewhere" not in deploy.deployments.value

    # The Monitor tab: the figures come from the replicas' /metrics through Serve's proxy.
    dep = maas_nb.deploying.get_deployment("iris")
    assert dep.deploy_target == "ray"

    def traffic_seen() -> bool:
        for _ in range(5):
            dep.predict(X[:2])
        panel.tick()
        figures = panel.monitor.latest.get("iris")
        return figures is not None and figures.requests_per_s > 0

    wait_for(traffic_seen, timeout=120, interval=0.2, what="the Monitor to show Ray traffic")
    monitor = panel.monitor.table.value
    assert "<td>iris</td><td>ready</td>" in monitor
    assert "<td>ray</td><td>2/2</td><td>ray.iris</td>" in monitor

    deploy.undeploy.click()
    deploy.wait(timeout=300)
    assert ray_target.app_name("iris") not in serve.status().applications
    assert maas_nb.registry().list_deployments() == []
