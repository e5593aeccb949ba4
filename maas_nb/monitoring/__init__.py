"""Watching deployments after the fact: the prediction log as a DataFrame, and input drift.

`prediction_log` reads what the server's `maas_nb.serving.prediction_log` wrote; `drift`
compares the logged inputs with the statistics the version recorded at registration
(`maas_nb.registry.reference`). pandas and scipy load only when they are called.
"""

from __future__ import annotations

from .drift import compare, drift
from .log_reader import prediction_log

__all__ = ["compare", "drift", "prediction_log"]
