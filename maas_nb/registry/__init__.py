"""The registry: the single source of truth for models, versions, aliases, runs and deployments.

It imports nothing from ``maas_nb.serving``, ``maas_nb.notebook`` or ``maas_nb.pipelines``:
they write to it or read from it, never the other way round.
"""

from __future__ import annotations

from .pages import MetricFilter, Page
from .records import DeploymentRecord, Model, ModelVersion, PipelineRun, Run, to_dict
from .registry import Registry
from .uri import LATEST, ModelRef

__all__ = [
    "LATEST",
    "DeploymentRecord",
    "Model",
    "ModelRef",
    "MetricFilter",
    "ModelVersion",
    "Page",
    "PipelineRun",
    "Registry",
    "Run",
    "to_dict",
]
