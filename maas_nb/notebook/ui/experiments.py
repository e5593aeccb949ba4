"""The Experiments tab: a deployment's versions compared live, promote and roll back.

While the tab is shown, the panel's watcher calls `ExperimentsTab.update` about once a
second: it reads ``maas_nb.experiment(name)`` (the server's ``/maas/experiments/NAME``,
the one computation of rates, quantiles and intervals) and shows, per version, requests,
errors, p50/p99 latency, agreement with the answer the client got and the live metric on
the feedback received, each with its count and 95 % interval; the warning while the
samples are too small; the guard's state (a red message when the server rolled back);
and charts of requests, p99 and the metric per bucket of the window. Promote and Roll
back run on a thread, as Deploy does.
"""

from __future__ import annotations

import html
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ... import charts
from ... import deploying as client
from ...exceptions import PanelInputError
from ..display import table
from .dropdowns import on_pick, set_options
from .log import describe

if TYPE_CHECKING:
    from .panel import Panel

RED, GREEN, AMBER = "#b00020", "#1b5e20", "#8a5a00"


class ExperimentsTab:
    title = "Experiments"

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.job: threading.Thread | None = None
        self.latest: dict[str, Any] | None = None  # the last summary shown
        self._rollbacks: set[tuple[str, Any]] = set()  # (deployment, at) already logged
        self._lock = threading.Lock()
        wide = {"description_width": "110px"}
        self.deployment = widgets.Dropdown(description="Deployment", options=[], style=wide)
        self.candidate = widgets.Dropdown(description="Promote", options=[], style=wide)
        self.alias = widgets.Text(value="production", description="to alias", style=wide)
        self.promote = widgets.Button(description="Promote", button_style="success", icon="check")
        self.rollback = widgets.Button(description="Roll back", button_style="danger", icon="undo")
        self.guard = widgets.HTML()
        self.guard.add_class("maas-guard")
        self.summary = widgets.HTML("<i>Pick a deployment.</i>")
        self.summary.add_class("maas-experiment")
        self.charts = widgets.HTML()
        self.charts.add_class("maas-experiment-charts")
        self.status = widgets.HTML()
        self.status.add_class("maas-experiment-status")
        log = panel.log
        on_pick(self.deployment, log.guard("Pick deployment")(lambda _c: self.update()))
        self.promote.on_click(log.guard("Promote")(self._promote))
        self.rollback.on_click(log.guard("Roll back")(self._rollback))
        self.widget = widgets.VBox(
            [
                self.deployment,
                self.guard,
                self.summary,
                self.charts,
                widgets.HBox([self.candidate, self.alias, self.promote, self.rollback]),
                self.status,
            ]
        )

    def refresh(self) -> None:
        """Offer every deployment (the one picked in Deploy first) and read the picked one."""
        names = [r.name for r in self.panel.registry.list_deployments()]
        picked = self.panel.deploy.deployed.value
        set_options(self.deployment, names, picked if picked in names else None)
        self.update()

    def update(self) -> None:
        """Read the picked deployment's experiment and redraw (the watcher calls this)."""
        with self._lock:
            name = self.deployment.value
            if not name:
                self.latest = None
                self.summary.value = "<i>Nothing is deployed: deploy a model, then add a "
                self.summary.value += "candidate with the traffic slider in Deploy.</i>"
                self.guard.value = self.charts.value = ""
                return
            try:
                found = read(name, self.panel.home)
            except Exception as exc:  # the server is down or busy: say so, keep the charts
                self.summary.value = f"<b style='color:{RED}'>{html.escape(describe(exc))}</b>"
                return
            self.latest = found
            self._show(found)

    def _show(self, found: dict[str, Any]) -> None:
        guard = found.get("guard") or {}
        self.guard.value = guard_html(guard)
        if guard.get("state") == "rolled_back":  # once per rollback, in the status log too
            key = (found["deployment"], guard.get("at"))
            if key not in self._rollbacks:
                self._rollbacks.add(key)
                self.panel.log.error(
                    f"{found['deployment']}: rolled back by the guard: {guard.get('reason')}"
                )
        self.summary.value = summary_html(found)
        metric = _metric(found)
        svg = charts.live_svg(found.get("series", {}), metric=metric)
        self.charts.value = charts.figure_html(
            svg,
            f"per {found.get('bucket_s', '?')} s bucket over the last "
            f"{found.get('window_s', '?')} s",
        )
        others = [v["target"] for v in found["versions"] if v["version"] != found["primary"]]
        set_options(self.candidate, list(dict.fromkeys(others)), None)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running Promote or Roll back finishes (for scripts and tests)."""
        if self.job is not None:
            self.job.join(timeout)

    def _promote(self, _button: object) -> None:
        name, candidate = self.deployment.value, self.candidate.value
        if not name or not candidate:
            raise PanelInputError(
                "Pick a deployment with a candidate version (split its traffic in Deploy)."
            )
        alias = self.alias.value.strip() or "production"
        self._start(f"promoting {candidate} to @{alias}", _promote, name, candidate, alias)

    def _rollback(self, _button: object) -> None:
        name = self.deployment.value
        if not name:
            raise PanelInputError("Pick a deployment to roll back.")
        self._start("rolling back to the primary", _rollback, name)

    def _start(self, doing: str, fn: Callable[..., Any], name: str, *args: Any) -> None:
        if self.job is not None and self.job.is_alive():
            raise PanelInputError("A promote or roll back is in progress; wait for it.")
        self._say(name, doing, "inherit")
        self.panel.log.info(f"{name}: {doing} ...")
        self.promote.disabled = self.rollback.disabled = True

        def run() -> None:
            try:
                fn(name, *args, home=self.panel.home)
            except Exception as exc:
                self._say(name, f"failed: {describe(exc)}", RED)
                self.panel.log.error(f"{doing.capitalize()} failed: {describe(exc)}")
            else:
                record = self.panel.registry.get_deployment(name)
                uri = self.panel.registry.get(record.target).uri
                generation = record.config.get("generation")
                done = f"serves {record.target} ({uri}, generation {generation})"
                self._say(name, done, GREEN)
                self.panel.log.info(f"{name} {done}")
                self.panel.log.call("Show the experiment", self.update, capture=False)
            finally:
                self.promote.disabled = self.rollback.disabled = False

        self.job = threading.Thread(target=run, name="maas-ui-promote", daemon=True)
        try:
            self.job.start()
        except BaseException:
            self.promote.disabled = self.rollback.disabled = False
            raise

    def _say(self, name: str, text: str, color: str) -> None:
        self.status.value = (
            f"<b>{html.escape(name)}</b>: <span style='color:{color}'>{html.escape(text)}</span>"
        )


def read(name: str, home: str) -> dict[str, Any]:
    """The ``/maas/experiments/NAME`` JSON of deployment *name*."""
    return dict(client.experiment(name, home=home))


def _promote(name: str, candidate: str, alias: str, *, home: str) -> None:
    client.promote(name, candidate, alias=alias, home=home)


def _rollback(name: str, *, home: str) -> None:
    client.rollback(name, home=home)


def summary_html(found: dict[str, Any]) -> str:
    """The per-version table and the too-small-sample warning."""
    metric = _metric(found)
    rows = [
        [
            v["version"],
            v.get("target") or "-",
            v.get("role") or "-",
            "-" if v.get("weight") is None else f"{v['weight']}%",
            v["requests"],
            _rate(v["errors"]["rate"], v["errors"]["count"], v["errors"]["ci"], "{:.1%}"),
            _quantile(v["latency_ms"], "p50"),
            _quantile(v["latency_ms"], "p99"),
            _rate(v["agreement"]["rate"], v["agreement"]["compared"], v["agreement"]["ci"]),
            _rate(v["feedback"]["value"], v["feedback"]["count"], v["feedback"]["ci"]),
        ]
        for v in found["versions"]
    ]
    head = ["version", "target", "role", "weight", "requests", "errors (n) [95% CI]"]
    head += ["p50 ms [CI]", "p99 ms [CI]", "agreement (n) [CI]", f"{metric} (n feedback) [CI]"]
    primary = found.get("primary")
    serving = (
        f"primary <code>{html.escape(primary)}</code>, generation {found['generation']}"
        if primary is not None
        else "<span class='maas-experiment-loading'>loading</span> (no version serves yet)"
    )
    title = (
        f"<div><b>{html.escape(found['deployment'])}</b>: {serving}, "
        f"last {found['window_s']} s</div>"
    )
    note = ""
    if found.get("warning"):
        note = (
            f"<div class='maas-experiment-warning' style='color:{AMBER}'>&#9888; "
            f"{html.escape(found['warning'])}</div>"
        )
    elif found.get("enough"):
        note = f"<div style='color:{GREEN}'>Enough samples to tell the versions apart.</div>"
    return title + table(head, rows, empty="No version has served yet.").html + note


def guard_html(guard: dict[str, Any] | None) -> str:
    """The guard's state: a red message once the server rolled back, grey while it watches."""
    if not guard:
        return ""
    state = guard.get("state")
    reason = html.escape(str(guard.get("reason") or ""))
    if state == "rolled_back":
        return (
            f"<div class='maas-guard-rolled-back' style='color:#fff;background:{RED};"
            f"padding:6px 10px;font-weight:bold'>Rolled back by the guard: {reason}</div>"
        )
    checks = guard.get("checks") or []
    return (
        f"<div class='maas-guard-watching' style='color:#555'>Guard: {html.escape(str(state))}"
        f" ({len(checks)} checks){' - ' + reason if reason else ''}</div>"
    )


def _metric(found: dict[str, Any]) -> str:
    return "accuracy" if found.get("task", "classification") == "classification" else "mae"


def _rate(value: float | None, n: int, ci: list[float] | None, fmt: str = "{:.3f}") -> str:
    if value is None:
        return f"- ({n})"
    interval = f" [{fmt.format(ci[0])}, {fmt.format(ci[1])}]" if ci else ""
    return f"{fmt.format(value)} ({n}){interval}"


def _quantile(latency: dict[str, Any], name: str) -> str:
    value, ci = latency.get(name), latency.get(f"{name}_ci")
    if value is None:
        return "-"
    return f"{value:.3g}" + (f" [{ci[0]:.3g}, {ci[1]:.3g}]" if ci else "")
