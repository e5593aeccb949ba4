"""What a flavor is: how one family of models is saved, loaded and called."""

from __future__ import annotations

import contextlib
import functools
from collections.abc import Sequence
from contextlib import AbstractContextManager
from typing import Any, Protocol

from ..exceptions import SignatureError


class Flavor(Protocol):
    """Saves, loads and calls one family of models.

    A flavor serialises a model to bytes (the registry stores and digests them) and
    back; loading must never execute code from the artifact unless the caller opted in
    with ``allow_pickle=True``.
    """

    name: str
    #: What the flavor stores, for messages: "scikit-learn estimators and pipelines".
    #: Empty for a flavor that is never chosen implicitly.
    stores: str
    #: Distributions whose versions a training run records when it fits such a model.
    packages: tuple[str, ...]

    def owns(self, model: Any) -> bool:
        """Tell whether this flavor handles *model* (without importing heavy libraries)."""

    def check_fitted(self, model: Any) -> None:
        """Raise `ModelNotFittedError` if *model* has not been fitted."""

    def save(self, model: Any) -> bytes:
        """Serialise *model*."""

    def load(self, data: bytes, *, uri: str, trusted: Sequence[str], allow_pickle: bool) -> Any:
        """Deserialise a model saved by `save`, refusing untrusted content.

        *trusted*: exact names approved beyond the built-in allow-list (the version's
        recorded approvals plus the loader's own list); never read from *data*.
        """

    def predict(self, model: Any, X: Any) -> dict[str, Any]:
        """Call *model* on *X*; return named outputs, each with one row per input row."""

    def n_features(self, model: Any) -> int | None:
        """The number of input features the fitted model expects, when it can tell."""

    def params(self, model: Any) -> dict[str, Any]:
        """The parameters a training run and a version record for *model*."""

    def classes(self, model: Any) -> Any:
        """A classifier's labels, in the order of its ``probabilities`` columns; else None."""

    def learn_classes(self, model: Any, y: Any) -> None:
        """Fit-time hook: give *model*, just trained on *y*, the labels it will answer with
        when its framework does not keep them (a Keras network predicts class indices)."""

    def history(self, model: Any) -> dict[str, list[float]]:
        """What the last fit of *model* reported per epoch or iteration (``{"loss": [...],
        "val_loss": [...]}``), recorded with its training run and drawn; {} if nothing."""

    def fitting(self, source: str, *, interactive: bool) -> AbstractContextManager[None]:
        """Fit-time hook around a training cell's *source*: how the framework reports
        progress (bars in a notebook, one line per epoch elsewhere) and its own logging."""

    def required_types(self, data: bytes) -> list[str]:
        """The type names *data* uses beyond this flavor's built-in allow-list, sorted.

        Raises `ModelLoadError` / `UntrustedModelError` if *data* cannot be read or holds
        something the flavor does not know (fail closed). The registry records these
        names with the version, next to the approvals a person gave for them.
        """

    def check_trusted(self, data: bytes, *, name: str, trusted: Sequence[str]) -> list[str]:
        """Raise `UntrustedModelError` if `load` would refuse *data* (checked at register);
        return the names it needs beyond the built-in allow-list, as `required_types` does.

        *trusted* holds the exact names a person approved; the message names each
        refused type, what it really is when it is a re-export, and how to trust it.
        Register calls this alone: one audit (and for scikit-learn one load) per artifact.
        """


def _predicts_argmax_of_proba(model: Any) -> bool:
    """Whether ``model.predict`` is exactly ``classes_[argmax(predict_proba)]``."""
    cls: type = type(model)
    if not _from_sklearn(cls) or getattr(model, "n_outputs_", 1) != 1:
        return False
    forest, tree = _sklearn_bases()
    if issubclass(cls, forest):
        # Asked on every call: a class may be patched after its first.
        return getattr(cls, "predict", None) is getattr(forest, "predict", None)
    return issubclass(cls, tree) and hasattr(model, "classes_")


@functools.cache
def _from_sklearn(cls: type) -> bool:
    """Whether *cls* is scikit-learn's or derives from one of its classes (asked once
    per class, not on every call: 7 us of a one-row forest call's 57 with the imports)."""
    return "sklearn" in class_modules(cls)


