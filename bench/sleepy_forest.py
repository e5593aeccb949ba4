"""A model that sleeps 50 ms per call: the slow shadow version of experiments.py.

maas_nb predicts a batch with one call, so the sleep is per batch, as issue 16's shadow
target asks. It is the forest's subclass (the same inputs and classes as the primary, so
it can shadow it), but its ``predict_proba`` only sleeps and answers even odds: the
target is about a slow shadow (latency, no CPU), and a shadow's answers never reach the
client. (maas_nb's own tree kernel takes exact classes only, so ``predict_proba`` is
what the server calls.) It does nothing else: experiments.py counts the rows it answered
from the server's ``/metrics`` (``maas_shadow_answered_total``), not by I/O in the model,
which would take the GIL a few more times a call. It is registered with
``trusted_types`` and served with bench/ on the server's path.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np
from sklearn.ensemble import RandomForestClassifier

SLEEP_S = 0.05


class SleepyForest(RandomForestClassifier):
    """The fitted forest's shape and classes; each call sleeps 50 ms, then says 50/50."""

    def predict_proba(self, X):
        time.sleep(SLEEP_S)
        return np.full((len(X), len(self.classes_)), 1 / len(self.classes_))


def sleepy_forest(forest: RandomForestClassifier) -> SleepyForest:
    """A SleepyForest holding *forest*'s fitted trees."""
    copy: Any = SleepyForest(**forest.get_params())
    copy.__dict__.update(forest.__dict__)
    return copy
