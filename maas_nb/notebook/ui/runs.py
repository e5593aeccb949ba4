"""The Runs tab: notebook pipeline runs with their status, parameters and versions."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets

from ...registry import PipelineRun
from ...tables import format_failure, format_time, params_text
from ..display import table

if TYPE_CHECKING:
    from .panel import Panel


#: Pipeline runs the tab reads at a time; "More runs" reads the next page.
PAGE = 50


class RunsTab:
    title = "Runs"

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.table = widgets.HTML()
        self.more = widgets.Button(description="More runs", icon="angle-double-down")
        self.more.layout.display = "none"
        self.runs: list[PipelineRun] = []
        self.next: str | None = None  # the cursor of the page after the runs shown
        self.more.on_click(panel.log.guard("More runs")(self._more))
        self.widget = widgets.VBox([self.table, self.more])

    def refresh(self) -> None:
        """Re-read the newest pipeline runs: a page, or as many as More has shown."""
        page = self.panel.registry.list_pipeline_runs(
            newest_first=True, limit=max(PAGE, len(self.runs))
        )
        self.runs, self.next = list(page), page.next
        self._show()

    def _more(self, _button: object = None) -> None:
        """Add the page of older runs after the ones shown (keyset: never re-read them)."""
        if self.next is None:
            return
        page = self.panel.registry.list_pipeline_runs(
            newest_first=True, limit=PAGE, after=self.next
        )
        self.runs += page
        self.next = page.next
        self._show()

    def _show(self) -> None:
        from ...pipelines.lineage import version_uris

        made = self.panel.registry.versions_made_by(r.id for r in self.runs)
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
            for r in self.runs
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
        self.more.layout.display = None if self.next else "none"
