"""Keras 3 models in the native ``.keras`` format, audited, then loaded in safe mode.

Before Keras reads an artifact, `keras_audit` checks every object its config names
against Keras's own modeling objects; custom objects and Keras layers that run code
load only when approved by exact name, and ``safe_mode=True`` stays on regardless.
A loaded model answers through a graph traced once at load (`keras_compiled`).
"""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Any

from ..config import TRUSTED_TYPES_ENV
from ..exceptions import (
    MissingDependencyError,
    ModelLoadError,
    ModelNotFittedError,
    UntrustedModelError,
)
from . import keras_classes
from .base import mro_modules
from .keras_import import import_keras as _keras

if TYPE_CHECKING:
    from .keras_audit import Audit, Finding


class KerasFlavor:
    name = "keras"
    stores = "Keras models (.keras)"
    packages: tuple[str, ...] = ("keras", "tensorflow", "tensorflow-cpu")

    def owns(self, model: Any) -> bool:
        modules = mro_modules(model)
        return "keras" in modules or "tf_keras" in modules

    def check_fitted(self, model: Any) -> None:
        if not getattr(model, "built", False):
            raise ModelNotFittedError(
                f"This Keras {type(model).__name__} has not been built: fit it (or call "
                "build()) before registering it."
            )
        classes = getattr(model, "classes_", None)
        if classes is not None:
            keras_classes.check(model, classes, name=getattr(model, "name", "model"))

    def save(self, model: Any) -> bytes:
        _keras()
        with tempfile.TemporaryDirectory(prefix="maas-keras-") as tmp:
            path = os.path.join(tmp, "model.keras")
            model.save(path)
            classes = self.classes(model)
            if classes is not None:
                keras_classes.write(path, classes)
            with open(path, "rb") as f:
                return f.read()

    def required_types(self, data: bytes) -> list[str]:
        """Names of the objects *data* needs beyond Keras's own modeling objects.

        Raises `UntrustedModelError` when the artifact holds something no approval can
        admit (bytecode, legacy layers, unknown shapes), `ModelLoadError` when unreadable.
        """
        _keras()
        found = _audit(data)
        if any(f.name is None for f in found.findings):
            # Nothing can approve these; name every finding so one refusal says it all.
            raise _untrusted_error("The artifact", found.findings)
        return sorted({f.name for f in found.findings if f.name is not None})

    def check_trusted(self, data: bytes, *, name: str, trusted: Sequence[str]) -> list[str]:
        _keras()
        found = _audit(data)
        refused = _refused(found, trusted)
        if refused:
            raise _untrusted_error(f"Model {name!r}", refused)
        return sorted({f.name for f in found.findings if f.name is not None})

    def load(self, data: bytes, *, uri: str, trusted: Sequence[str], allow_pickle: bool) -> Any:
        keras = _keras()
        found = _audit(data)
        refused = _refused(found, trusted)
        if refused:
            raise _untrusted_error(f"Model {uri!r}", refused)
        _check_registered(found, uri)
        classes = keras_classes.read(data, uri=uri)
        with tempfile.TemporaryDirectory(prefix="maas-keras-") as tmp:
            path = os.path.join(tmp, "model.keras")
            with open(path, "wb") as f:
                f.write(data)
            try:
                # Approved custom objects resolve through Keras's own registry (the
                # user's process registered them); maas_nb passes no custom_objects and
                # imports nothing the artifact names.
                model = keras.saving.load_model(path, compile=False, safe_mode=True)
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
        if classes is not None:
            model.classes_ = keras_classes.check(model, classes, name=uri)
        from . import keras_compiled  # numpy: not at `import maas_nb`

        keras_compiled.prepare(model, uri=uri)
        return model

    def predict(self, model: Any, X: Any) -> dict[str, Any]:
        import numpy as np

        from . import keras_compiled

        outputs = keras_compiled.call(model, X)
        if isinstance(outputs, dict):
            return {str(k): np.asarray(v) for k, v in outputs.items()}
        if isinstance(outputs, (list, tuple)):
            return {f"output_{i}": np.asarray(v) for i, v in enumerate(outputs)}
        out = np.asarray(outputs)
        classes = self.classes(model)
        if classes is not None and out.ndim == 2:
            return keras_classes.answer(out, classes)
        return {"output": out}

    def n_features(self, model: Any) -> int | None:
        try:
            shape = model.input_shape
        except (AttributeError, ValueError):
            return None
        if isinstance(shape, tuple) and len(shape) == 2 and isinstance(shape[1], int):
            return shape[1]
        return None

    def params(self, model: Any) -> dict[str, Any]:
        """The layer classes and the optimizer: what a run of a network is told apart by."""
        config = model.get_config() if callable(getattr(model, "get_config", None)) else None
        layers = config.get("layers", []) if isinstance(config, dict) else []
        return {
            "layers": [layer.get("class_name") for layer in layers],
            "optimizer": type(getattr(model, "optimizer", None)).__name__,
        }

    def classes(self, model: Any) -> Any:
        """The labels set on the model (`keras_classes` tells how they get there)."""
        import numpy as np

        classes = getattr(model, "classes_", None)
        return None if classes is None else np.asarray(classes)

    def learn_classes(self, model: Any, y: Any) -> None:
        keras_classes.learn(model, y)

    def history(self, model: Any) -> dict[str, list[float]]:
        """The per-epoch logs of the model's last ``fit``: Keras keeps its `History`
        callback on the model as ``model.history``."""
        logs = getattr(getattr(model, "history", None), "history", None)
        if not isinstance(logs, dict):
            return {}
        return {str(k): [float(x) for x in v] for k, v in logs.items() if isinstance(v, list)}

    @contextlib.contextmanager
    def fitting(self, source: str, *, interactive: bool) -> Iterator[None]:
        """Import Keras before a cell that uses it (so TensorFlow's start-up lines stay out
        of the output); outside an interactive notebook, ``fit`` logs one line per epoch."""
        if "keras" not in sys.modules and not ("keras" in source or "tensorflow" in source):
            yield
            return
        try:
            keras = _keras()
        except MissingDependencyError:
            yield  # the cell's own import will say what is missing
            return
        if interactive:
            yield
            return
        original = keras.Model.fit

        def fit(self: Any, *args: Any, **kwargs: Any) -> Any:
            kwargs.setdefault("verbose", 2)
            return original(self, *args, **kwargs)

        keras.Model.fit = fit
        try:
            yield
        finally:
            keras.Model.fit = original


