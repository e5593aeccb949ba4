"""Keras's own modeling objects: what a ``.keras`` config may name without approval.

Built at run time from Keras's public API registry (``keras.src.api_export``), the same
table Keras resolves ``module.class_name`` against: the classes of the modeling
namespaces (layers, initializers, losses, ...) with the subclasses Keras itself defines
(``Functional`` derives from ``keras.Model``), and the functions of the activation,
loss, metric and ops namespaces. Keras layers that run code or load files named by
their config are kept apart, approvable by their public name.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from typing import Any

#: Public API namespaces whose classes may be built from a config without approval.
CLASS_NAMESPACES = frozenset(
    {
        "",
        "constraints",
        "dtype_policies",
        "initializers",
        "layers",
        "losses",
        "metrics",
        "models",
        "optimizers",
        "quantizers",
        "random",
        "regularizers",
    }
)
#: Public API namespaces whose functions may be named from a config without approval.
FUNCTION_NAMESPACES = frozenset({"activations", "losses", "metrics", "ops"})
#: Helpers in those namespaces that deserialise or look things up rather than compute.
NOT_MODELING_FUNCTIONS = frozenset({"deserialize", "get", "serialize"})
#: Keras's own layers that run code (or load files) named by their config.
CODE_LAYERS = (
    "keras.layers.FlaxLayer",
    "keras.layers.JaxLayer",
    "keras.layers.Lambda",
    "keras.layers.TFSMLayer",
    "keras.layers.TorchModuleWrapper",
)


@dataclass(frozen=True)
class AllowList:
    """Keras's own modeling objects, collected from Keras's API registry at run time."""

    classes: frozenset[type]
    functions: frozenset[Any]
    gated: dict[type, str]


@cache
def allow_list() -> AllowList:
    """Build the allow-list from the objects Keras itself exports (imports keras)."""
    from keras.src import api_export
    from keras.src.saving import serialization_lib

    exported: dict[str, Any] = dict(api_export.REGISTERED_NAMES_TO_OBJS)
    classes: set[type] = set()
    functions: set[Any] = set()
    for api_name, obj in exported.items():
        if api_name in serialization_lib.NON_MODELING_APIS or not _defined_by_keras(obj):
            continue
        parts = api_name.split(".")
        namespace = parts[1] if len(parts) > 2 else ""
        if isinstance(obj, type):
            if namespace in CLASS_NAMESPACES and hasattr(obj, "from_config"):
                classes.update(_keras_subclasses(obj))
        elif namespace in FUNCTION_NAMESPACES and parts[-1] not in NOT_MODELING_FUNCTIONS:
            functions.add(obj)
    layers = {api_name: exported.get(api_name) for api_name in CODE_LAYERS}
    # Each code layer under its own public name; a Keras subclass under its parent's.
    gated: dict[type, str] = {obj: name for name, obj in layers.items() if isinstance(obj, type)}
    for api_name, layer in layers.items():
        if isinstance(layer, type):
            for cls in _keras_subclasses(layer):
                gated.setdefault(cls, api_name)
    return AllowList(frozenset(classes - set(gated)), frozenset(functions), gated)


def _defined_by_keras(obj: Any) -> bool:
    return str(getattr(obj, "__module__", "") or "").startswith("keras.")


def _keras_subclasses(cls: type) -> Iterator[type]:
    seen: set[type] = set()
    stack = [cls]
    while stack:
        current = stack.pop()
        if current in seen or not _defined_by_keras(current):
            continue
        seen.add(current)
        yield current
        stack.extend(current.__subclasses__())
