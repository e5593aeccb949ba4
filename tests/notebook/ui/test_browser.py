"""The panel in a real browser: Voila serves notebooks/control_panel.ipynb (which trains,
registers and shows the panel), and Debian's chromium, driven by Playwright with no
browser download, deploys, waits for ready, predicts from the form and reads Monitor; a
deployment made from Python meanwhile shows up in the Deploy tab on its own.

Screenshots land in test-artifacts/ at the project root.
"""

import contextlib
import os
import shutil
import socket
import subprocess
import sys

import pytest

import maas_nb
from tests.components import executable
from tests.helpers import ROOT, wait_for
from tests.notebook.ui.conftest import Load

# Without the background-networking flags chromium keeps dialling out of this closed network.
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = ROOT / "test-artifacts"

pytestmark = pytest.mark.slow


@pytest.fixture
def chromium():
    return executable("chromium", install="apt-get install chromium (.ci/run does)")


@pytest.fixture
def voila(tmp_path, home):
    notebook = tmp_path / "control_panel.ipynb"
    shutil.copy(ROOT / "notebooks" / "control_panel.ipynb", notebook)
    port = _free_port()
    log = open(tmp_path / "voila.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "voila",
            str(notebook),
            "--no-browser",
            f"--Voila.port={port}",
            "--Voila.ip=127.0.0.1",
            "--Voila.port_retries=0",
            "--show_tracebacks=True",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
        env={**os.environ, "MAAS_HOME": str(home)},
    )
    try:
        wait_for(lambda: _listening(port) or proc.poll() is not None, timeout=120, interval=0.1)
        if proc.poll() is not None:
            pytest.fail(f"voila exited: {(tmp_path / 'voila.log').read_text()}")
        yield f"http://127.0.0.1:{port}/"
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log.close()


def test_deploy_and_predict_from_the_panel_in_chromium(chromium, voila, tmp_path, classifier):
    import pandas as pd
    from playwright.sync_api import expect

    row = {
        "sepal length (cm)": 6.7,
        "sepal width (cm)": 3.0,
        "petal length (cm)": 5.2,
        "petal width (cm)": 2.3,
    }
    ARTIFACTS.mkdir(exist_ok=True)
    # Registered before the notebook's model, and listed before it: the panel must still
    # offer the notebook's model, the one just trained.
    maas_nb.register(classifier, "aardvark")

    with _open_panel(chromium, voila, tmp_path, height=1000) as page:
        try:
            # Buttons are found by title: their icon glyph is part of their accessible name.
            page.get_by_role("tab", name="Deploy").click(timeout=120_000)
            expect(page.get_by_role("combobox", name="Model")).to_have_value(
                "iris_panel@production"
            )
            page.get_by_title("Deploy", exact=True).click()
            status = page.locator(".maas-deploy-status .maas-status")
            expect(status).to_have_text("ready", timeout=120_000)
            expect(page.locator(".maas-endpoint")).to_contain_text("/v2/models/iris_panel/infer")
            page.screenshot(path=ARTIFACTS / "panel-deployed.png", full_page=True)

            # The notebook registered the model the panel deployed: ask it for the answer.
            model = maas_nb.load("iris_panel@production")
            expected = model.predict(pd.DataFrame([row]))[0]
            page.get_by_role("tab", name="Predict").click()
            for label, value in row.items():
                page.get_by_label(label).fill(str(value))
            page.get_by_title("Predict", exact=True).click()
            cells = page.locator(".maas-answer table tbody tr").first.locator("td")
            expect(cells).to_have_text(["0", "6.7", "3.0", "5.2", "2.3", str(expected)])
            page.screenshot(path=ARTIFACTS / "panel-predicted.png", full_page=True)

            # A malformed field: the error shows in the panel's status area.
            page.get_by_label("petal width (cm)").fill("abc")
            page.get_by_title("Predict", exact=True).click()
            expect(page.locator(".maas-log")).to_contain_text(
                "petal width (cm) must be a number, but got 'abc'"
            )

            page.get_by_role("tab", name="Monitor").click()
            expect(page.locator(".maas-monitor")).to_contain_text("ready", timeout=30_000)
            page.screenshot(path=ARTIFACTS / "panel-monitor.png", full_page=True)

            # Deployed from Python (another cell, the CLI): the panel's watcher picks it up.
            other = maas_nb.deploy("aardvark:1")
            page.get_by_role("tab", name="Deploy").click()
            expect(page.get_by_role("combobox", name="Deployed")).to_have_value(
                "aardvark", timeout=30_000
            )
            expect(page.locator(".maas-endpoint")).to_have_text(other.url)
        except Exception:
            page.screenshot(path=ARTIFACTS / "panel-failure.png", full_page=True)
            raise

    # What the browser did is real: the registry holds the deployment and the server answers.
    dep = next(d for d in maas_nb.deployments() if d.name == "iris_panel")
    assert dep.status == "ready"
    assert dep.predict(pd.DataFrame([row])).tolist() == [expected]
    assert (ARTIFACTS / "panel-predicted.png").stat().st_size > 10_000


