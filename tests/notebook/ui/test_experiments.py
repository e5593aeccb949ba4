"""The Experiments tab against a real server under real traffic: the per-version table with
counts and intervals, the small-sample warning, charts that grow while traffic flows, the
guard's red rollback message, Promote and Roll back."""

import re

import pytest
from sklearn.linear_model import LogisticRegression

import maas_nb
from tests.custom_models import SwitchedFailure
from tests.helpers import wait_for
from tests.notebook.ui.conftest import Load


@pytest.fixture
def candidate(versions, iris):
    """iris:3, alias candidate: a model trained on shifted labels (wrong on most rows)."""
    X, y = iris
    shifted = LogisticRegression(max_iter=1000).fit(X, (y + 1) % 3)
    return maas_nb.register(shifted, "iris", sample=X[:5], alias="candidate")


def shown_rows(panel):
    """The table's rows by version: the cells' text."""
    rows = re.findall(r"<tr>(.*?)</tr>", panel.experiments.summary.value)
    cells = [re.findall(r"<td>(.*?)</td>", row) for row in rows]
    return {c[0]: c for c in cells if c}


def open_tab(panel):
    panel.tab.selected_index = panel.tabs.index(panel.experiments)


def test_the_table_and_charts_follow_live_traffic_and_feedback(candidate, make_panel, iris):
    X, y = iris
    dep = maas_nb.deploy("iris@production")
    maas_nb.traffic("iris", {"production": 70, "candidate": 30})
    panel = make_panel()
    open_tab(panel)
    assert panel.experiments.deployment.value == "iris"
    assert "iris:2" in panel.experiments.summary.value
    # No traffic yet: too few requests to tell the versions apart, and the tab says so.
    assert "maas-experiment-warning" in panel.experiments.summary.value
    assert "too few requests to tell iris:3 from iris:2 (0 &lt; 100)" in (
        panel.experiments.summary.value
    )
    with Load(dep.server, "iris", X, y) as load:
        wait_for(lambda: len(load.answers) >= 100, timeout=60, what="100 answers")

        def caught_up():
            panel.tick()  # the watcher's reading: the tab is shown, so it reads too
            rows = shown_rows(panel)
            return "iris:3" in rows and int(rows["iris:3"][4]) >= 20

        wait_for(caught_up, timeout=30, interval=0.2, what="the candidate in the table")
        before = panel.experiments.charts.value
        assert 'id="maas-live-iris:2-requests"' in before
        assert 'id="maas-live-iris:3-p99_ms"' in before
        assert 'id="maas-live-iris:3-accuracy"' in before
        n = len(load.answers)
        wait_for(lambda: len(load.answers) >= n + 60, timeout=60, what="60 more answers")
        wait_for(
            lambda: panel.tick() or panel.experiments.charts.value != before,
            timeout=30,
            interval=0.2,
            what="the charts to redraw with the new traffic",
        )
    assert load.failures == []
    panel.tick()
    found = panel.experiments.latest
    rows = shown_rows(panel)
    by_version = {v["version"]: v for v in found["versions"]}
    for version in ("iris:2", "iris:3"):
        served = [a for a in load.answers if a[1] == version]
        assert int(rows[version][4]) == by_version[version]["requests"] == len(served)
    assert rows["iris:2"][2] == "primary" and rows["iris:3"][2] == "arm"
    assert (rows["iris:2"][3], rows["iris:3"][3]) == ("70%", "30%")
    # Live accuracy is the offline accuracy of the rows that got feedback, with its n and CI.
    fed = by_version["iris:3"]["feedback"]
    assert fed["count"] > 0
    assert rows["iris:3"][9].startswith(f"{fed['value']:.3f} ({fed['count']}) [")
    p99 = by_version["iris:3"]["latency_ms"]
    assert rows["iris:3"][7] == f"{p99['p99']:.3g} [{p99['p99_ci'][0]:.3g}, {p99['p99_ci'][1]:.3g}]"


