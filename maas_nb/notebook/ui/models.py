"""The Models tab: the newest versions of every model (a page at a time) with their aliases
and metrics; details (with the history of the run that made the version, drawn), aliases,
comparison (a table and a bar chart)."""

from __future__ import annotations

import html
from typing import TYPE_CHECKING

import ipywidgets as widgets

from ... import charts
from ...commands.cards import history_html, run_history
from ...exceptions import PanelInputError
from ...registry import ModelVersion
from ...tables import format_size, format_time, metrics_text
from ..display import table, version_card
from .dropdowns import on_pick, picked_by_person, set_options
from .paging import Pager

if TYPE_CHECKING:
    from .panel import Panel


class ModelsTab:
    title = "Models"

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.table = widgets.HTML()
        self.pager: Pager[ModelVersion] = Pager(
            "versions",
            lambda **page: panel.registry.list_all_versions(newest_first=True, **page),
            self._fill,
            panel.log,
        )
        self.more = self.pager.more
        self.version = widgets.Dropdown(description="Version", options=[])
        self.detail = widgets.HTML()
        self.alias = widgets.Text(description="Alias", placeholder="e.g. production")
        self.set_alias = widgets.Button(description="Set alias", icon="tag")
        self.remove_alias = widgets.Button(description="Remove alias", icon="times")
        self.compare_a = widgets.Dropdown(description="Compare", options=[])
        self.compare_b = widgets.Dropdown(description="with", options=[])
        self.compare = widgets.Button(description="Compare", icon="columns")
        self.comparison = widgets.HTML()

        log = panel.log
        on_pick(self.version, log.guard("Show version")(self._show))
        self.set_alias.on_click(log.guard("Set alias")(self._set_alias))
        self.remove_alias.on_click(log.guard("Remove alias")(self._remove_alias))
        self.compare.on_click(log.guard("Compare")(self._compare))
        self.widget = widgets.VBox(
            [
                self.table,
                self.more,
                self.version,
                self.detail,
                widgets.HBox([self.alias, self.set_alias, self.remove_alias]),
                widgets.HBox([self.compare_a, self.compare_b, self.compare]),
                self.comparison,
            ]
        )

    @property
    def versions(self) -> list[ModelVersion]:
        """The versions shown, newest first."""
        return self.pager.items

    def refresh(self) -> None:
        """Re-read the newest versions (a page, or as many as More has shown) into the
        table and the version pickers."""
        self.pager.refresh()

    def _fill(self) -> None:
        rows = [
            [
                v.name,
                v.version,
                ", ".join(v.aliases),
                metrics_text(dict(v.metrics)),
                v.flavor,
                format_size(v.size),
                v.created_by or "-",
                format_time(v.created_at),
            ]
            for v in self.versions
        ]
        self.table.value = table(
            ["model", "version", "aliases", "metrics", "flavor", "size", "by", "created"],
            rows,
            empty="No models registered yet: train one and register it (%maas help).",
        ).html
        uris = [v.uri for v in sorted(self.versions, key=lambda v: (v.name, v.version))]
        # Open on the version just registered, and follow newer ones until the person picks.
        latest = newest(self.versions)
        others = [v for v in self.versions if v is not latest]
        # Compare it with the version before it: of the same model when there is one.
        before = newest([v for v in others if latest and v.name == latest.name]) or newest(others)
        first = latest.uri if latest else None
        for dropdown, default in (
            (self.version, first),
            (self.compare_b, first),
            (self.compare_a, before.uri if before else first),
        ):
            set_options(dropdown, uris, default, follow=not picked_by_person(dropdown))
        self._show()

    def selected(self) -> ModelVersion:
        """The picked version, read afresh from the registry."""
        if not self.version.value:
            raise PanelInputError("No version is selected: register a model first.")
        return self.panel.registry.get(self.version.value)

    def _show(self, _change: object = None) -> None:
        if not self.version.value:
            self.detail.value = ""
            return
        from ...pipelines.lineage import describe as pipeline_of

        v = self.selected()
        shown = version_card(v, verbose=2, pipeline=pipeline_of(self.panel.registry, v)).html
        signature = v.signature.describe_inputs() if v.signature else "none recorded"
        lineage = {k: val for k, val in v.lineage.items() if k != "training_data"}
        extra = "".join(
            f"<tr><th style='text-align:left'>{html.escape(str(k))}</th>"
            f"<td><code>{html.escape(str(val))}</code></td></tr>"
            for k, val in [("inputs", signature), *sorted(lineage.items())]
        )
        chart = history_html(run_history(self.panel.registry, v.run_id), title=v.uri)
        self.detail.value = f"{shown}<table>{extra}</table>{chart}"

    def _set_alias(self, _button: object) -> None:
        alias = self.alias.value.strip()
        if not alias:
            raise PanelInputError("Type an alias first (for example production), then Set alias.")
        v = self.panel.registry.set_alias(self.selected().uri, alias)
        self.panel.log.info(f"{v.name}@{alias} -> version {v.version}")
        self.panel.refresh()

    def _remove_alias(self, _button: object) -> None:
        alias = self.alias.value.strip()
        v = self.selected()
        if not alias:
            raise PanelInputError(
                f"Type the alias to remove; {v.name} has "
                f"{', '.join(sorted(self._aliases(v.name))) or 'no aliases'}."
            )
        version = self.panel.registry.remove_alias(v.name, alias)
        self.panel.log.info(f"Removed {v.name}@{alias} (was version {version})")
        self.panel.refresh()

    def _aliases(self, name: str) -> list[str]:
        return list(self.panel.registry.get_model(name).aliases)

    def _compare(self, _button: object) -> None:
        if not self.compare_a.value or not self.compare_b.value:
            raise PanelInputError("Pick two versions to compare.")
        a = self.panel.registry.get(self.compare_a.value)
        b = self.panel.registry.get(self.compare_b.value)
        keys = sorted(set(a.metrics) | set(b.metrics))
        rows = []
        for key in keys:
            va, vb = a.metrics.get(key), b.metrics.get(key)
            delta = f"{vb - va:+.4g}" if va is not None and vb is not None else ""
            rows.append([key, _num(va), _num(vb), delta])
        self.comparison.value = table(
            ["metric", a.uri, b.uri, "difference"],
            rows,
            empty=f"Neither {a.uri} nor {b.uri} has metrics recorded.",
        ).html + charts.figure_html(charts.bars_svg({a.uri: a.metrics, b.uri: b.metrics}))


def newest(versions: list[ModelVersion]) -> ModelVersion | None:
    """The version registered last (the one just trained), or None when there are none."""
    return max(versions, key=lambda v: (v.created_at, v.version), default=None)


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"
