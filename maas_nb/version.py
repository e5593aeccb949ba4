"""The version of maas_nb, in a module of its own so that any part can name it without
importing the package root (which pulls in the public API)."""

from __future__ import annotations

__version__ = "0.1.0.dev0"
