"""The notebook front door: ``%maas`` / ``%%maas`` magics and rich results."""

from __future__ import annotations

from .magics import MaasMagics, load_ipython_extension

__all__ = ["MaasMagics", "load_ipython_extension"]
