"""The cards of one version and of one pipeline run, shown by every verb that names one
(``show``, ``register``, ``%%maas train``, ``runs show``, ``run``) and by the panel."""

from __future__ import annotations

import contextlib
import json
from collections.abc import Mapping
from typing import Any

from .. import charts
from ..exceptions import NotFoundError
from ..registry import ModelVersion, PipelineRun, Registry, Run, reference, trust
from ..tables import format_failure, format_size, format_time, metrics_text, params_text
from .result import Card, Field, card


def version_card(v: ModelVersion, pipeline: PipelineRun | None = None) -> Card:
    """*v*: what it is and how well it did; with details, where its bytes and trust come
    from; with *pipeline*, the run that made it and how to get its executed notebook."""
    lineage = dict(v.lineage)
    data = lineage.get("training_data", {})
    fields = [
        Field("uri", v.uri, detail=True),
        Field("flavor", v.flavor),
        Field("aliases", ", ".join(v.aliases)),
        Field("description", v.description),
        Field("signature", str(v.signature) if v.signature else "- (register with sample=X[:5])"),
        Field("metrics", metrics_text(v.metrics)),
        # A detail: notebooks compare their cards across machines (nbval), and people differ.
        Field("by", v.created_by, detail=True),
        # Only what goes beyond the built-in allow-list: most versions need nothing more.
        Field("trust", trust.describe(v.trust, times=False) if v.trust.get("needs") else ""),
        Field("training data", ", ".join(f"{k} {d['shape']}" for k, d in data.items())),
        Field("input reference", reference.describe(lineage.get(reference.KEY)), detail=True),
        Field("created", format_time(v.created_at), detail=True),
        Field("artifact", f"{v.digest} ({format_size(v.size)})", detail=True),
        Field(
            "trust record",
            trust.describe(v.trust, times=True) or "- (not recorded)",
            detail=True,
        ),
        *(Field(f"param {k}", json.dumps(p), detail=True) for k, p in sorted(v.params.items())),
        *(Field(f"tag {k}", t, detail=True) for k, t in sorted(v.tags.items())),
        *(
            Field(f"lineage {k}", json.dumps(item), detail=True)
            for k, item in sorted(lineage.items())
            if k not in ("training_data", reference.KEY)
        ),
        Field("run", v.run_id, detail=True),
    ]
    if pipeline is not None:
        repeats = f" (rerun of {pipeline.rerun_of[:12]})" if pipeline.rerun_of else ""
        short = pipeline.id[:12]
        fields += [
            Field("pipeline run", f"{short}{repeats}"),
            Field("pipeline", f"{pipeline.notebook} ({pipeline.status})"),
            Field("parameters", params_text(pipeline.parameters)),
            Field(
                "executed notebook",
                f"maas runs export {short} out.ipynb "
                f"(in a notebook: %maas runs export {short} out.ipynb)",
            ),
            Field("pipeline id", pipeline.id, detail=True),
            Field("pipeline rerun of", pipeline.rerun_of, detail=True),
            Field("pipeline notebook sha256", pipeline.notebook_digest, detail=True),
            Field("executed notebook sha256", pipeline.output_digest, detail=True),
        ]
    return Card(f"Model version {v.uri}", tuple(fields))


def pipeline_run_card(reg: Registry, r: PipelineRun) -> Card:
    """*r*: where it ran from, how it ended, what it registered."""
    from ..pipelines.lineage import produced, version_uris

    return card(
        f"Pipeline run {r.name}",
        [
            Field("id", r.id, detail=True),
            ("notebook", r.notebook),
            Field("notebook sha256", r.notebook_digest, detail=True),
            ("parameters", params_text(r.parameters) or "-"),
            ("status", r.status),
            Field("by", r.created_by, detail=True),
            Field("started", format_time(r.started_at), detail=True),
            Field(
                "duration",
                f"{r.duration_s:.2f} s" if r.duration_s is not None else "-",
                detail=True,
            ),
            Field("executed notebook", r.output_digest or "-", detail=True),
            ("registered", version_uris(produced(reg, r.id)[1])),
            ("rerun of", r.rerun_of),
            ("error", format_failure(r.error) if r.error else None),
        ],
    )


def run_history(reg: Registry, run_id: str | None) -> Mapping[str, Any]:
    """The history (per-epoch and per-step series) recorded with the training run
    *run_id*; {} for none, or when the run is not in this registry."""
    if run_id is None:
        return {}
    with contextlib.suppress(NotFoundError):
        return history_of(reg.get_run(run_id))
    return {}


def history_of(run: Run) -> Mapping[str, Any]:
    history = run.lineage.get("history")
    return history if isinstance(history, Mapping) else {}


def history_html(history: Mapping[str, Any], *, title: str) -> str:
    """A run's *history* drawn, for a card's HTML ("" when it recorded none)."""
    svg = charts.history_svg(history.get("epochs", {}), history.get("steps", {}), title=title)
    return charts.figure_html(svg)