def _refused(found: Audit, trusted: Sequence[str]) -> list[Finding]:
    approved = set(trusted)
    return [f for f in found.findings if f.name is None or f.name not in approved]


def _check_registered(found: Audit, uri: str) -> None:
    """Raise if an approved name is neither Keras's own nor registered in this process."""
    from keras.src.saving import object_registration

    missing = sorted(
        {
            f.name
            for f in found.findings
            if f.name is not None
            and not f.keras_own
            and object_registration.get_registered_object(f.name) is None
        }
    )
    if missing:
        raise ModelLoadError(
            f"Model {uri!r} needs {', '.join(missing)}, approved but not registered in this "
            "process: Keras builds only its own objects and registered custom objects. "
            "Import the module that defines them (decorated with "
            "@keras.saving.register_keras_serializable) before loading; maas_nb never "
            "imports code an artifact names."
        )


def _untrusted_error(subject: str, findings: Sequence[Finding]) -> UntrustedModelError:
    """The refusal: where each object sits, what it names, and how to approve it."""
    listed = "; ".join(f"{f.where} {f.what}" for f in findings)
    names = list(dict.fromkeys(f.name for f in findings if f.name is not None))
    from .keras_audit import quoted

    as_list = ", ".join(map(quoted, names))
    if len(names) < len(findings):
        fix = (
            "Python bytecode, legacy layer entries and objects of unknown shape can never be "
            "approved: replace Lambda layers with a registered custom layer "
            "(@keras.saving.register_keras_serializable) and re-save the model with Keras 3."
        )
        if names:
            fix += f" Approving {as_list} alone would not make this model loadable."
    else:
        fix = (
            "If you trust the artifact's source and the code that defines these objects, "
            f"approve them by exact name: pass trusted_types=[{as_list}] or add them "
            f"(comma-separated) to the {TRUSTED_TYPES_ENV} environment variable."
        )
    return UntrustedModelError(
        f"{subject} contains Keras objects that maas_nb does not trust: {listed}. "
        f"Loading them can run arbitrary code. {fix}"
    )


def _audit(data: bytes) -> Audit:
    # Imported on first use: importing maas_nb (and %load_ext) stays cheap.
    from .keras_audit import audit

    return audit(data)