def test_the_tab_reads_only_while_shown(candidate, make_panel, iris):
    X, y = iris
    dep = maas_nb.deploy("iris@production")
    maas_nb.traffic("iris", {"production": 50, "candidate": 50})
    panel = make_panel()
    panel.tab.selected_index = panel.tabs.index(panel.monitor)
    panel.experiments.latest = None
    with Load(dep.server, "iris", X, y, feedback=False) as load:
        wait_for(lambda: len(load.answers) >= 20, timeout=60, what="20 answers")
    panel.tick()
    assert panel.experiments.latest is None  # not shown: not read
    open_tab(panel)
    assert panel.experiments.latest["deployment"] == "iris"


def test_promote_and_roll_back_from_the_tab(candidate, make_panel, iris):
    X, _ = iris
    dep = maas_nb.deploy("iris@production")
    maas_nb.traffic("iris", {"production": 90, "candidate": 10})
    panel = make_panel()
    open_tab(panel)
    tab = panel.experiments
    assert tab.candidate.options == ("iris@candidate",)
    tab.promote.click()
    assert "promoting iris@candidate to @production" in tab.status.value
    tab.wait(timeout=90)
    assert maas_nb.get("iris@production").version == 3
    record = maas_nb.registry().get_deployment("iris")
    assert record.config["traffic"] == [{"target": "iris@production", "weight": 100}]
    assert ">serves iris@production (iris:3, generation 3)</span>" in tab.status.value
    assert dep.predict(X[:5]).tolist() == maas_nb.load("iris:3").predict(X[:5]).tolist()
    assert shown_rows(panel)["iris:3"][2] == "primary"  # the tab re-read the server

    tab.rollback.click()
    tab.wait(timeout=90)
    assert maas_nb.get("iris@production").version == 2  # the alias back where it was
    assert dep.predict(X[:5]).tolist() == maas_nb.load("iris:2").predict(X[:5]).tolist()
    assert panel.log.last == "iris serves iris@production (iris:2, generation 4)"
    tab.rollback.click()  # nothing left to roll back: the tab says why
    tab.wait(timeout=90)
    assert "there is nothing to roll back" in tab.status.value
    assert panel.log.errors[-1].startswith("Rolling back to the primary failed: Deployment 'iris'")


def test_a_guard_rollback_shows_red_in_the_tab(iris, tmp_path, make_panel):
    X, y = iris
    maas_nb.register(
        LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5], alias="production"
    )
    switch = tmp_path / "fail"
    failing = SwitchedFailure(str(switch)).fit(X)
    trusted = ["tests.custom_models.SwitchedFailure"]
    maas_nb.register(failing, "iris", sample=X[:5], alias="candidate", trusted_types=trusted)
    dep = maas_nb.deploy("iris@production")
    guard = {"max_error_rate": 0.05, "interval_s": 0.5, "failures_allowed": 0, "min_sample": 5}
    maas_nb.traffic("iris", {"production": 80, "candidate": 20}, guard=guard)
    panel = make_panel()
    open_tab(panel)
    assert "maas-guard-watching" in panel.experiments.guard.value
    switch.touch()  # from now on the candidate fails on every row
    with Load(dep.server, "iris", X, y, feedback=False) as load:

        def rolled_back():
            panel.tick()
            return "maas-guard-rolled-back" in panel.experiments.guard.value

        wait_for(rolled_back, timeout=60, interval=0.2, what="the tab to show the rollback")
    assert any("iris:2" in failure for failure in load.failures)  # it did fail
    shown = panel.experiments.guard.value
    assert "Rolled back by the guard: " in shown and "iris:2" in shown and "error rate" in shown
    assert panel.log.errors[-1].startswith("iris: rolled back by the guard: ")
    errors = len(panel.log.errors)
    panel.tick()
    assert len(panel.log.errors) == errors  # said once, not once a second


def test_a_deployment_still_loading_is_shown_as_loading():
    """What the server answers for a deployment with no split yet (`layout` of None)."""
    from maas_nb.notebook.ui.experiments import summary_html
    from maas_nb.serving.experiment import layout, summarize

    found = summarize(layout("iris", None), {}, now=1000.0, window_s=60, bucket_s=5)
    assert found["warning"] == "the deployment is still loading: no version serves yet"
    shown = summary_html(found)
    assert "<b>iris</b>: <span class='maas-experiment-loading'>loading</span>" in shown
    assert "None" not in shown
