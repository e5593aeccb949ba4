"""The Deploy tab: pick a version or alias, set batching, deploy and watch it come up."""

from __future__ import annotations

import html
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ... import deploying as client
from ...deploying import live, targets
from ...exceptions import DeploymentFailedError, PanelInputError
from ...registry.uri import ModelRef
from ...serving.server import TOKEN_ENV
from ...serving.status import FAILED, LOADING, READY
from ..display import table
from .dropdowns import on_pick, picked_by_person, set_options
from .log import describe
from .models import newest
from .paging import PAGE
from .snippets import python_snippet
from .traffic import TrafficBox

if TYPE_CHECKING:
    from .panel import Panel

#: The server column of a deployment any server on the registry may serve (as in
#: ``maas deployments``), and the status of one another named server serves.
ANY_SERVER = "(any)"
ELSEWHERE = "served elsewhere"


class DeployTab:
    title = "Deploy"

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.job: threading.Thread | None = None
        self.pending: dict[str, str] = {}  # deployment -> what this panel last saw of it
        self.servers: dict[str, str | None] = {}  # deployment -> the server it names
        self.elsewhere: dict[str, str] = {}  # deployment -> the other server that serves it
        self._revisions: dict[str, Any] | None = None  # deployment -> revision last shown
        self._auto_name = ""
        wide = {"description_width": "110px"}
        self.target = widgets.Dropdown(description="Model", options=[], style=wide)
        self.name = widgets.Text(description="Name", placeholder="deployment name", style=wide)
        self.max_batch_size = widgets.BoundedIntText(
            value=64, min=1, max=1_000_000, description="Max batch rows", style=wide
        )
        self.max_latency_ms = widgets.BoundedFloatText(
            value=5.0, min=0.0, max=60_000.0, description="Max wait (ms)", style=wide
        )
        self.max_queue_rows = widgets.BoundedIntText(
            value=0,
            min=0,
            max=100_000_000,
            description="Max queue rows",
            tooltip="Rows queued before the server answers 503; 0: its default.",
            style=wide,
        )
        self.where = widgets.Dropdown(
            description="Where",
            options=where_options(),
            tooltip="The deploy target: this machine's server (local), or Ray Serve (ray).",
            style=wide,
        )
        self.replicas = widgets.BoundedIntText(
            value=1, min=1, max=10_000, description="Replicas", style=wide
        )
        self.autoscale = widgets.Checkbox(value=False, description="Autoscale", indent=False)
        self.min_replicas = widgets.BoundedIntText(
            value=1, min=1, max=10_000, description="Min replicas", style=wide
        )
        self.max_replicas = widgets.BoundedIntText(
            value=2, min=1, max=10_000, description="Max replicas", style=wide
        )
        self.target_ongoing = widgets.BoundedFloatText(
            value=2.0,
            min=0.1,
            max=10_000,
            description="Ongoing per replica",
            tooltip="Autoscaling keeps about this many requests in flight per replica.",
            style=wide,
        )
        self.deploy = widgets.Button(description="Deploy", button_style="primary", icon="play")
        self.deployed = widgets.Dropdown(description="Deployed", options=[], style=wide)
        self.undeploy = widgets.Button(description="Undeploy", icon="stop")
        self._endpoint_key: tuple[Any, ...] | None = None
        self.status = widgets.HTML()
        self.status.add_class("maas-deploy-status")
        self.deployments = widgets.HTML()
        self.endpoint = widgets.HTML()
        self.traffic = TrafficBox(panel, self.deployed)

        log = panel.log
        on_pick(self.target, log.guard("Pick model")(self._target_changed))
        on_pick(self.deployed, log.guard("Show endpoint")(self._show_endpoint))
        for choice in (self.where, self.autoscale):
            choice.observe(log.guard("Pick where")(self._where_changed), names="value")
        self._where_changed()
        self.deploy.on_click(log.guard("Deploy")(self._deploy))
        self.undeploy.on_click(log.guard("Undeploy")(self._undeploy))
        self.widget = widgets.VBox(
            [
                widgets.HBox([self.target, self.name]),
                widgets.HBox([self.max_batch_size, self.max_latency_ms, self.max_queue_rows]),
                widgets.HBox([self.where, self.replicas]),
                widgets.HBox([self.autoscale, self.min_replicas, self.max_replicas]),
                self.target_ongoing,
                self.deploy,
                self.status,
                widgets.HBox([self.deployed, self.undeploy]),
                self.deployments,
                self.traffic.widget,
                self.endpoint,
            ]
        )

    def refresh(self) -> None:
        """Offer every alias and the newest versions; show the server's view of the
        deployments.

        The version registered last is picked (through its alias, if it has one, so that
        the deployment follows the alias), until the person picks another.
        """
        reg = self.panel.registry
        # The newest versions only (a page, one query): older ones by alias or typed.
        versions = reg.list_all_versions(newest_first=True, limit=PAGE)
        targets: list[str] = []
        for model in reg.list_models():
            targets += [f"{model.name}@{alias}" for alias in sorted(model.aliases)]
            targets += [v.uri for v in versions if v.name == model.name]
        latest = newest(versions)
        default = None
        if latest is not None:
            default = f"{latest.name}@{min(latest.aliases)}" if latest.aliases else latest.uri
        set_options(self.target, targets, default, follow=not picked_by_person(self.target))
        self.show_live(self.panel.server)

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running Deploy or Undeploy finishes (for scripts and tests)."""
        if self.job is not None:
            self.job.join(timeout)

    def show_live(self, view: dict[str, Any] | None) -> None:
        """Show the server's view of each deployment (the watcher calls this every second).

        A deployment made or remade since the last call, here or anywhere else (a magic,
        the API, the CLI), becomes the picked one in Deployed.
        """
        reg = self.panel.registry
        records = reg.list_deployments()
        where = targets.get(None)
        own = targets.server_name(where, reg)
        self.servers = {r.name: r.server for r in records}
        self.elsewhere = {  # a row that recorded its own target is served there, not elsewhere
            r.name: str(r.server)
            for r in records
            if not r.config.get(targets.OWN_TARGET)
            and client.Deployment.from_record(r, "", self.panel.home, where.spec, own).elsewhere
        }
        now = {e["name"]: e for e in (view or {}).get("deployments", [])}
        rows = []
        for r in records:
            entry = now.get(r.name, {})
            status = entry.get("status") or self.pending.get(r.name) or "not running"
            reason = entry.get("reason")
            if r.name in self.elsewhere:  # not this server's to serve: not "not running"
                status, reason = ELSEWHERE, f"served by the server {r.server!r}, not {own!r}"
            entry = live.with_replicas(entry, r.config)  # even when it was not read
            rows.append(
                [
                    r.name,
                    r.target,
                    entry.get("version") or "-",
                    status,
                    live.owner(r, where.spec),
                    live.replicas_text(entry),
                    r.created_by or "-",
                    r.server or ANY_SERVER,
                    reason,
                ]
            )
        names = [r.name for r in records]
        revisions = {r.name: r.config.get("revision") for r in records}
        seen, self._revisions = self._revisions, revisions
        fresh = [r for r in records if seen is not None and seen.get(r.name) != revisions[r.name]]
        latest = max(fresh or records, key=lambda r: r.created_at, default=None)
        set_options(self.deployed, names, latest.name if latest else None, follow=bool(fresh))
        self.deployments.value = table(
            [
                *("deployment", "target", "serving", "status", "where", "replicas", "by"),
                *("server", "reason"),
            ],
            rows,
            empty="Nothing deployed yet.",
        ).html
        self._show_endpoint()
        self.traffic.refresh()

    def _target_changed(self, _change: object = None) -> None:
        # Follow the picked model's name, unless the person typed a name of their own.
        if self.target.value and self.name.value.strip() in ("", self._auto_name):
            self._auto_name = ModelRef.parse(self.target.value).name
            self.name.value = self._auto_name

    def _deploy(self, _button: object) -> None:
        target, name = self.target.value, self.name.value.strip() or None
        if not target:
            raise PanelInputError("Pick a model version or alias to deploy (register one first).")
        if self.job is not None and self.job.is_alive():
            raise PanelInputError("A deployment is already in progress; wait for it to finish.")
        label = name or ModelRef.parse(target).name
        options = {
            "name": name,
            "max_batch_size": self.max_batch_size.value,
            "max_latency_ms": self.max_latency_ms.value,
            "max_queue_rows": self.max_queue_rows.value or None,
            "home": self.panel.home,
            "target": self.where.value,
            **self._replica_options(),
        }
        self._set_status(label, LOADING, f"deploying {target}")
        self.panel.log.info(f"Deploying {target} as {label} ...")
        self._start(self._run_deploy, target, label, options)

    def _where_changed(self, _change: object = None) -> None:
        """Replica options only for a target that runs replicas (``ray``)."""
        scales = runs_replicas(self.where.value)
        self.autoscale.disabled = not scales
        self.replicas.disabled = not scales or self.autoscale.value
        self.min_replicas.disabled = self.max_replicas.disabled = not (
            scales and self.autoscale.value
        )
        self.target_ongoing.disabled = self.min_replicas.disabled

    def _replica_options(self) -> dict[str, Any]:
        """The replica arguments of `maas_nb.deploy` the fields give (none off ``ray``)."""
        if not runs_replicas(self.where.value):
            return {}
        if self.autoscale.value:
            low, high = self.min_replicas.value, self.max_replicas.value
            ongoing = self.target_ongoing.value
            return {"min_replicas": low, "max_replicas": high, "target_ongoing_requests": ongoing}
        return {"replicas": self.replicas.value}

    def _run_deploy(self, target: str, label: str, options: dict[str, Any]) -> None:
        try:
            dep = client.deploy(target, **options)
        except DeploymentFailedError as exc:
            self._set_status(label, FAILED, str(exc))
            self.panel.log.error(f"Deploy failed: {exc}")
            return
        except Exception as exc:
            self._set_status(label, FAILED, describe(exc))
            self.panel.log.error(f"Deploy failed: {describe(exc)}")
            return
        # The other tabs first, so that "ready" means ready to use in Predict too.
        self.panel.log.call("Show the deployment", self.panel.after_deploy, label, capture=False)
        self._set_status(label, READY, f"{dep.url}")
        self.panel.log.info(f"{label} is ready at {dep.url}")

    def _undeploy(self, _button: object) -> None:
        name = self.deployed.value
        if not name:
            raise PanelInputError("Nothing is deployed, so there is nothing to undeploy.")
        if self.job is not None and self.job.is_alive():
            raise PanelInputError("A deployment is in progress; wait for it before undeploying.")
        self._start(self._run_undeploy, name)

    def _run_undeploy(self, name: str) -> None:
        try:
            client.undeploy(name, home=self.panel.home)
        except Exception as exc:
            self.panel.log.error(f"Undeploy failed: {describe(exc)}")
            return
        self.pending.pop(name, None)
        self.status.value = f"<b>{html.escape(name)}</b>: undeployed"
        self.panel.log.info(f"Undeployed {name}")
        self.panel.log.call("Show the deployments", self.panel.after_deploy, name, capture=False)

    def _start(self, fn: Callable[..., None], *args: Any) -> None:
        # Deploying waits for the server to load the model: a thread keeps the kernel free.
        self.deploy.disabled = self.undeploy.disabled = True

        def run() -> None:
            try:
                self.panel.log.call("Deploy", fn, *args, capture=False)
            finally:
                self.deploy.disabled = self.undeploy.disabled = False

        self.job = threading.Thread(target=run, name="maas-ui-deploy", daemon=True)
        try:
            self.job.start()
        except BaseException:
            self.deploy.disabled = self.undeploy.disabled = False
            raise

    def _set_status(self, name: str, status: str, detail: str) -> None:
        self.pending[name] = status
        color = {READY: "#1b5e20", FAILED: "#b00020"}.get(status, "inherit")
        self.status.value = (
            f"<b>{html.escape(name)}</b>: <span style='color:{color}' class='maas-status'>"
            f"{status}</span> <code>{html.escape(detail)}</code>"
        )

    def _show_endpoint(self, _change: object = None) -> None:
        name = self.deployed.value
        try:
            dep = client.get_deployment(name, home=self.panel.home) if name else None
        except LookupError:
            dep = None
        if dep is None or not dep.server:
            self._endpoint_key = None
            self.endpoint.value = ""
            return
        # The watcher calls this every second: rebuild the snippets only when they change.
        try:  # an alias may have moved to a version with another signature
            serving = self.panel.registry.get(dep.target).uri
        except LookupError:
            serving = None
        key = (dep.name, dep.target, serving, dep.server, os.environ.get(TOKEN_ENV) is not None)
        if key == self._endpoint_key:
            return
        self._endpoint_key = key
        # With a token, the snippet reads it from the environment: never show the token.
        token_env = TOKEN_ENV if os.environ.get(TOKEN_ENV) else None
        snippet = python_snippet(dep.url, dep.example(), token_env=token_env)
        self.endpoint.value = (
            "<div style='line-height:1.4'>"
            f"<div>Endpoint: <code class='maas-endpoint'>{html.escape(dep.url)}</code></div>"
            f"<div>curl:</div><pre style='{_CODE};white-space:pre-wrap'>"
            f"{html.escape(dep.curl())}</pre>"
            f"<div>Python:</div><pre style='{_CODE}'>{html.escape(snippet)}</pre></div>"
        )


def where_options() -> list[str]:
    """The Where choices: ``$MAAS_DEPLOY_TARGET`` (the default) first, then local and ray."""
    chosen = os.environ.get(targets.TARGET_ENV, "").strip()
    return list(dict.fromkeys(c for c in (chosen, targets.DEFAULT_TARGET, "ray") if c))


def runs_replicas(spec: str | None) -> bool:
    """Whether the deploy target *spec* runs replicas (takes replicas and autoscaling)."""
    try:
        return bool(spec) and bool(getattr(targets.get(spec), "scales", False))
    except Exception:  # an unknown target: deploying says what is wrong with it
        return False


_CODE = "font-family:monospace;font-size:12px;line-height:1.3;margin:2px 0 8px 0"