def test_the_experiments_tab_draws_live_charts_in_chromium(chromium, voila, tmp_path, iris):
    from playwright.sync_api import expect
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    ARTIFACTS.mkdir(exist_ok=True)

    with _open_panel(chromium, voila, tmp_path, height=1400) as page:
        try:
            # The notebook registered iris_panel@production; a weaker candidate beside it.
            page.get_by_role("tab", name="Deploy").click(timeout=120_000)
            expect(page.get_by_role("combobox", name="Model")).to_have_value(
                "iris_panel@production"
            )
            weak = LogisticRegression(C=0.001, max_iter=1000).fit(X, y)
            maas_nb.register(weak, "iris_panel", sample=X[:5], alias="candidate")
            dep = maas_nb.deploy("iris_panel@production")
            maas_nb.traffic("iris_panel", {"production": 70, "candidate": 30})
            with Load(dep.server, "iris_panel", X, y.to_numpy()) as load:
                page.get_by_role("tab", name="Experiments").click()
                expect(page.get_by_role("combobox", name="Deployment")).to_have_value("iris_panel")
                table = page.locator(".maas-experiment")
                expect(table).to_contain_text("iris_panel:1", timeout=60_000)
                expect(table).to_contain_text("iris_panel:2")
                # The chart has drawn both versions' requests, and keeps redrawing.
                charts = page.locator(".maas-experiment-charts")
                for version in ("iris_panel:1", "iris_panel:2"):
                    expect(charts.locator(f"[id='maas-live-{version}-requests']")).to_have_count(
                        1, timeout=60_000
                    )
                wait_for(lambda: len(load.answers) > 300, timeout=120, what="300 answers")
                first = _requests_shown(page)
                wait_for(
                    lambda: _requests_shown(page)["iris_panel:2"] > first["iris_panel:2"],
                    timeout=30,
                    interval=0.2,
                    what="the candidate's requests to grow in the table",
                )
                page.screenshot(path=ARTIFACTS / "panel-experiments.png", full_page=True)
            shown = _requests_shown(page)
            assert load.failures == []
            served = {v for _, v, _, _ in load.answers}
            assert served == {"iris_panel:1", "iris_panel:2"}
            assert 0 < shown["iris_panel:2"] <= len(load.answers)
            assert shown["iris_panel:1"] > shown["iris_panel:2"]  # 70/30
            expect(table).to_contain_text("accuracy (n feedback)")
        except Exception:
            page.screenshot(path=ARTIFACTS / "panel-experiments-failure.png", full_page=True)
            raise
    assert (ARTIFACTS / "panel-experiments.png").stat().st_size > 10_000


@contextlib.contextmanager
def _open_panel(chromium, voila, tmp_path, *, height):
    """The panel's Voila page in Debian's chromium, on a fresh, empty profile."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch_persistent_context(
            str(tmp_path / "chromium-profile"),
            executable_path=chromium,
            headless=True,
            args=FLAGS,
            viewport={"width": 1280, "height": height},
        )
        try:
            page = browser.new_page()
            page.goto(voila, timeout=120_000)
            yield page
        finally:
            browser.close()


def _requests_shown(page):
    """The requests column of the Experiments table, by version, as the browser shows it."""
    rows = page.locator(".maas-experiment table tbody tr")
    shown = {}
    for i in range(rows.count()):
        cells = rows.nth(i).locator("td").all_inner_texts()
        shown[cells[0]] = int(cells[4])
    return shown


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port):
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0
