"""Model classes that live outside scikit-learn, so skops does not trust them by default."""

import time
from pathlib import Path

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin


class ThresholdClassifier(ClassifierMixin, BaseEstimator):
    """Predicts 1 when the first feature exceeds the threshold learnt as its mean."""

    def fit(self, X, y=None):
        X = np.asarray(X)
        self.threshold_ = float(X[:, 0].mean())
        self.n_features_in_ = X.shape[1]
        self.classes_ = np.array([0, 1])
        return self

    def predict(self, X):
        return (np.asarray(X)[:, 0] > self.threshold_).astype(int)


class PlainPredictor:
    """Not an estimator of any known library: only pickle can store it."""

    def predict(self, X):
        return np.asarray(X).sum(axis=1)


class GatedRegressor(RegressorMixin, BaseEstimator):
    """Sums each row, but only while ``<gate>/open`` exists: a model kept busy on demand.

    Each call first touches ``<gate>/entered``, so a test knows a batch is running, then
    waits (60 s at most) for the gate to open. Tests use it to hold a real server's model
    busy for as long as they need, without timing assumptions.
    """

    def __init__(self, gate: str = ""):
        self.gate = gate

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        gate = Path(self.gate)
        _pass_gate(gate / "entered", gate / "open")
        return np.asarray(X, dtype=float).sum(axis=1)


class WorkerGatedRegressor(RegressorMixin, BaseEstimator):
    """Sums each row once ``<gate>/open-<pid>`` exists: each server process held apart.

    Each call first touches ``<gate>/entered-<pid>``. A test holds one worker of a server
    loading (its warm-up waits here) while another has finished, without timing."""

    def __init__(self, gate: str = ""):
        self.gate = gate

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        return self

    def predict(self, X):
        import os

        gate, pid = Path(self.gate), os.getpid()
        _pass_gate(gate / f"entered-{pid}", gate / f"open-{pid}")
        return np.asarray(X, dtype=float).sum(axis=1)


def _pass_gate(entered: Path, open_: Path) -> None:
    """Touch *entered*, then wait (polling, 60 s deadline) until *open_* exists."""
    entered.touch()
    deadline = time.monotonic() + 60
    while not open_.exists():
        if time.monotonic() > deadline:
            raise TimeoutError(f"{open_} did not appear within 60 s")
        time.sleep(0.005)


class SwitchedFailure(ClassifierMixin, BaseEstimator):
    """Predicts class 0, until ``<switch>`` exists: from then on every call raises.

    Tests load and warm it up while it answers, then make it a candidate that fails on
    every row (for the guard)."""

    def __init__(self, switch: str = ""):
        self.switch = switch

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        self.classes_ = np.array([0, 1, 2])
        return self

    def predict(self, X):
        if Path(self.switch).exists():
            raise RuntimeError("this candidate fails on purpose")
        return np.zeros(len(X), dtype=int)


class ProcessReporter(ClassifierMixin, BaseEstimator):
    """Predicts, for every row, the id of the process it runs in; a row whose first
    feature is negative ends that process at once (``os._exit(3)``), as a crash would."""

    def fit(self, X, y=None):
        self.n_features_in_ = np.asarray(X).shape[1]
        self.classes_ = np.array([0, 1, 2])
        return self

    def predict(self, X):
        import os

        X = np.asarray(X)
        if (X[:, 0] < 0).any():
            os._exit(3)
        return np.full(len(X), os.getpid())
