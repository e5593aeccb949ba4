"""The traffic slider: split a deployment between its primary and a candidate version.

Under the Deploy tab's Deployed pick: a candidate (an alias or a version of the
deployment's model), its share of the requests (0-100; the primary keeps the rest),
optional stickiness and a shadow percent (the candidate also gets a copy of that share of
the requests, answers recorded, never returned). Apply calls `maas_nb.traffic` on a
thread, as Deploy does: it waits until the server serves the new split.
"""

from __future__ import annotations

import html
import threading
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ... import deploying as client
from ...deploying.splits import describe_split
from ...exceptions import PanelInputError
from ...registry.uri import ModelRef
from .dropdowns import on_pick, set_options
from .log import describe
from .paging import PAGE

if TYPE_CHECKING:
    from .panel import Panel


class TrafficBox:
    """Candidate, share, sticky, shadow % and Apply, for the deployment *pick* names."""

    def __init__(self, panel: Panel, pick: widgets.Dropdown) -> None:
        self.panel = panel
        self.pick = pick
        self.job: threading.Thread | None = None
        self._shown: tuple[str, int] | None = None  # (deployment, generation) last loaded
        wide = {"description_width": "110px"}
        self.candidate = widgets.Dropdown(description="Candidate", options=[], style=wide)
        self.share = widgets.IntSlider(
            value=10,
            min=0,
            max=100,
            step=1,
            description="Candidate %",
            continuous_update=False,
            style=wide,
        )
        self.sticky = widgets.Checkbox(
            value=False,
            description="Sticky (X-Maas-Key)",
            indent=False,
            tooltip="Requests with the same X-Maas-Key header always reach the same version.",
        )
        self.shadow = widgets.BoundedFloatText(
            value=0.0,
            min=0.0,
            max=100.0,
            description="Shadow %",
            tooltip="Also copy this share of the requests to the candidate; its answers are "
            "recorded, never returned. 0: no shadow.",
            style=wide,
        )
        self.apply = widgets.Button(description="Apply split", icon="random")
        self.current = widgets.HTML()
        self.current.add_class("maas-traffic-current")
        self.status = widgets.HTML()
        self.status.add_class("maas-traffic-status")
        on_pick(pick, panel.log.guard("Pick deployment")(lambda _c: self.refresh()))
        self.apply.on_click(panel.log.guard("Apply split")(self._apply))
        self.widget = widgets.VBox(
            [
                widgets.HTML("<b>Traffic</b>"),
                self.current,
                widgets.HBox([self.candidate, self.share]),
                widgets.HBox([self.sticky, self.shadow, self.apply]),
                self.status,
            ]
        )

    def refresh(self) -> None:
        """Offer the picked deployment's aliases and versions; show its current split."""
        name = self.pick.value
        record = self._record(name)
        if record is None:
            self._shown = None
            self.current.value = ""
            set_options(self.candidate, [], None)
            return
        reg = self.panel.registry
        model = ModelRef.parse(record.target).name
        try:
            info = reg.get_model(model)
            aliases = [f"{model}@{a}" for a in sorted(info.aliases)]
        except LookupError:
            aliases = []
        versions = [v.uri for v in reg.list_versions(model, newest_first=True, limit=PAGE)]
        offered = [t for t in [*aliases, *versions] if t != record.target]
        arms = record.config.get("traffic") or []
        others = [a["target"] for a in arms[1:]]
        shadow = record.config.get("shadow") or {}
        default = (others or [shadow.get("target")])[0]
        if default not in offered:
            default = offered[0] if offered else None
        generation = int(record.config.get("generation", 1))
        fresh = self._shown != (name, generation)
        set_options(self.candidate, offered, default, follow=fresh)
        if fresh:  # a new split (here or elsewhere): the fields show it
            self._shown = (name, generation)
            self.share.value = int(arms[1]["weight"]) if len(arms) > 1 else self.share.value
            self.sticky.value = bool(record.config.get("sticky"))
            self.shadow.value = float(shadow.get("percent", 0.0))
        split = describe_split(record.config) or f"{_short(record.target)}=100"
        sticky = record.config.get("sticky")
        self.current.value = (
            f"<b>{html.escape(name)}</b> serves <code class='maas-split'>"
            f"{html.escape(split)}</code> (primary <code>{html.escape(record.target)}</code>, "
            f"generation {generation}{', sticky on ' + html.escape(sticky) if sticky else ''})"
        )

    def wait(self, timeout: float | None = None) -> None:
        """Block until the running Apply finishes (for scripts and tests)."""
        if self.job is not None:
            self.job.join(timeout)

    def weights(self) -> tuple[str, dict[str, int], dict[str, float] | None]:
        """The deployment, the weights and the shadow Apply would write."""
        name = self.pick.value
        record = self._record(name)
        if record is None:
            raise PanelInputError("Pick a deployment in Deployed first (deploy one if none).")
        candidate = self.candidate.value
        if not candidate:
            raise PanelInputError(
                f"Deployment {name!r} has no other version or alias to split with; register "
                "a candidate version of its model first."
            )
        share = int(self.share.value)
        weights = {record.target: 100 - share}
        if share:
            weights[candidate] = share
        shadow = {candidate: float(self.shadow.value)} if self.shadow.value > 0 else None
        return name, weights, shadow

    def _apply(self, _button: object) -> None:
        name, weights, shadow = self.weights()
        guard, dropped = self._guard(name, weights, shadow)
        if self.job is not None and self.job.is_alive():
            raise PanelInputError("A traffic change is already in progress; wait for it.")
        words = " ".join(f"{_short(t)}={w}" for t, w in weights.items())
        if shadow:
            words += " " + " ".join(f"shadow:{_short(t)}={p:g}%" for t, p in shadow.items())
        self._say(name, "applying", words, "inherit")
        self.panel.log.info(f"Splitting {name}: {words} ...")
        sticky = bool(self.sticky.value)
        self.apply.disabled = True

        def run() -> None:
            try:
                self.panel.log.call(
                    "Apply split", self._run, name, weights, sticky, shadow, guard, dropped
                )
            finally:
                self.apply.disabled = False

        self.job = threading.Thread(target=run, name="maas-ui-traffic", daemon=True)
        try:
            self.job.start()
        except BaseException:
            self.apply.disabled = False
            raise

    def _guard(
        self, name: str, weights: dict[str, int], shadow: dict[str, float] | None
    ) -> tuple[dict[str, Any] | None, bool]:
        """The row's guard, kept when the candidate is the one the row already splits
        with (a guard set by ``maas traffic --guard-*``), and whether one is dropped."""
        record = self._record(name)
        config = record.config if record is not None else {}
        guard = config.get("guard")
        if not guard:
            return None, False
        before = {a["target"] for a in (config.get("traffic") or [])[1:]}
        before.add((config.get("shadow") or {}).get("target"))
        after = (set(weights) - {record.target}) | set(shadow or {})
        if after and after <= before:
            return dict(guard), False
        return None, True

    def _run(
        self,
        name: str,
        weights: dict[str, int],
        sticky: bool,
        shadow: dict[str, float] | None,
        guard: dict[str, Any] | None = None,
        dropped: bool = False,
    ) -> None:
        try:
            dep = client.traffic(
                name, weights, sticky=sticky, shadow=shadow, guard=guard, home=self.panel.home
            )
        except Exception as exc:
            self._say(name, "failed", describe(exc), "#b00020")
            self.panel.log.error(f"Apply split failed: {describe(exc)}")
            return
        split = describe_split(dep.config) or f"{_short(dep.target)}=100"
        generation = dep.config.get("generation", "?")
        note = "; its guard was removed: the candidate changed" if dropped else ""
        self._say(name, "serving", f"{split} (generation {generation}{note})", "#1b5e20")
        self.panel.log.info(f"{name} serves {split} (generation {generation})")
        self.refresh()

    def _say(self, name: str, state: str, detail: str, color: str) -> None:
        self.status.value = (
            f"<b>{html.escape(name)}</b>: <span style='color:{color}' class='maas-status'>"
            f"{state}</span> <code>{html.escape(detail)}</code>"
        )

    def _record(self, name: str | None) -> Any:
        if not name:
            return None
        try:
            return self.panel.registry.get_deployment(name)
        except LookupError:
            return None


def _short(target: str) -> str:
    ref = ModelRef.parse(target)
    return ref.alias or str(ref.version)
