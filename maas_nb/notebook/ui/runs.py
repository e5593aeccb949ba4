"""The Runs tab: notebook pipeline runs with their status and parameters."""

from __future__ import annotations

from typing import TYPE_CHECKING

import ipywidgets as widgets

from ...tables import format_time
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
        runs = sorted(
            self.panel.registry.store.list_pipeline_runs(),
            key=lambda r: r.started_at,
            reverse=True,
        )
        rows = [
            [
                r.id[:12],
                r.name,
                r.notebook,
                r.status,
                ", ".join(f"{k}={v!r}" for k, v in sorted(r.parameters.items())),
                format_time(r.started_at),
                "-" if r.duration_s is None else f"{r.duration_s:.1f} s",
                _error(dict(r.error)),
            ]
            for r in runs
        ]
        self.table.value = table(
            ["run", "name", "notebook", "status", "parameters", "started", "took", "error"],
            rows,
            empty="No pipeline runs yet: %maas run NOTEBOOK -p KEY VALUE records one.",
        ).html


def _error(error: dict) -> str:
    if not error:
        return ""
    where = f" in cell {error['cell']}" if error.get("cell") is not None else ""
    return f"{error.get('exception', 'error')}{where}: {error.get('message', '')}"
