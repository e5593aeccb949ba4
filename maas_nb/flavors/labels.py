"""A classifier's labels as JSON, kept next to a model by flavors whose format lacks them.

Only JSON scalars and a numpy dtype of a plain kind (bool, integer, float, string) are
written or read, so reading labels back builds nothing but an array of those values.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import ModelLoadError, UntrustedModelError

_KINDS = frozenset("biufUO")


def to_json(classes: Any) -> dict[str, Any]:
    """``{"dtype": ..., "values": [...]}`` for a 1-D array of labels."""
    import numpy as np

    array = np.asarray(classes)
    if array.ndim != 1 or array.dtype.kind not in _KINDS:
        raise ValueError(
            f"Class labels must be a 1-D array of numbers or strings, got shape "
            f"{array.shape} of dtype {array.dtype}."
        )
    values = array.tolist()
    if not all(isinstance(v, (bool, int, float, str)) for v in values):
        kinds = sorted({type(v).__name__ for v in values})
        raise ValueError(f"Class labels must be numbers or strings, got {', '.join(kinds)}.")
    return {"dtype": array.dtype.str, "values": values}


def from_json(stored: Any, *, uri: str) -> Any:
    """The labels *stored* by `to_json`; refuses anything else."""
    import numpy as np

    problem = _problem(stored)
    if problem is None:
        try:
            dtype = np.dtype(stored["dtype"])
        except TypeError:
            dtype = None
        if dtype is None or dtype.kind not in _KINDS or dtype.fields is not None:
            problem = f"dtype {stored['dtype']!r}"
    if problem is not None:
        raise UntrustedModelError(
            f"Model {uri!r} has class labels maas_nb cannot read ({problem}); labels are a "
            "list of numbers or strings with a plain numpy dtype. Re-register the model."
        )
    try:
        return np.array(stored["values"], dtype=dtype)
    except (TypeError, ValueError, OverflowError) as exc:
        raise ModelLoadError(
            f"Model {uri!r}: its class labels do not fit their dtype {dtype}: {exc}. "
            "Re-register the model."
        ) from exc


def _problem(stored: Any) -> str | None:
    if not isinstance(stored, dict) or set(stored) != {"dtype", "values"}:
        keys = sorted(stored) if isinstance(stored, dict) else type(stored).__name__
        return f"expected keys dtype and values, got {keys}"
    if not isinstance(stored["dtype"], str) or not isinstance(stored["values"], list):
        return "dtype must be a string and values a list"
    if not all(isinstance(v, (bool, int, float, str)) for v in stored["values"]):
        return "values must be numbers or strings"
    return None
