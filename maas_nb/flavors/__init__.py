"""Model flavors: how each family of models is saved, loaded and called.

Flavors are a small registry, like papermill's engines: `register(name, flavor)` adds
one, `get(name)` returns it, and `for_model(model)` picks the flavor that owns a model.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from ..exceptions import UnsupportedModelError
from .base import Flavor
from .signature import Signature, TensorSpec, infer_signature

__all__ = [
    "Flavor",
    "Signature",
    "TensorSpec",
    "fitting",
    "for_model",
    "get",
    "infer_signature",
    "names",
    "packages",
    "register",
    "stored",
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
        f"{stored()}. For any other object with a predict() method, pass "
        "allow_pickle=True if you accept that loading it can run arbitrary code."
    )


def packages() -> list[str]:
    """The distributions of every registered flavor's framework, in registration order."""
    return list(dict.fromkeys(p for f in _flavors.values() for p in f.packages))


def stored() -> str:
    """What the registered flavors store, for messages: "A, B and C"."""
    kinds = [f.stores for f in _flavors.values() if f.stores]
    return " and ".join(filter(None, [", ".join(kinds[:-1]), *kinds[-1:]]))


@contextlib.contextmanager
def fitting(source: str, *, interactive: bool) -> Iterator[None]:
    """Every flavor's fit-time hooks around a training cell's *source*."""
    with contextlib.ExitStack() as stack:
        for flavor in _flavors.values():
            stack.enter_context(flavor.fitting(source, interactive=interactive))
        yield


def _register_builtin() -> None:
    from .keras import KerasFlavor
    from .lightgbm import LightGBMFlavor
    from .pickled import PickleFlavor
    from .sklearn import SklearnFlavor

    # Before scikit-learn: LightGBM's estimators are scikit-learn estimators too, and
    # `for_model` takes the first flavor that owns a model.
    register("lightgbm", LightGBMFlavor())
    register("sklearn", SklearnFlavor())
    register("keras", KerasFlavor())
    register("pickle", PickleFlavor())


_register_builtin()
