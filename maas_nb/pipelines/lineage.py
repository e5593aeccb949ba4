"""What a pipeline run produced: the runs and versions that name it in their lineage."""

from __future__ import annotations

from collections import defaultdict

from ..registry import ModelVersion, PipelineRun, Registry, Run


def produced(reg: Registry, pipeline_run: str) -> tuple[list[Run], list[ModelVersion]]:
    runs = [r for r in reg.list_runs() if r.lineage.get("pipeline_run") == pipeline_run]
    return runs, versions_by_pipeline_run(reg).get(pipeline_run, [])


def versions_by_pipeline_run(reg: Registry) -> dict[str, list[ModelVersion]]:
    """Every version made inside a pipeline run, by that run's id (one pass over them)."""
    out: dict[str, list[ModelVersion]] = defaultdict(list)
    for m in reg.list_models():
        for v in reg.list_versions(m.name):
            run_id = v.lineage.get("pipeline_run")
            if run_id:
                out[run_id].append(v)
    return dict(out)


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
