"""Pipelines: papermill-run notebooks recorded in the registry, with lineage."""

from __future__ import annotations

from .run import declared_parameters, run

__all__ = ["declared_parameters", "run"]
