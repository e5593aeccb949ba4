"""Model flavors: how each family of models is saved, loaded and called.

Flavors are a small registry, like papermill's engines: `register(name, flavor)` adds
one, `get(name)` returns it, and `for_model(model)` picks the flavor that owns a model.
"""

from __future__ import annotations

from typing import Any

from ..exceptions import UnsupportedModelError
from .base import Flavor
from .signature import Signature, TensorSpec, infer_signature

__all__ = [
    "Flavor",
    "Signature",
    "TensorSpec",
    "for_model",
    "get",
    "infer_signature",
    "names",
    "register",
]

_flavors: dict[str, Flavor] = {}


def register(name: str, flavor: Flavor) -> None:
    """Add (or replace) the flavor called *name*."""
    _flavors[name] = flavor


def get(name: str) -> Flavor:
    """Return the flavor called *name*."""
    try:
        return _flavors[name]
    except KeyError:
        known = ", ".join(sorted(_flavors))
        raise UnsupportedModelError(
            f"Unknown flavor {name!r}; known flavors: {known}. A newer maas_nb or a plugin "
            "may be needed to load this model."
        ) from None


def names() -> list[str]:
    return sorted(_flavors)


def for_model(model: Any, *, allow_pickle: bool = False) -> Flavor:
    """Return the flavor that stores *model*; with *allow_pickle*, the pickle flavor."""
    if allow_pickle:
        return get("pickle")
    for flavor in _flavors.values():
        if flavor.owns(model):
            return flavor
    cls = type(model)
    raise UnsupportedModelError(
        f"No flavor can store a {cls.__module__}.{cls.__qualname__}: maas_nb stores "
        "scikit-learn estimators and pipelines (with skops) and Keras models (.keras). "
        "For any other object with a predict() method, pass allow_pickle=True if you "
        "accept that loading it can run arbitrary code."
    )


def _register_builtin() -> None:
    from .keras import KerasFlavor
    from .pickled import PickleFlavor
    from .sklearn import SklearnFlavor

    register("sklearn", SklearnFlavor())
    register("keras", KerasFlavor())
    register("pickle", PickleFlavor())


_register_builtin()
