"""Keras classifiers: the labels a softmax or sigmoid network answers with.

A Keras network predicts a matrix, not labels. When its last layer is a softmax over k
classes (or a sigmoid over one), and the labels are known, the flavor answers as a
scikit-learn classifier does: ``predictions`` are the labels of the most probable class,
``probabilities`` the matrix (for a sigmoid, the two columns ``1 - p`` and ``p``).

The labels live on the model as ``classes_``, the scikit-learn name: a user may set it
(``net.classes_ = encoder.classes_``), or a training run learns it from the training
``y`` (class indices, or one-hot rows). The flavor keeps them in the ``.keras`` zip as
one JSON entry of its own, which Keras ignores and `labels.from_json` reads back.
"""

from __future__ import annotations

import json
import zipfile
from typing import Any

from ..exceptions import ModelLoadError, SignatureError
from . import labels

#: The zip entry holding the labels; Keras reads only its own entries.
ENTRY = "maas_nb_classes.json"
#: Refused before reading: a label list is small.
MAX_BYTES = 16 * 1024 * 1024


def width(model: Any) -> int | None:
    """k for a softmax over k > 1 classes, 1 for a single sigmoid; None otherwise."""
    try:
        shape = model.output_shape
        last = model.layers[-1]
    except (AttributeError, IndexError, ValueError):
        return None
    if not (isinstance(shape, tuple) and len(shape) == 2 and isinstance(shape[1], int)):
        return None
    activation = getattr(last, "activation", None)
    name = getattr(activation, "__name__", None)
    if name is None and type(last).__name__ == "Softmax":
        name = "softmax"
    if name == "softmax" and shape[1] > 1:
        return shape[1]
    if name == "sigmoid" and shape[1] == 1:
        return 1
    return None


def learn(model: Any, y: Any) -> None:
    """Set ``model.classes_`` from the training *y* when it is unset and *y* tells them."""
    if y is None or getattr(model, "classes_", None) is not None:
        return
    k = width(model)
    if k is None:
        return
    import numpy as np

    try:
        y = np.asarray(y)
    except Exception:  # a dataset or generator: its labels are not known here
        return
    if y.ndim == 2 and y.shape[1] == k and k > 1:
        model.classes_ = np.arange(k)  # one-hot rows: the labels are the column indices
    elif y.ndim == 1 and y.dtype.kind in "biuf" and len(y):
        values = np.unique(y)
        top = 2 if k == 1 else k
        whole = np.array_equal(values, values.astype(np.int64))
        if whole and values.min() >= 0 and values.max() < top:
            model.classes_ = np.arange(top).astype(y.dtype)


def check(model: Any, classes: Any, *, name: str) -> Any:
    """*classes* as an array, if they fit the model's output; raise `SignatureError` else."""
    import numpy as np

    array = np.asarray(classes)
    k = width(model)
    expected = None if k is None else (2 if k == 1 else k)
    if expected is None or array.ndim != 1 or len(array) != expected:
        raise SignatureError(
            f"Model {name!r} has classes_ of shape {array.shape}, but "
            + (
                f"its last layer answers {expected} classes"
                if expected is not None
                else "its last layer is not a softmax over classes or a single sigmoid"
            )
            + ". Set classes_ to one label per class, or delete it for a network that "
            "is not a classifier."
        )
    return array


def answer(out: Any, classes: Any) -> dict[str, Any]:
    """Labels and probabilities for the network's output matrix *out*."""
    import numpy as np

    if out.shape[1] == 1:
        positive = out[:, 0]
        proba = np.stack([1 - positive, positive], axis=1)
    else:
        proba = out
    return {"predictions": classes.take(proba.argmax(axis=1)), "probabilities": proba}


def write(path: str, classes: Any) -> None:
    """Add the labels to the ``.keras`` zip at *path*."""
    with zipfile.ZipFile(path, "a") as archive:
        archive.writestr(ENTRY, json.dumps(labels.to_json(classes)))


def read(data: bytes, *, uri: str) -> Any:
    """The labels kept in the ``.keras`` zip *data*, or None."""
    import io

    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        names = archive.namelist()
        if ENTRY not in names:
            return None
        if names.count(ENTRY) > 1 or archive.getinfo(ENTRY).file_size > MAX_BYTES:
            raise ModelLoadError(
                f"Model {uri!r}: the .keras file holds {names.count(ENTRY)} {ENTRY} entries "
                f"of up to {archive.getinfo(ENTRY).file_size} bytes; maas_nb writes one, "
                f"under {MAX_BYTES} bytes. Re-register the model."
            )
        try:
            stored = json.loads(archive.read(ENTRY))
        except ValueError as exc:
            raise ModelLoadError(
                f"Model {uri!r}: its {ENTRY} is not readable JSON ({exc}). Re-register the model."
            ) from exc
    return labels.from_json(stored, uri=uri)
