"""The panel as a whole: tabs, plain-text fallback, %maas ui, the status log, the watcher."""

import threading

import maas_nb
from maas_nb.notebook.ui import Panel
from maas_nb.notebook.ui.log import StatusLog
from tests.helpers import wait_for


def test_one_panel_with_five_tabs_and_a_status_area(make_panel):
    panel = make_panel()
    assert [panel.tab.get_title(i) for i in range(5)] == [
        "Models",
        "Deploy",
        "Predict",
        "Monitor",
        "Runs",
    ]
    assert panel.log.widget in panel.widget.children


def test_plain_text_says_what_the_panel_is_and_points_to_doctor(make_panel, home):
    panel = make_panel()
    bundle = panel._repr_mimebundle_()
    assert bundle["application/vnd.jupyter.widget-view+json"]["model_id"] == panel.widget.model_id
    text = bundle["text/plain"]
    assert text.startswith("maas_nb control panel (Models, Deploy, Predict, Monitor, Runs)")
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
