"""Checks on the values inside a scikit-learn model skops has built.

The audit (`skops_audit`) decides which types an artifact may contain; it cannot see
their values. Some values make a trusted type dangerous: a text vectorizer whose
``input`` is ``"filename"`` or ``"file"`` opens the paths a request sends, and a
sparse matrix whose indices point outside its shape makes scipy's compiled code read
outside its arrays. Trees get their own bounds checks (`tree_bounds`).
"""

from __future__ import annotations

from typing import Any

from ..exceptions import UntrustedModelError
from .object_graph import walk
from .tree_bounds import check_trees


def check_loaded(model: Any, *, uri: str) -> None:
    """Raise `UntrustedModelError` if a value in *model* makes it unsafe to serve."""
    import scipy.sparse as sp

    for obj, _ in walk(model):
        if sp.issparse(obj):
            _check_sparse(obj, uri)
        elif hasattr(obj, "__dict__") and "input" in vars(obj) and _is_estimator(obj):
            _check_input(obj, uri)
    check_trees(model, uri=uri)


def _is_estimator(obj: Any) -> bool:
    from sklearn.base import BaseEstimator

    return isinstance(obj, BaseEstimator)


def _check_input(estimator: Any, uri: str) -> None:
    value = vars(estimator)["input"]
    if value != "content":
        raise UntrustedModelError(
            f"Model {uri!r} contains a {type(estimator).__name__} with input={value!r}: "
            "it would read files named in requests on the server, so maas_nb refuses it. "
            "Set input='content' (the default) and register the model again."
        )


def _check_sparse(matrix: Any, uri: str) -> None:
    try:
        problem = _sparse_problem(matrix)
    except Exception as exc:
        problem = str(exc)
    if problem is not None:
        raise UntrustedModelError(
            f"Model {uri!r} contains a sparse {type(matrix).__name__} of shape "
            f"{matrix.shape} whose structure is invalid ({problem}); using it could read "
            "outside its arrays, so maas_nb refuses it. The artifact is corrupted or "
            "crafted: register the model again."
        )


def _sparse_problem(matrix: Any) -> str | None:
    if hasattr(matrix, "check_format"):  # CSR, CSC, BSR: scipy checks indices and pointers
        matrix.check_format(full_check=True)
        return None
    if matrix.format == "coo":
        coords = getattr(matrix, "coords", None) or (matrix.row, matrix.col)
        for axis, (index, size) in enumerate(zip(coords, matrix.shape, strict=True)):
            outside = len(index) > 0 and (index.min() < 0 or index.max() >= size)
            if len(index) != len(matrix.data) or outside:
                return f"axis {axis} has indices outside 0..{size - 1}"
        return None
    if matrix.format == "dia":
        if matrix.data.ndim != 2 or len(matrix.offsets) != matrix.data.shape[0]:
            return f"{len(matrix.offsets)} offsets for data of shape {matrix.data.shape}"
        return None
    # skops stores only the formats above (scipy.sparse.save_npz); anything else is new.
    return f"the {matrix.format!r} format, which maas_nb does not check"
