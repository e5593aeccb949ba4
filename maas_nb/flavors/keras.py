"""Keras 3 models in the native ``.keras`` format, loaded with ``safe_mode=True``."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from typing import Any

from ..exceptions import ModelLoadError, ModelNotFittedError, UntrustedModelError
from .base import mro_modules
from .imports import require

_EXTRA = "maas_nb[tensorflow]"


def _keras() -> Any:
    # Keras logs through absl and TensorFlow's C++ logger; keep notebooks readable.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    return require("keras", _EXTRA)


class KerasFlavor:
    name = "keras"

    def owns(self, model: Any) -> bool:
        modules = mro_modules(model)
        return "keras" in modules or "tf_keras" in modules

    def check_fitted(self, model: Any) -> None:
        if not getattr(model, "built", False):
            raise ModelNotFittedError(
                f"This Keras {type(model).__name__} has not been built: fit it (or call "
                "build()) before registering it."
            )

    def save(self, model: Any) -> bytes:
        _keras()
        with tempfile.TemporaryDirectory(prefix="maas-keras-") as tmp:
            path = os.path.join(tmp, "model.keras")
            model.save(path)
            with open(path, "rb") as f:
                return f.read()

    def required_types(self, data: bytes) -> list[str]:
        return []  # placeholder on branch trust; the keras branch implements the audit

    def check_trusted(self, data: bytes, *, name: str, trusted: Sequence[str]) -> None:
        return None  # safe_mode, not a type list, guards Keras loading

    def load(self, data: bytes, *, uri: str, trusted: Sequence[str], allow_pickle: bool) -> Any:
        keras = _keras()
        with tempfile.TemporaryDirectory(prefix="maas-keras-") as tmp:
            path = os.path.join(tmp, "model.keras")
            with open(path, "wb") as f:
                f.write(data)
            try:
                # safe_mode refuses lambda layers and other deserialised bytecode.
                return keras.saving.load_model(path, compile=False, safe_mode=True)
            except ValueError as exc:
                if "safe_mode" in str(exc):
                    raise UntrustedModelError(
                        f"Model {uri!r} contains Python code (e.g. a Lambda layer) that Keras "
                        "refuses to load in safe mode; maas_nb only loads Keras models in "
                        "safe mode. Replace the Lambda layer with a registered custom layer."
                    ) from exc
                raise ModelLoadError(f"Keras failed to load model {uri!r}: {exc}") from exc
            except Exception as exc:
                raise ModelLoadError(f"Keras failed to load model {uri!r}: {exc}") from exc

    def predict(self, model: Any, X: Any) -> dict[str, Any]:
        import numpy as np

        outputs = model(np.asarray(X), training=False)
        if isinstance(outputs, dict):
            return {str(k): np.asarray(v) for k, v in outputs.items()}
        if isinstance(outputs, (list, tuple)):
            return {f"output_{i}": np.asarray(v) for i, v in enumerate(outputs)}
        return {"output": np.asarray(outputs)}

    def n_features(self, model: Any) -> int | None:
        try:
            shape = model.input_shape
        except (AttributeError, ValueError):
            return None
        if isinstance(shape, tuple) and len(shape) == 2 and isinstance(shape[1], int):
            return shape[1]
        return None
