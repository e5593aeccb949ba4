"""Walking everything a loaded model holds, with the input width around each object."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import numpy as np


def walk(root: Any) -> Iterator[tuple[Any, tuple[int, ...]]]:
    """Every object reachable from *root*, with the ``n_features_in_`` of each estimator
    enclosing it (outermost first, the object's own included).

    The chain restarts inside a pipeline or a stacking estimator: they hand their inner
    estimators a transformed input through the public, width-checking methods, so an
    inner estimator may be wider than they are. Elsewhere (forests, boosting) the outer
    estimator checks the input once and its parts are trusted with it."""
    restart = _restarting_types()
    seen: set[int] = set()
    stack: list[tuple[Any, tuple[int, ...]]] = [(root, ())]
    while stack:
        obj, widths = stack.pop()
        if id(obj) in seen or isinstance(obj, (str, bytes, int, float, type)):
            continue
        seen.add(id(obj))
        try:
            width = getattr(obj, "n_features_in_", None) if hasattr(obj, "__dict__") else None
        except Exception:  # a property that cannot answer: keep the enclosing widths
            width = None
        if isinstance(width, (int, np.integer)) and not isinstance(width, bool):
            widths = (*widths, int(width))
        yield obj, widths
        if isinstance(obj, dict):
            children: Any = obj.values()
        elif isinstance(obj, (list, tuple, set, frozenset)):
            children = obj
        elif isinstance(obj, np.ndarray):
            # skops builds object arrays only from JSON lists of audited nodes (numpy
            # itself is never called with an object dtype and raw bytes, see skops_audit).
            children = obj.ravel() if obj.dtype == object else ()
        elif hasattr(obj, "__dict__"):
            children = vars(obj).values()
        else:
            children = ()
        inner = () if isinstance(obj, restart) else widths
        stack.extend((child, inner) for child in children)


def _restarting_types() -> tuple[type, ...]:
    from sklearn.ensemble._stacking import _BaseStacking
    from sklearn.pipeline import Pipeline

    return (Pipeline, _BaseStacking)
