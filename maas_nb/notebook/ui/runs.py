"""The Runs tab: notebook pipeline runs with their status, parameters and versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets

from ...tables import format_failure, format_time, params_text
from ..display import table

if TYPE_CHECKING:
    from .panel import Panel


class RunsTab:
    title = "Runs"

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.table = widgets.HTML()
        self.widget = widgets.VBox([self.table])

    def refresh(self) -> None:
        """Re-read the pipeline runs, newest first."""
        from ...pipelines.lineage import version_uris, versions_by_pipeline_run

        made = versions_by_pipeline_run(self.panel.registry)
        runs = sorted(
            self.panel.registry.list_pipeline_runs(),
            key=lambda r: r.started_at,
            reverse=True,
        )
        rows = [
            [
                r.id[:12],
                r.name,
                r.notebook,
                r.status,
                params_text(r.parameters),
                version_uris(made.get(r.id, [])),
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
                "started",
                "took",
                "error",
            ],
            rows,
            empty="No pipeline runs yet: %maas run NOTEBOOK -p KEY VALUE records one.",
        ).html
