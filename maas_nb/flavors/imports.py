"""Lazy imports of optional, heavy libraries, with the pip command that installs them."""

from __future__ import annotations

import importlib
from types import ModuleType

from ..exceptions import MissingDependencyError


def require(module: str, package: str) -> ModuleType:
    """Import *module*, or say which ``pip install`` provides it (*package* or an extra)."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise MissingDependencyError(
            f"{module!r} is needed here but is not installed ({exc}). "
            f"Install it with: pip install '{package}'"
        ) from exc
