"""The panel as a whole: tabs, plain-text fallback, %maas ui, the status log, the watcher."""

import sys
import threading

import maas_nb
from maas_nb.notebook.ui import Panel, dropdowns
from maas_nb.notebook.ui.log import StatusLog
from tests.helpers import wait_for


def test_one_panel_with_six_tabs_and_a_status_area(make_panel):
    panel = make_panel()
    assert [panel.tab.get_title(i) for i in range(6)] == [
        "Models",
        "Deploy",
        "Predict",
        "Monitor",
        "Experiments",
        "Runs",
    ]
    assert panel.log.widget in panel.widget.children


def test_plain_text_says_what_the_panel_is_and_points_to_doctor(make_panel, home):
    panel = make_panel()
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    text = bundle["text/plain"]
    assert text.startswith(
        "maas_nb control panel (Models, Deploy, Predict, Monitor, Experiments, Runs) for "
    )
    assert str(home) in text
    assert "widgets could not be shown here" in text
    assert text.endswith("Run %maas doctor to see what is installed and what to fix.")


def test_maas_ui_magic_and_maas_nb_ui_return_a_live_panel(ip):
    panel = ip.run_line_magic("maas", "ui")
    try:
        assert isinstance(panel, Panel)
        assert panel._thread is not None and panel._thread.is_alive()
        assert "%maas doctor" in repr(panel)
    finally:
        panel.close()
    assert not panel._thread.is_alive()
    other = maas_nb.ui(refresh_s=0.5)
    try:
        assert other.refresh_s == 0.5 and other._thread.is_alive()
    finally:
        other.close()


def test_callback_prints_and_exceptions_go_to_the_log_not_stdout(capsys):
    log = StatusLog()

    def noisy(_):
        print("hello from a callback")
        raise KeyError("boom")

    log.guard("Noisy")(noisy)(None)
    assert log.lines == [
        ("error", "Noisy failed: KeyError: 'boom'"),
        ("info", "hello from a callback"),
    ]
    assert capsys.readouterr() == ("", "")
    assert "Noisy failed" in log.widget.value and "color:#b00020" in log.widget.value


def test_the_refresh_button_rereads_the_registry(versions, make_panel, classifier):
    panel = make_panel()
    maas_nb.register(classifier, "iris")
    assert "iris:3" not in panel.models.version.options
    panel.reload.click()
    assert "iris:3" in panel.models.version.options
    assert "iris:3" in panel.deploy.target.options


def test_the_watcher_reports_a_failing_read_once_and_keeps_going(make_panel, monkeypatch):
    panel = make_panel()
    calls = []

    def broken():
        calls.append(1)
        raise OSError("disk gone")

    monkeypatch.setattr(panel, "tick", broken)
    panel._stop.clear()
    panel.refresh_s = 0.01
    thread = threading.Thread(target=panel._watch)
    thread.start()
    try:
        wait_for(lambda: len(calls) >= 5, timeout=30, what="five failed readings")
    finally:
        panel._stop.set()
        thread.join()
    assert panel.log.errors == ["Reading the server failed: OSError: disk gone"]


def test_each_log_line_keeps_its_own_time(monkeypatch):
    log = StatusLog()
    clock = iter(["10:00:00", "10:00:05"])
    monkeypatch.setattr("maas_nb.notebook.ui.log.time.strftime", lambda _: next(clock))
    log.info("first")
    log.error("<second>")
    assert "10:00:00 first" in log.widget.value
    assert "10:00:05 &lt;second&gt;" in log.widget.value


def test_worker_threads_never_swap_the_kernels_stdout():
    log = StatusLog()
    seen = []

    def callback():
        seen.append(sys.stdout)

    worker = threading.Thread(target=log.call, args=("Work", callback))
    worker.start()
    worker.join()
    assert seen == [sys.stdout]  # not a StringIO: the user's cell output stays theirs
    log.call("Work", callback)
    assert seen[-1] is not sys.stdout  # on the main thread, prints are captured


def test_names_and_metrics_are_escaped(make_panel, classifier):
    maas_nb.register(classifier, "iris", metrics={"<b>acc</b>": 1.0}, description="<script>")
    panel = make_panel()
    assert "&lt;b&gt;acc&lt;/b&gt;=1" in panel.models.table.value
    assert "<b>acc" not in panel.models.table.value
    assert "<script>" not in panel.models.detail.value


def test_a_closed_panel_still_has_its_text(make_panel):
    panel = make_panel()
    pickers = [panel.models.version, panel.deploy.target, panel.predict.deployment]
    assert all(id(d) in dropdowns._handlers for d in pickers)
    panel.close()
    assert not any(id(d) in dropdowns._handlers for d in pickers)
    assert panel._repr_mimebundle_() == {"text/plain": repr(panel)}
    assert panel.deploy.deploy.comm is None and panel.predict.json.comm is None


def test_ui_again_replaces_the_previous_panel():
    first = maas_nb.ui()
    second = maas_nb.ui()
    try:
        assert not first._thread.is_alive() and first.widget.comm is None
        assert second._thread.is_alive()
    finally:
        second.close()
