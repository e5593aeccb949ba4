"""The Monitor tab, fed by the panel's own thread from a real server once a second."""

import contextlib
import threading

import maas_nb


def test_monitor_shows_live_traffic_without_blocking_the_kernel(versions, make_panel, iris):
    X, _ = iris
    panel = make_panel(live=True, refresh_s=0.2)
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    dep = maas_nb.deployments()[0]
    assert any(t.name == "maas-ui-watch" for t in threading.enumerate())

    def traffic_seen():
        history = panel.monitor.history.get("iris", [])
        return next((f for _, f in history if f.requests_per_s > 0), None)

    # This thread (the kernel's) sends requests; the panel's own thread reads the server.
    fig = None
    for _ in range(3000):  # bounded: a few seconds of one-connection traffic at most
        dep.predict(X[:2])
        fig = traffic_seen()
        if fig is not None:
            break
    assert fig is not None, "the monitor never showed the traffic"
    assert fig.p50_ms is not None and fig.p99_ms >= fig.p50_ms > 0
    assert fig.mean_batch == 2.0  # each request had two rows and came alone
    assert fig.errors == 0
    assert 0 < fig.utilisation < 1  # busy, but not saturated by one connection
    shown = panel.monitor.table.value
    for header in ("req/s", "p50 ms", "p99 ms", "errors (1 min)", "mean batch", "utilisation"):
        assert f"<th>{header}</th>" in shown
    assert "<td>iris</td><td>ready</td>" in shown
    assert "<svg" in panel.monitor.charts.value and "iris</b> last minute" in (
        panel.monitor.charts.value
    )
    # The Deploy tab's status comes from the same readings.
    assert "<td>ready</td>" in panel.deploy.deployments.value


def test_errors_are_counted_per_interval(versions, make_panel):
    panel = make_panel()
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    panel.tick()  # the baseline reading
    dep = maas_nb.deployments()[0]
    for _ in range(3):
        with contextlib.suppress(maas_nb.exceptions.PredictionError):
            dep.invoke({"instances": [[1, 2]]})
    panel.tick()
    assert panel.monitor.latest["iris"].errors == 3
    panel.tick()
    assert panel.monitor.latest["iris"].errors == 0
    # The table sums the last minute, so one error does not flash by in a second.
    assert "<td>iris</td><td>ready</td>" in panel.monitor.table.value
    assert "</td><td>3</td><td>-</td><td>" in panel.monitor.table.value


def test_no_server_says_so(make_panel):
    panel = make_panel()
    panel.tick()
    assert "No model server is running" in panel.monitor.table.value


def test_a_server_that_refuses_our_token_is_reported_not_called_absent(
    versions, make_panel, monkeypatch
):
    monkeypatch.setenv("MAAS_TOKEN", "the-right-token")
    maas_nb.deploy("iris@production")
    monkeypatch.setenv("MAAS_TOKEN", "a-wrong-token")
    panel = make_panel()
    expected = (
        f"The model server at {maas_nb.deployments()[0].server} refused the token in MAAS_TOKEN "
        "(401): set MAAS_TOKEN to the token the server was started with."
    )
    assert panel.log.errors == [f"Reading the server failed: {expected}"]
    assert "refused the token in MAAS_TOKEN (401)" in panel.monitor.table.value
    panel.reload.click()
    assert len(panel.log.errors) == 1  # said once, not at every refresh
    try:
        panel.tick()
    except maas_nb.exceptions.ServerUnavailableError as exc:
        assert str(exc) == expected
    else:
        raise AssertionError("tick() should raise")
    assert "a-wrong-token" not in panel.log.widget.value + panel.monitor.table.value


def test_deploying_does_not_feed_the_monitor(versions, make_panel):
    panel = make_panel()
    panel.deploy.deploy.click()
    panel.deploy.wait(timeout=90)
    # Readings for rates come from the watcher alone, evenly spaced.
    assert (panel.monitor._at, panel.monitor.history) == (None, {})
