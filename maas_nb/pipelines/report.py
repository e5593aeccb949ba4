"""One recorded pipeline run found by id and exported: ``runs show|export`` on both front
ends (its card is `maas_nb.commands.cards.pipeline_run_card`)."""

from __future__ import annotations

from pathlib import Path

from ..exceptions import MaasError
from ..registry import PipelineRun, Registry

#: What ``runs`` does with one run, besides listing them all.
ACTIONS = ("show", "export")


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
