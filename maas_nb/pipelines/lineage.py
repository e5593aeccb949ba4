"""What a pipeline run produced: the runs and versions that name it in their lineage."""

from __future__ import annotations

from ..registry import ModelVersion, PipelineRun, Registry, Run


def produced(reg: Registry, pipeline_run: str) -> tuple[list[Run], list[ModelVersion]]:
    runs = [r for r in reg.list_runs() if r.lineage.get("pipeline_run") == pipeline_run]
    return runs, reg.versions_made_by([pipeline_run]).get(pipeline_run, [])


def version_uris(versions: list[ModelVersion]) -> str:
    """``iris:3, forest:1``, or ``-`` when a run registered nothing."""
    return ", ".join(v.uri for v in versions) or "-"


def metrics(reg: Registry, pipeline_run: str) -> dict[str, float]:
    """The metrics recorded by the training runs of a pipeline run (later runs win)."""
    out: dict[str, float] = {}
    for r in produced(reg, pipeline_run)[0]:
        out.update(r.metrics)
    return out


def describe(reg: Registry, version: ModelVersion) -> PipelineRun | None:
    """The pipeline run that made *version*, if it was made inside one."""
    run_id = version.lineage.get("pipeline_run")
    if not run_id:
        return None
    try:
        return reg.get_pipeline_run(run_id)
    except LookupError:
        return None
