"""Pipelines: papermill-run notebooks recorded in the registry, with lineage."""

from __future__ import annotations

from .gate import promote
from .run import declared_parameters, run
from .sweep import SweepResult, sweep

__all__ = ["SweepResult", "declared_parameters", "promote", "run", "sweep"]
