"""Recording a training run: parameters, metrics, duration, source, data fingerprint, packages.

`training_run` is what ``%%maas train`` uses; it works the same from plain Python::

    with maas_nb.training_run("iris", source=code) as run:
        model = LogisticRegression().fit(X_train, y_train)
        run.complete(model, X_train=X_train, eval=(X_test, y_test), register=True)

The run also records a history, which ``%maas show``, the run card and the panel draw:
what the model's last fit reported per epoch (Keras's ``History``, LightGBM's eval
results: `Flavor.history`) and the metrics the code logs per step with `log`. It is kept
in the run's lineage under ``"history"`` (``{"epochs": {"loss": [...]}, "steps":
{"reward": [[step, value], ...]}}``), not copied into the version's; a logged series
longer than `MAX_POINTS` is thinned to that many evenly spaced points.
"""

from __future__ import annotations

import contextlib
import contextvars
import functools
import hashlib
import platform
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata as importlib_metadata
from typing import Any

from . import flavors
from .api import registry, with_pipeline_run
from .exceptions import ConfigurationError, UnsupportedModelError
from .flavors.base import Flavor
from .registry import ModelVersion, Run, metadata

#: Recorded for every run; each flavor adds the packages of its framework.
PACKAGES = ("maas_nb", "numpy", "pandas")
#: The most points a logged series keeps (a run's record stays small enough to list).
MAX_POINTS = 1000


@dataclass
class TrainingResult:
    """What one training run produced: its record and, if registered, the new version."""

    run: Run
    version: ModelVersion | None = None
    model_variable: str | None = None


@dataclass
class TrainingRun:
    name: str
    source: str = ""
    started: float = field(default_factory=time.perf_counter)
    run: Run | None = None
    result: TrainingResult | None = None
    steps: dict[str, list[list[float]]] = field(default_factory=dict)

    def log(self, step: float | None = None, **values: float) -> None:
        """Record metrics at *step* (default: one past the series' last step, from 0)."""
        if step is not None:
            step = metadata.metrics({"step": step})["step"]
            step = int(step) if step.is_integer() else step
        for key, value in metadata.metrics(values).items():
            points = self.steps.setdefault(key, [])
            at = step if step is not None else (points[-1][0] + 1 if points else 0)
            points.append([at, value])

    def history(self, model: Any = None) -> dict[str, Any]:
        """What this run records as its history: *model*'s per-epoch series and the steps
        logged; {} if neither."""
        epochs = flavor_of(model).history(model) if model is not None else {}
        out: dict[str, Any] = {}
        if epochs:
            out["epochs"] = epochs
        if self.steps:
            out["steps"] = {k: _thin(v) for k, v in self.steps.items()}
        return out

    def complete(
        self,
        model: Any,
        *,
        X_train: Any = None,
        y_train: Any = None,
        eval: tuple[Any, Any] | None = None,
        metrics: Mapping[str, float] | None = None,
        register: bool = False,
        alias: str | None = None,
        model_variable: str | None = None,
    ) -> TrainingResult:
        """Record *model*'s parameters and metrics on this run, and optionally register it."""
        assert self.run is not None
        reg = registry()
        flavor = flavor_of(model)
        flavor.learn_classes(model, y_train if y_train is not None or eval is None else eval[1])
        all_metrics = dict(evaluate(model, *eval) if eval is not None else {})
        all_metrics.update(metrics or {})
        duration = time.perf_counter() - self.started
        lineage = {
            **with_pipeline_run(None),
            "duration_s": round(duration, 6),
            "packages": package_versions(),
            "python": platform.python_version(),
        }
        data = fingerprint(X_train, y_train)
        if data:
            lineage["training_data"] = data
        params = flavor.params(model)
        history = self.history(model)
        run = reg.update_run(
            self.run.id,
            params=params,
            lineage={**lineage, **({"history": history} if history else {})},
        )
        run = reg.end_run(run.id, status="finished", metrics=all_metrics)
        version = None
        if register:
            sample = _head(X_train)
            version = reg.register(
                model,
                self.name,
                sample=sample,
                reference=_reference(X_train),
                metrics=all_metrics,
                params=params,
                alias=alias,
                lineage={"run_id": run.id, **lineage},
                run_id=run.id,
            )
        self.result = TrainingResult(run, version, model_variable)
        return self.result


@contextlib.contextmanager
def training_run(name: str, *, source: str = "") -> Iterator[TrainingRun]:
    """A run that is recorded as failed if the block raises (the exception propagates)."""
    reg = registry()
    training = TrainingRun(name, source)
    training.run = reg.start_run(name, source=source, lineage=with_pipeline_run(None))
    token = _current.set(training)
    try:
        yield training
    except BaseException:
        _fail(training)
        raise
    finally:
        _current.reset(token)
    if training.result is None:
        _fail(training)


