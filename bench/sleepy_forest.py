"""A forest that sleeps 50 ms per call: the slow shadow version of experiments.py.

maas_nb predicts a batch with one call, so the sleep is per batch, as issue 16's shadow
target asks. The forest is a subclass of RandomForestClassifier, so maas_nb's own tree
kernel (exact classes only) is not used and ``predict_proba`` is called: the sleep, then
scikit-learn's answer. Each call appends its row count to ``calls_path_`` (when set), so
the benchmark can tell how many rows the shadow predicted in the server's process.
It is registered with ``trusted_types`` and served with bench/ on the server's path.
"""

from __future__ import annotations

import time
from typing import Any

from sklearn.ensemble import RandomForestClassifier

SLEEP_S = 0.05


class SleepyForest(RandomForestClassifier):
    """The same fitted forest, 50 ms slower per call."""

    def predict_proba(self, X):
        time.sleep(SLEEP_S)
        proba = super().predict_proba(X)
        path = getattr(self, "calls_path_", "")
        if path:
            with open(path, "a") as f:
                f.write(f"{len(proba)}\n")
        return proba


def sleepy_forest(forest: RandomForestClassifier, calls_path: str = "") -> SleepyForest:
    """A SleepyForest holding *forest*'s fitted trees, counting its rows in *calls_path*."""
    copy: Any = SleepyForest(**forest.get_params())
    copy.__dict__.update(forest.__dict__)
    copy.calls_path_ = calls_path
    return copy


def rows_predicted(calls_path: str) -> int:
    """The rows a SleepyForest counted in *calls_path* so far."""
    try:
        with open(calls_path) as f:
            return sum(int(line) for line in f if line.strip())
    except FileNotFoundError:
        return 0
