"""The control panel: Models, Deploy, Predict, Monitor, Experiments and Runs tabs over one
status log."""

from __future__ import annotations

import html
import threading
from typing import Any

import ipywidgets as widgets

from ... import deploying as client
from ...api import registry as open_registry
from ...exceptions import ServerUnavailableError
from .deploy import DeployTab
from .dropdowns import forget
from .experiments import ExperimentsTab
from .log import StatusLog, describe
from .models import ModelsTab
from .monitor import MonitorTab
from .predict import PredictTab
from .runs import RunsTab

# Scoped to the panel: tables read as tables, not as loose words.
STYLE = """<style>
.maas-panel table { border-collapse: collapse; margin: 4px 0; }
.maas-panel th, .maas-panel td { padding: 2px 10px 2px 0; text-align: left; }
.maas-panel thead th { border-bottom: 1px solid #999; }
.maas-panel tbody tr:nth-child(even) { background: rgba(0, 0, 0, 0.03); }
</style>"""

PLAIN_TEXT = (
    "maas_nb control panel (Models, Deploy, Predict, Monitor, Experiments, Runs) for the "
    "registry at {home}.\n"
    "If you are reading this, widgets could not be shown here: the panel needs a Jupyter "
    "front end with ipywidgets 8 (JupyterLab 4, Notebook 7, VS Code or Voila).\n"
    "Run %maas doctor to see what is installed and what to fix."
)


class Panel:
    """``maas_nb.ui()``: one widget that drives the whole train-register-deploy-predict loop.

    A background thread reads the server about once a second (deployment status and
    ``/metrics``) so the kernel is never blocked; ``close()`` stops it.
    """

    def __init__(self, *, home: str | None = None, refresh_s: float = 1.0, live: bool = True):
        self.registry = open_registry(home)
        self.home = str(self.registry.home)
        self.refresh_s = refresh_s
        self.server: dict[str, Any] | None = None
        self.log = StatusLog()
        self.models = ModelsTab(self)
        self.deploy = DeployTab(self)
        self.predict = PredictTab(self)
        self.monitor = MonitorTab(self)
        self.experiments = ExperimentsTab(self)
        self.runs = RunsTab(self)
        self.tabs = (
            self.models,
            self.deploy,
            self.predict,
            self.monitor,
            self.experiments,
            self.runs,
        )
        self.tab = widgets.Tab(
            children=[t.widget for t in self.tabs], titles=[t.title for t in self.tabs]
        )
        self.reload = widgets.Button(description="Refresh", icon="refresh")
        self.reload.on_click(self.log.guard("Refresh")(lambda _: self.refresh()))
        self.tab.observe(self.log.guard("Switch tab")(self._tab_changed), names="selected_index")
        header = widgets.HBox(
            [
                widgets.HTML(
                    f"{STYLE}<b>maas_nb</b> &middot; <code>{html.escape(self.home)}</code>"
                ),
                self.reload,
            ]
        )
        self.widget = widgets.VBox(
            [header, self.tab, widgets.HTML("<b>Status</b>"), self.log.widget]
        )
        self.widget.add_class("maas-panel")
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._last_error = ""
        self.log.call("Refresh", self.refresh)
        if live:
            self._thread = threading.Thread(target=self._watch, name="maas-ui-watch", daemon=True)
            self._thread.start()

    def refresh(self) -> None:
        """Re-read the registry and the server into every tab."""
        self.server = self._read_server_or_report()
        for tab in self.tabs:
            tab.refresh()

    def tick(self) -> None:
        """One reading of every deploy target: deployment status and the monitor's figures.

        Raises `ServerUnavailableError` when a target cannot be read (after showing what
        the others said: its rows are ``unknown``).
        """
        self.server = client.live_view(home=self.home)
        self.deploy.show_live(self.server)
        self.monitor.update(self.server)
        if self.tabs[self.tab.selected_index or 0] is self.experiments:  # only while shown
            self.experiments.update()
        problems = (self.server or {}).get("problems")
        if problems:
            raise ServerUnavailableError(" ".join(problems.values()))

    def after_deploy(self, name: str) -> None:
        """A deployment came or went: show the server's view, offer it in Predict."""
        # Only the watcher feeds the monitor: its rates need evenly spaced readings.
        self.server = self._read_server_or_report()
        self.deploy.show_live(self.server)
        self.predict.refresh()
        if name in self.predict.deployment.options:
            self.predict.deployment.value = name

    def _read_server_or_report(self) -> dict[str, Any] | None:
        try:
            view = client.live_view(home=self.home)
        except ServerUnavailableError as exc:
            self._report(exc)
            return None
        problems = (view or {}).get("problems")
        if problems:
            self._report(ServerUnavailableError(" ".join(problems.values())))
        return view

    def _report(self, exc: Exception) -> None:
        """Say why the server cannot be read: in Monitor, and once in the log."""
        self.monitor.show_problem(str(exc))
        message = f"Reading the server failed: {describe(exc)}"
        if message != self._last_error:
            self.log.error(message)
            self._last_error = message

    def close(self) -> None:
        """Stop the background reading and close every widget of the panel."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=10)
        for owner in (self, *self.tabs, self.log):
            for widget in _widgets_of(owner):
                _close(widget)

    def _watch(self) -> None:
        failures = 0
        while not self._stop.wait(self.refresh_s):
            try:
                self.tick()
                failures, self._last_error = 0, ""
            except Exception as exc:  # keep watching
                # One missed reading is no news (a busy or restarting server); two are.
                failures += 1
                if failures >= 2:
                    self._report(exc)

    def _tab_changed(self, change: dict) -> None:
        self.tabs[change["new"]].refresh()

    def __repr__(self) -> str:
        return PLAIN_TEXT.format(home=self.home)

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        if self.widget.comm is None:  # closed: only the text is left
            return {"text/plain": repr(self)}
        bundle = self.widget._repr_mimebundle_(**kwargs)
        bundle["text/plain"] = repr(self)
        return bundle


def _widgets_of(owner: object) -> list[widgets.Widget]:
    found: list[widgets.Widget] = []
    for value in vars(owner).values():
        items = value if isinstance(value, (list, tuple)) else [value]
        found += [w for w in items if isinstance(w, widgets.Widget)]
    return found


def _close(widget: widgets.Widget) -> None:
    for child in getattr(widget, "children", ()):
        _close(child)
    for part in ("layout", "style"):
        sub = getattr(widget, part, None)
        if isinstance(sub, widgets.Widget):
            sub.close()
    forget(widget)
    widget.close()


_shown: Panel | None = None
_shown_lock = threading.Lock()


def ui(*, home: str | None = None, refresh_s: float = 1.0) -> Panel:
    """The maas_nb control panel: models, deploy, predict, monitor, experiments, runs.

    Calling it again (re-running the cell) closes the panel it returned before, so
    stale panels do not keep reading the server.
    """
    global _shown
    with _shown_lock:
        panel = Panel(home=home, refresh_s=refresh_s)  # if this raises, the old one stays
        if _shown is not None:
            _shown.close()
        _shown = panel
        return panel