def log(step: float | None = None, **metrics: float) -> None:
    """Record *metrics* (finite numbers) at *step* on the training run in progress: a
    ``%%maas train`` cell or a `training_run` block. Drawn with the run's history::

        for step in range(100):
            ...
            maas_nb.log(step=step, loss=loss, reward=reward)
    """
    training = _current.get()
    if training is None:
        raise ConfigurationError(
            f"maas_nb.log({', '.join(f'{k}=...' for k in metrics)}) was called outside a "
            "training run, so there is no run to record it with. Call it inside a "
            "%%maas train cell or a `with maas_nb.training_run(NAME) as run:` block."
        )
    training.log(step, **metrics)


_current: contextvars.ContextVar[TrainingRun | None] = contextvars.ContextVar(
    "maas_nb_training_run", default=None
)


def _fail(training: TrainingRun) -> None:
    """End *training*'s run as failed, keeping the steps it logged before it failed."""
    assert training.run is not None
    reg = registry()
    if training.steps:
        lineage = {**training.run.lineage, "history": training.history()}
        reg.update_run(training.run.id, params=dict(training.run.params), lineage=lineage)
    reg.end_run(training.run.id, status="failed")


def _thin(points: list[list[float]]) -> list[list[float]]:
    """At most `MAX_POINTS` of *points*, evenly spaced, the first and last always kept."""
    if len(points) <= MAX_POINTS:
        return points
    last = len(points) - 1
    return [points[round(i * last / (MAX_POINTS - 1))] for i in range(MAX_POINTS)]


def evaluate(model: Any, X: Any, y: Any) -> dict[str, float]:
    """Accuracy and F1 for classifiers, R2 and MAE for regressors."""
    import numpy as np
    from sklearn import metrics as skm

    flavor = flavor_of(model)
    y_true = np.asarray(y)
    outputs = flavor.predict(model, X)
    y_pred = np.asarray(outputs.get("predictions", next(iter(outputs.values()))))
    if flavor.classes(model) is not None:
        labels = set(np.unique(y_true).tolist())
        # F1 of the positive class for 0/1 labels; otherwise (strings, several classes) the
        # unweighted mean over classes.
        average = "binary" if labels <= {0, 1} else "macro"
        return {
            "accuracy": float(skm.accuracy_score(y_true, y_pred)),
            "f1": float(skm.f1_score(y_true, y_pred, average=average)),
        }
    if y_pred.ndim == 2 and y_pred.shape[1] == 1:
        y_pred = y_pred.reshape(-1)  # a network's single output column
    return {
        "r2": float(skm.r2_score(y_true, y_pred)),
        "mae": float(skm.mean_absolute_error(y_true, y_pred)),
    }


def flavor_of(model: Any) -> Flavor:
    """The flavor that owns *model*; any other object with ``predict`` is called as is."""
    try:
        return flavors.for_model(model)
    except UnsupportedModelError:
        return flavors.get("pickle")


def fingerprint(X: Any, y: Any = None) -> dict[str, Any]:
    """sha256 and shape of the training data, when it is an array or a DataFrame."""
    out = {}
    for key, value in (("X", X), ("y", y)):
        digest = _digest(value)
        if digest:
            out[key] = digest
    return out


def _digest(value: Any) -> dict[str, Any] | None:
    import numpy as np

    if value is None:
        return None
    if hasattr(value, "to_numpy") and hasattr(value, "columns"):
        h = hashlib.sha256(",".join(map(str, value.columns)).encode())
        array = value.to_numpy()
    else:
        try:
            array = np.asarray(value)
        except Exception:
            return None
        h = hashlib.sha256()
    if array.dtype == object:
        h.update(repr(array.tolist()).encode())
    else:
        h.update(np.ascontiguousarray(array).tobytes())
    return {"sha256": h.hexdigest(), "shape": list(array.shape)}


def package_versions() -> dict[str, str]:
    # Read once per process: the code a run uses is what this process imported, which an
    # upgrade on disk does not change until a restart (and each lookup parses metadata).
    return dict(_package_versions(tuple(flavors.packages())))


@functools.lru_cache(maxsize=8)
def _package_versions(flavor_packages: tuple[str, ...]) -> tuple[tuple[str, str], ...]:
    versions = {}
    for name in dict.fromkeys([*PACKAGES, *flavor_packages]):
        with contextlib.suppress(importlib_metadata.PackageNotFoundError):
            versions[name] = importlib_metadata.version(name)
    return tuple(versions.items())


def _head(X: Any) -> Any:
    if X is None:
        return None
    if hasattr(X, "head"):
        return X.head(5)
    if isinstance(X, (list, tuple)):
        return list(X[:5])
    return X[:5]


def _reference(X: Any) -> Any:
    """The training rows whose statistics the version keeps (`maas_nb.drift`): tables
    and arrays only (a ``tf.data`` pipeline or a generator is not read twice)."""
    if X is None or hasattr(X, "head") or isinstance(X, (list, tuple)):
        return X
    return X if type(X).__module__ == "numpy" else None
