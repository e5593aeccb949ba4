"""Getting warm before traffic: the model libraries imported once at a server's start,
and each new version called on made-up rows of its signature before it serves."""

from __future__ import annotations

import contextlib
import gc
import logging
from typing import Any

import numpy as np

from ..flavors.signature import DATAFRAME, TEXT, Signature
from .rows import Rows

log = logging.getLogger("maas_nb.serving")


def preload() -> None:
    """Import the model libraries once, at startup, so a first deploy only loads the model."""
    import importlib

    for module in (
        "skops.io",
        "sklearn.ensemble",
        "sklearn.linear_model",
        "sklearn.pipeline",
        "sklearn.feature_extraction.text",
        "pandas",
    ):
        with contextlib.suppress(ImportError):
            importlib.import_module(module)
    gc.freeze()


def warm(predict: Any, signature: Signature, uri: str) -> None:
    # Warming is only a speed-up: a model may rightly refuse made-up rows (an encoder
    # meeting an unknown category), and that must not stop it being served.
    try:
        predict(warm_rows(signature))
    except Exception as exc:
        log.info("%s: warm-up on made-up rows failed (%s); serving it cold", uri, exc)


def warm_rows(signature: Signature) -> Rows:
    """A few rows of zeros (or short strings) of the signature's shape, to warm a model."""
    n = 2
    if signature.kind == TEXT:
        data = np.empty(n, dtype=object)
        data[:] = ["warm up", "warm up"]
        return Rows(TEXT, data, n)
    if signature.kind == DATAFRAME:
        columns = {
            s.name: (
                np.array(["warm"] * n, dtype=object)
                if s.dtype == "str"
                else np.zeros(n, dtype=s.dtype)
            )
            for s in signature.inputs
        }
        return Rows(DATAFRAME, columns, n)
    spec = signature.inputs[0]
    return Rows("tensor", np.zeros((n, signature.n_features), dtype=spec.dtype), n)
