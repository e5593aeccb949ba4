"""``maas rerun ID``: the same notebook bytes with the same parameters; do the metrics match?"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import api
from ..registry import PipelineRun, Registry
from . import lineage
from .executor import execute


@dataclass(frozen=True)
class RerunResult:
    original: PipelineRun
    rerun: PipelineRun
    before: dict[str, float]
    after: dict[str, float]

    @property
    def matches(self) -> bool:
        return self.before.keys() == self.after.keys() and all(
            math.isclose(self.before[k], self.after[k], rel_tol=1e-9, abs_tol=1e-12)
            for k in self.before
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "original": self.original.id,
            "rerun": self.rerun.id,
            "status": self.rerun.status,
            "matches": self.matches,
            "metrics_before": self.before,
            "metrics_after": self.after,
        }

    def __str__(self) -> str:
        verdict = "metrics match" if self.matches else "metrics DIFFER"
        head = f"Reran {self.original.notebook} as run {self.rerun.id[:12]} ({self.rerun.status})"
        lines = [f"{head}: {verdict}"]
        for key in sorted(self.before.keys() | self.after.keys()):
            lines.append(f"  {key}: {self.before.get(key)} -> {self.after.get(key)}")
        return "\n".join(lines)


def rerun(run_id: str, *, registry: Registry | None = None) -> RerunResult:
    """Execute the recorded notebook bytes (not today's file) with the recorded parameters.

    The new run records the original notebook path and ``rerun_of``, the run it repeats.
    """
    reg = registry if registry is not None else api.registry()
    original = reg.get_pipeline_run(run_id)
    again = execute(
        reg.pipeline_notebook(original),  # verified against its digest
        original.notebook,
        dict(original.parameters),
        name=original.name,
        # It runs where the original ran, so relative paths in the notebook still resolve.
        cwd=Path(original.notebook).parent,
        registry=reg,
        rerun_of=original.id,
    )
    return RerunResult(
        original, again, lineage.metrics(reg, original.id), lineage.metrics(reg, again.id)
    )