@functools.cache
def _sklearn_bases() -> tuple[type, type]:
    """scikit-learn's forest classifiers' base and its decision trees' (imported once)."""
    from sklearn.ensemble._forest import ForestClassifier
    from sklearn.tree import BaseDecisionTree

    return ForestClassifier, BaseDecisionTree


def _is_logistic_regression(model: Any) -> bool:
    """Whether *model* is exactly scikit-learn's LogisticRegression (not a subclass)."""
    if type(model).__name__ != "LogisticRegression":
        return False
    from sklearn.linear_model import LogisticRegression

    return type(model) is LogisticRegression


def _logistic_outputs(model: Any, X: Any) -> dict[str, Any]:
    """A LogisticRegression's predictions and probabilities from one ``predict_proba``.

    Its ``predict`` is the class of the highest decision value; its probabilities map
    those values through expit (two classes) or softmax, which never reverse their order.
    So where a row's highest probability is unique, its column is ``predict``'s class;
    where rounding made two equal (a decision value within 1e-16 of another), ``predict``
    itself answers for that row. One call instead of two: the second call's input
    validation costs as much as the arithmetic for a few rows (and `linear` skips it where
    it cannot fail)."""
    from .linear import logistic_proba

    proba = logistic_proba(model, X)
    if proba is None:
        proba = model.predict_proba(X)
    predictions = model.classes_.take(proba.argmax(axis=1))
    tied = (proba == proba.max(axis=1, keepdims=True)).sum(axis=1) > 1
    if tied.any():
        import numpy as np

        rows = X.iloc[tied] if hasattr(X, "iloc") else np.asarray(X)[tied]
        predictions[tied] = model.predict(rows)
    return {"predictions": predictions, "probabilities": proba}


def mro_modules(obj: Any) -> list[str]:
    """The top-level packages of the classes *obj* is an instance of."""
    return class_modules(type(obj))


def class_modules(cls: type) -> list[str]:
    """The top-level packages of *cls* and of the classes it derives from."""
    return [c.__module__.partition(".")[0] for c in cls.__mro__]


class EstimatorCalls:
    """Calls and fit-time hooks for scikit-learn-style models, shared by their flavors."""

    def predict(self, model: Any, X: Any) -> dict[str, Any]:
        """Predictions, and class probabilities when the model has ``predict_proba``."""
        if _predicts_argmax_of_proba(model):
            # Forests and trees predict the most probable class: walk the trees once.
            from .forests import forest_proba

            proba = forest_proba(model, X)
            if proba is None:
                proba = model.predict_proba(X)
            return {
                "predictions": model.classes_.take(proba.argmax(axis=1)),
                "probabilities": proba,
            }
        if _is_logistic_regression(model):
            return _logistic_outputs(model, X)
        outputs = {"predictions": model.predict(X)}
        if hasattr(model, "predict_proba"):
            outputs["probabilities"] = model.predict_proba(X)
        return outputs

    def n_features(self, model: Any) -> int | None:
        n = getattr(model, "n_features_in_", None)
        return n if isinstance(n, int) else None

    def params(self, model: Any) -> dict[str, Any]:
        """The estimator's own constructor parameters (``get_params(deep=False)``)."""
        get_params = getattr(model, "get_params", None)
        if not callable(get_params):
            return {}
        try:
            return dict(get_params(deep=False))
        except TypeError:  # a get_params that is not scikit-learn's
            return {}

    def classes(self, model: Any) -> Any:
        try:
            return getattr(model, "classes_", None)
        except Exception:  # a meta-estimator's property may raise anything when a step lacks it
            return None

    def learn_classes(self, model: Any, y: Any) -> None:
        return None  # estimators keep their own ``classes_``

    def history(self, model: Any) -> dict[str, list[float]]:
        return {}

    def fitting(self, source: str, *, interactive: bool) -> AbstractContextManager[None]:
        return contextlib.nullcontext()


def check_sample_width(flavor: Flavor, model: Any, sample: Any, *, name: str) -> None:
    """Raise `SignatureError` if a tabular *sample* has a different width than *model*."""
    expected = flavor.n_features(model)
    shape = getattr(sample, "shape", None)
    if expected is None or shape is None or len(shape) != 2 or shape[1] == expected:
        return
    raise SignatureError(
        f"The sample has {shape[1]} features, but model {name!r} was fitted with {expected}. "
        "Pass a few rows of the training data as sample=, e.g. sample=X_train[:5]."
    )
