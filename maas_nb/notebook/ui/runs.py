"""The Runs tab: notebook pipeline runs with their status, parameters and versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets

from ...registry import PipelineRun
from ...tables import format_failure, format_time, params_text
from ..display import table
from .paging import Pager

if TYPE_CHECKING:
    from .panel import Panel


class RunsTab:
    title = "Runs"

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.table = widgets.HTML()
        self.pager: Pager[PipelineRun] = Pager(
            "runs",
            lambda **page: panel.registry.list_pipeline_runs(newest_first=True, **page),
            self._show,
            panel.log,
        )
        self.more = self.pager.more
        self.widget = widgets.VBox([self.table, self.more])

    def refresh(self) -> None:
        """Re-read the newest pipeline runs: a page, or as many as More has shown."""
        self.pager.refresh()

    def _show(self) -> None:
        from ...pipelines.lineage import version_uris

        runs = self.pager.items
        made = self.panel.registry.versions_made_by(r.id for r in runs)
        rows = [
            [
                r.id[:12],
                r.name,
                r.notebook,
                r.status,
                params_text(r.parameters),
                version_uris(made.get(r.id, [])),
                r.created_by or "-",
                format_time(r.started_at),
                "-" if r.duration_s is None else f"{r.duration_s:.1f} s",
                format_failure(r.error) if r.error else "",
            ]
            for r in runs
        ]
        self.table.value = table(
            [
                "run",
                "name",
                "notebook",
                "status",
                "parameters",
                "versions",
                "by",
                "started",
                "took",
                "error",
            ],
            rows,
            empty="No pipeline runs yet: %maas run NOTEBOOK -p KEY VALUE records one.",
        ).html
