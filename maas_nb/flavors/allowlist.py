"""What a scikit-learn artifact may name without anyone's approval, built from real imports.

Each entry is keyed by the object's own canonical name, ``obj.__module__ + "." +
obj.__qualname__``, and kept only if looking that name up the way skops does
(``getattr(import_module(module), name)``) gives back the very same object. So a name
is trusted because of what it *is*, never because of the module path it sits under:
``sklearn.utils._testing.check_output`` (which is ``subprocess.check_output``) has the
canonical name ``subprocess.check_output``, which is not here, and nothing re-exported
by scikit-learn, numpy or scipy can be reached through a trusted name.

The list holds:

* the estimators and transformers scikit-learn itself defines (``all_estimators()``)
  and the internal classes its fitted models are made of (trees, losses and links,
  histogram-GBM predictors and bin mappers, distance metrics, optimizers);
* numpy and scipy data types (arrays, dtypes, scalars, random states, sparse matrices)
  and the builtin containers skops stores;
* a short list of functions named one by one, safe to call on data (numpy ufuncs for a
  ``FunctionTransformer``, and ``check_array`` that histogram GBMs keep in a partial).

There is no wildcard and nothing here is ever read from an artifact.
"""

from __future__ import annotations

import collections
import functools
import sys
import threading
from collections.abc import Iterable, Mapping
from typing import Any

#: numpy ufuncs a FunctionTransformer may use: elementwise arithmetic, nothing more.
NUMPY_FUNCTIONS = (
    "abs",
    "absolute",
    "arcsinh",
    "cbrt",
    "ceil",
    "cos",
    "exp",
    "exp2",
    "expm1",
    "fabs",
    "floor",
    "log",
    "log10",
    "log1p",
    "log2",
    "negative",
    "reciprocal",
    "rint",
    "sign",
    "sin",
    "sqrt",
    "square",
    "tanh",
    "trunc",
)

#: Classes defined inside scikit-learn that fitted models contain but that
#: ``all_estimators()`` does not list: (module, names), or (module, None) for every
#: class that module defines.
SKLEARN_INTERNALS: tuple[tuple[str, tuple[str, ...] | None], ...] = (
    ("sklearn.tree._tree", ("Tree",)),
    ("sklearn.ensemble._hist_gradient_boosting.predictor", ("TreePredictor",)),
    ("sklearn.ensemble._hist_gradient_boosting.binning", ("_BinMapper",)),
    ("sklearn._loss.link", None),
    ("sklearn._loss.loss", None),
    ("sklearn._loss._loss", None),
    (
        "sklearn.linear_model._sgd_fast",
        (
            "Hinge",
            "ModifiedHuber",
            "SquaredHinge",
            "EpsilonInsensitive",
            "SquaredEpsilonInsensitive",
        ),
    ),
    ("sklearn.metrics._dist_metrics", None),
    ("sklearn.neighbors._kd_tree", ("KDTree",)),
    ("sklearn.neighbors._ball_tree", ("BallTree",)),
    ("sklearn.neural_network._stochastic_optimizers", ("AdamOptimizer", "SGDOptimizer")),
    ("sklearn.utils._bunch", ("Bunch",)),
    ("sklearn.calibration", ("_CalibratedClassifier",)),
    ("sklearn.multiclass", ("_ConstantPredictor",)),
)

#: Distance metrics that call a Python function stored with them are left out.
_EXCLUDED_METRICS = ("PyFuncDistance32", "PyFuncDistance64")

#: The libraries whose own objects may be allow-listed.
TRUSTED_ROOTS = ("sklearn", "numpy", "scipy", "builtins", "collections", "functools")


def canonical_name(obj: Any) -> str | None:
    """``obj.__module__ + "." + obj.__qualname__``, or None if *obj* lacks either."""
    module = getattr(obj, "__module__", None)
    qualname = getattr(obj, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str):
        return None
    return f"{module}.{qualname}"


def lookup(module: str, name: str) -> Any:
    """``getattr(sys.modules[module], name)`` without importing or running any code."""
    found = sys.modules.get(module)
    if found is None:
        return None
    return vars(found).get(name)


_building = threading.Lock()


def builtin_allowlist() -> Mapping[str, Any]:
    """The allow-list: canonical name -> the object that name resolves to."""
    # The server loads several models at once on worker threads; building the list walks
    # and imports scikit-learn's modules, and concurrent first imports of a module that
    # fails to import (an optional backend) race inside importlib (a KeyError).
    with _building:
        return _build()


@functools.cache
def _build() -> Mapping[str, Any]:
    entries: dict[str, Any] = {}
    for obj in _candidates():
        name = canonical_name(obj)
        if name is None or name.partition(".")[0] not in TRUSTED_ROOTS:
            continue
        module, _, attr = name.rpartition(".")
        # Drop anything skops would resolve to another object than the one we vetted.
        if lookup(module, attr) is obj:
            entries[name] = obj
    return entries


@functools.cache
def bit_generators() -> frozenset[str]:
    """``numpy.random.<Name>`` of each real bit generator (skops stores them so)."""
    import numpy as np

    return frozenset(
        f"numpy.random.{name}"
        for name, obj in vars(np.random).items()
        if isinstance(obj, type)
        and issubclass(obj, np.random.BitGenerator)
        and obj is not np.random.BitGenerator
    )


def _candidates() -> Iterable[Any]:
    yield from (dict, list, tuple, set, str, int, float, bool, complex, bytes, bytearray)
    yield from (slice, collections.OrderedDict, collections.defaultdict, functools.partial)
    yield from _numpy_and_scipy()
    yield from _sklearn()


def _numpy_and_scipy() -> Iterable[Any]:
    import numpy as np
    import scipy.sparse

    yield from (np.ndarray, np.dtype, np.ma.MaskedArray, np.random.RandomState)
    yield np.random.Generator
    yield from (t for t in np.sctypeDict.values() if t.__module__ == "numpy")
    yield from (getattr(np, name) for name in NUMPY_FUNCTIONS if hasattr(np, name))
    sparse_bases = (scipy.sparse.spmatrix, scipy.sparse.sparray)
    for obj in vars(scipy.sparse).values():
        if isinstance(obj, type) and issubclass(obj, sparse_bases):
            yield obj


def _sklearn() -> Iterable[Any]:
    import importlib

    from sklearn.utils import all_estimators
    from sklearn.utils.validation import check_array

    yield check_array
    for _, cls in all_estimators():
        if cls.__module__.startswith("sklearn."):
            yield cls
    for module_name, names in SKLEARN_INTERNALS:
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue  # an older or newer scikit-learn without it
        for name, obj in vars(module).items():
            wanted = name in names if names is not None else not name.startswith("__")
            own = isinstance(obj, type) and obj.__module__ == module_name
            if own and wanted and name not in _EXCLUDED_METRICS:
                yield obj
