"""A new version's signature: inferred from a sample of its inputs, or from its width."""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from ..exceptions import SignatureError
from ..flavors.base import Flavor, check_sample_width
from ..flavors.signature import Signature, infer_signature, sample_kind


def infer(flavor: Flavor, model: Any, sample: Any, name: str) -> Signature | None:
    """Infer the signature from *sample*, or from the model's feature count without one."""
    if sample is None:
        return from_width(flavor, model)
    sample_kind(sample)
    check_sample_width(flavor, model, sample, name=name)
    try:
        with _one_thread():
            outputs = flavor.predict(model, sample)
    except Exception as exc:
        raise SignatureError(
            f"Model {name!r} failed to predict on the sample, so its signature cannot be "
            f"inferred: {type(exc).__name__}: {exc}. Pass a few rows of the training data "
            "as sample=."
        ) from exc
    return infer_signature(sample, outputs)


def from_width(flavor: Flavor, model: Any) -> Signature | None:
    n = flavor.n_features(model)
    if n is None:
        return None
    import numpy as np

    sample: Any = np.zeros((1, n))
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        sample = pd.DataFrame(sample, columns=[str(c) for c in names])
    try:
        with _one_thread():
            return infer_signature(sample, flavor.predict(model, sample))
    except Exception:
        return None  # a signature is a convenience here; registering must not fail for it


_controller: Any = None
_controller_lock = threading.Lock()


@contextlib.contextmanager
def _one_thread() -> Iterator[None]:
    """Native thread pools (OpenMP, BLAS) held to one thread while the probe predicts.

    A probe is a row or a few: threads gain nothing there, and on a busy machine a team
    of them waiting for a descheduled member costs tens of milliseconds (a k-neighbours
    model over 80,000 rows: 90 ms with two threads, 3-7 ms with one).
    """
    global _controller
    try:
        from threadpoolctl import ThreadpoolController  # scikit-learn's own dependency
    except ImportError:
        yield
        return
    # One probe at a time: a limit restores the counts it found when it ends, so two
    # overlapping ones could restore each other's one thread for good.
    with _controller_lock:
        if _controller is None:
            _controller = ThreadpoolController()  # ~6 ms of library lookups: once
        with _controller.limit(limits=1):
            yield
