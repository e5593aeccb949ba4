"""``maas_nb.ui()`` and ``%maas ui``: the ipywidgets control panel."""

from __future__ import annotations

from .panel import Panel, ui

__all__ = ["Panel", "ui"]
