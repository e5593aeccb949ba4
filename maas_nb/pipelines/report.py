"""One recorded pipeline run, shown and exported: what ``maas runs show|export`` and
``%maas runs show|export`` print and write (each front end only renders the fields)."""

from __future__ import annotations

import json
from pathlib import Path

from ..exceptions import MaasError
from ..registry import PipelineRun, Registry
from ..tables import format_failure, format_time
from .lineage import produced, version_uris

#: What ``runs`` does with one run, besides listing them all.
ACTIONS = ("show", "export")


def fields(reg: Registry, r: PipelineRun) -> list[tuple[str, str]]:
    """*r* as (name, value) rows: where it ran from, how it ended, what it registered."""
    rows = [
        ("id", r.id),
        ("name", r.name),
        ("notebook", r.notebook),
        ("notebook sha256", r.notebook_digest),
        ("parameters", json.dumps(dict(r.parameters), sort_keys=True)),
        ("status", r.status),
        ("started", format_time(r.started_at)),
        ("duration", f"{r.duration_s:.2f} s" if r.duration_s is not None else "-"),
        ("executed notebook", r.output_digest or "-"),
        ("registered", version_uris(produced(reg, r.id)[1])),
    ]
    if r.rerun_of:
        rows.append(("rerun of", r.rerun_of))
    if r.error:
        rows.append(("error", format_failure(r.error)))
    return rows


def find(reg: Registry, command: str, action: str, run_id: str | None) -> PipelineRun:
    """The run ``COMMAND runs ACTION ID`` names; *command* is how the caller's front end
    spells ``maas`` (``maas`` or ``%maas``), for the hint when the id is missing."""
    if run_id is None:
        raise MaasError(f"{command} runs {action} needs a run id: {command} runs {action} ID")
    return reg.get_pipeline_run(run_id)


def export(reg: Registry, command: str, r: PipelineRun, output: str | None) -> str:
    """Write *r*'s executed notebook to *output*; return the sentence that says so."""
    if output is None:
        raise MaasError(
            f"{command} runs export needs an output path: {command} runs export {r.id[:12]} "
            "out.ipynb"
        )
    Path(output).write_bytes(reg.pipeline_notebook(r, executed=True))
    return f"Wrote the executed notebook of run {r.id[:12]} to {output}"
