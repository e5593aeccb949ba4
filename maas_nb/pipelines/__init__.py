"""Pipelines: papermill-run notebooks recorded in the registry, with lineage."""

from __future__ import annotations

from .executor import declared_parameters, run
from .gate import promote
from .sweep import SweepResult, sweep

__all__ = ["SweepResult", "declared_parameters", "promote", "run", "sweep"]
