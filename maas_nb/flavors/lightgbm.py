"""LightGBM models in LightGBM's own text format: no pickle, no code run at load.

An artifact is one line of JSON, then the text ``Booster.model_to_string`` writes::

    {"maas_nb": "lightgbm", "format": 1, "estimator": "LGBMClassifier", "classes": ...}
    tree
    version=v4
    ...

The header says which scikit-learn wrapper was fitted and holds what the text lacks (a
classifier's labels, the feature names of a DataFrame). Loading reads the header as JSON,
checks every key, and gives the rest to ``Booster(model_str=...)``, which parses numbers
and tree structure (and the pandas categories as JSON): nothing in the artifact names
code to import or run. A bare `lightgbm.Booster` loads as a Booster; a fitted
``LGBMClassifier`` or ``LGBMRegressor`` loads as a `LightGBMModel`, which predicts
exactly as the wrapper did.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from ..exceptions import ModelLoadError, ModelNotFittedError, UnsupportedModelError
from . import labels
from .base import EstimatorCalls, mro_modules
from .imports import require

FORMAT = 1
#: The wrappers a header may name; anything else is refused at load.
ESTIMATORS = frozenset({"Booster", "LGBMClassifier", "LGBMRegressor", "LGBMRanker"})
_KEYS = frozenset({"maas_nb", "format", "estimator", "classes", "feature_names"})


class LightGBMModel:
    """A fitted LightGBM regressor or ranker, loaded from the registry's text format.

    ``predict`` answers as the ``LGBMRegressor`` (or ``LGBMRanker``) that was registered;
    ``booster_`` is the LightGBM Booster underneath.
    """

    def __init__(self, booster: Any, *, estimator: str, feature_names: Any = None) -> None:
        self.booster_ = booster
        self.estimator = estimator
        self.n_features_in_: int = booster.num_feature()
        if feature_names is not None:
            self.feature_names_in_ = feature_names

    def __repr__(self) -> str:
        return f"{type(self).__name__}({self.estimator}, {self.n_features_in_} features)"

    def predict(self, X: Any) -> Any:
        return self.booster_.predict(X)


class LightGBMClassifierModel(LightGBMModel):
    """A fitted ``LGBMClassifier``, loaded: labels from ``predict``, ``predict_proba``."""

    def __init__(self, booster: Any, *, classes: Any, feature_names: Any = None) -> None:
        super().__init__(booster, estimator="LGBMClassifier", feature_names=feature_names)
        self.classes_ = classes

    def predict(self, X: Any) -> Any:
        return self.classes_.take(self.predict_proba(X).argmax(axis=1))

    def predict_proba(self, X: Any) -> Any:
        import numpy as np

        result = self.booster_.predict(X)
        if result.ndim == 1:  # binary: LightGBM answers the positive class only
            return np.vstack((1.0 - result, result)).transpose()
        return result


class LightGBMFlavor(EstimatorCalls):
    name = "lightgbm"
    stores = "LightGBM models (text format)"
    packages: tuple[str, ...] = ("lightgbm",)

    def owns(self, model: Any) -> bool:
        return isinstance(model, LightGBMModel) or "lightgbm" in mro_modules(model)

    def check_fitted(self, model: Any) -> None:
        fitted = getattr(model, "__sklearn_is_fitted__", None)
        if callable(fitted) and not fitted():
            raise ModelNotFittedError(
                f"This {type(model).__name__} is not fitted yet: call fit() before registering it."
            )

    def save(self, model: Any) -> bytes:
        booster, header = _parts(model)
        return json.dumps(header).encode() + b"\n" + booster.model_to_string().encode()

    def required_types(self, data: bytes) -> list[str]:
        read(data, uri="the artifact")
        return []  # a text model names no types: there is nothing to approve

    def check_trusted(self, data: bytes, *, name: str, trusted: Sequence[str]) -> list[str]:
        self.load(data, uri=name, trusted=trusted, allow_pickle=False)
        return []  # as required_types: a text model names no types

    def load(self, data: bytes, *, uri: str, trusted: Sequence[str], allow_pickle: bool) -> Any:
        header, text = read(data, uri=uri)
        lgb = require("lightgbm", "lightgbm")
        try:
            booster = lgb.Booster(model_str=text)
        except Exception as exc:  # LightGBMError, or a ValueError from its own parsing
            raise ModelLoadError(f"LightGBM failed to load model {uri!r}: {exc}") from exc
        estimator, names = header["estimator"], header.get("feature_names")
        if estimator == "Booster":
            return booster
        if estimator == "LGBMClassifier":
            classes = labels.from_json(header["classes"], uri=uri)
            return LightGBMClassifierModel(booster, classes=classes, feature_names=names)
        return LightGBMModel(booster, estimator=estimator, feature_names=names)

    def predict(self, model: Any, X: Any) -> dict[str, Any]:
        classes = self.classes(model)
        if classes is None:
            return {"predictions": model.predict(X)}
        proba = model.predict_proba(X)  # the classifier's own predict is this argmax
        return {"predictions": classes.take(proba.argmax(axis=1)), "probabilities": proba}

    def n_features(self, model: Any) -> int | None:
        if callable(getattr(model, "num_feature", None)):
            return int(model.num_feature())
        return super().n_features(model)

    def params(self, model: Any) -> dict[str, Any]:
        booster = getattr(model, "booster_", None) if isinstance(model, LightGBMModel) else None
        if booster is None and callable(getattr(model, "num_feature", None)):
            booster = model
        return dict(booster.params) if booster is not None else super().params(model)

    def history(self, model: Any) -> dict[str, list[float]]:
        """Each eval set's metrics per boosting round (``evals_result_``), named
        ``SET_METRIC`` (``valid_0_l2``); {} when the fit had no eval set."""
        found = getattr(model, "evals_result_", None)
        if not isinstance(found, dict):
            return {}
        return {
            f"{where}_{metric}": [float(x) for x in values]
            for where, by_metric in found.items()
            for metric, values in by_metric.items()
        }


def _parts(model: Any) -> tuple[Any, dict[str, Any]]:
    """The Booster to write and the header that goes with it."""
    header: dict[str, Any] = {"maas_nb": "lightgbm", "format": FORMAT}
    if isinstance(model, LightGBMModel):
        booster, estimator = model.booster_, model.estimator
    elif callable(getattr(model, "model_to_string", None)):
        booster, estimator = model, "Booster"
    else:
        estimator = type(model).__name__
        objective = getattr(model, "objective", None)
        if callable(objective):
            raise UnsupportedModelError(
                f"This {estimator} was fitted with a custom objective function "
                f"({getattr(objective, '__name__', objective)!r}), so LightGBM answers raw "
                "scores and the function cannot be stored as text. Fit it with a built-in "
                "objective to register it."
            )
        booster = model.booster_
        lgb = require("lightgbm", "lightgbm")
        if isinstance(model, lgb.LGBMClassifier):
            estimator = "LGBMClassifier"
        elif isinstance(model, lgb.LGBMRanker):
            estimator = "LGBMRanker"
        else:
            estimator = "LGBMRegressor"
    header["estimator"] = estimator
    classes = getattr(model, "classes_", None) if estimator == "LGBMClassifier" else None
    if classes is not None:
        header["classes"] = labels.to_json(classes)
    names = getattr(model, "feature_names_in_", None) if estimator != "Booster" else None
    if names is not None:
        header["feature_names"] = [str(n) for n in names]
    return booster, header


def read(data: bytes, *, uri: str) -> tuple[dict[str, Any], str]:
    """The header and the LightGBM model text of an artifact; refuses anything else."""
    first, _, text = data.partition(b"\n")
    try:
        header = json.loads(first)
        body = text.decode()
    except (ValueError, UnicodeDecodeError) as exc:
        raise ModelLoadError(
            f"Model {uri!r} is not a maas_nb LightGBM artifact (a JSON line, then LightGBM's "
            f"model text): {exc}. Re-register the model."
        ) from exc
    problem = _problem(header)
    if problem is not None:
        raise ModelLoadError(
            f"Model {uri!r} has a LightGBM header maas_nb cannot read: {problem}. "
            "Re-register the model with this version of maas_nb."
        )
    return header, body


def _problem(header: Any) -> str | None:
    if not isinstance(header, dict) or header.get("maas_nb") != "lightgbm":
        return "it does not start with {'maas_nb': 'lightgbm', ...}"
    if header.get("format") != FORMAT:
        return f"format {header.get('format')!r}, expected {FORMAT}"
    unknown = sorted(set(header) - _KEYS)
    if unknown:
        return f"unknown keys {unknown}"
    if header.get("estimator") not in ESTIMATORS:
        return f"estimator {header.get('estimator')!r}, expected one of {sorted(ESTIMATORS)}"
    if (header["estimator"] == "LGBMClassifier") != ("classes" in header):
        return "an LGBMClassifier has class labels, and nothing else has"
    names = header.get("feature_names")
    if names is not None and not (
        isinstance(names, list) and all(isinstance(n, str) for n in names)
    ):
        return "feature_names must be a list of strings"
    return None
