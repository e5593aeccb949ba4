"""What a ``.keras`` artifact would make Keras build, checked before Keras sees it.

A ``.keras`` file is a zip whose ``config.json`` names every object Keras will construct
(layers, nested models, initializers, regularizers, constraints, activations, dtype
policies, ...) by ``module``, ``class_name`` and ``registered_name``. Keras resolves
those names in ``keras.src.saving.serialization_lib.deserialize_keras_object``:

1. a name in the process's custom-object registry wins (``registered_name`` for a
   class, the ``config`` string for a function; plain strings anywhere match too);
2. a ``keras``/``keras.*`` module is looked up as the public API name ``module.name``;
3. a function whose module is ``builtins`` is looked up as ``keras.<mod>.name`` for
   Keras's built-in modules (activations, losses, ...);
4. any other module of the Keras family is imported and ``vars(module)[name]`` taken.

The audit walks every dict that has a ``class_name`` and decides by what each name
resolves to, never by the string: an object passes only if the resolved class or
function is one of Keras's own modeling objects, collected from Keras's public API
registry (and, for classes, their Keras-defined subclasses such as ``Functional``).
The audit imports nothing the artifact names; a module Keras has not imported itself
fails closed, and so does every shape it does not know. Custom objects, Keras classes
that run code from their config (``Lambda``, ``TFSMLayer``, ...) and anything else off
the allow-list are findings, approvable only by exact name; Python bytecode
(``__lambda__``), legacy layer entries and unknown shapes are findings nothing approves.
"""

from __future__ import annotations

import io
import json
import re
import sys
import zipfile
from dataclasses import dataclass
from typing import Any

from ..exceptions import ModelLoadError
from .keras_allowlist import AllowList, allow_list

CONFIG = "config.json"
METADATA = "metadata.json"
#: ``config.json`` of a real model is kilobytes; a bigger one is refused before reading.
MAX_CONFIG_BYTES = 64 * 1024 * 1024

#: Keras's serialisation of plain data (tensors, arrays, bytes, slices): no lookup.
DATA_NODES = frozenset(
    {"__keras_tensor__", "__tensor__", "__numpy__", "__bytes__", "__ellipsis__", "__slice__"}
)
#: Keys that add nothing to where an object sits ("Sequential 'inner' > Dense 'out'").
_UNNAMED_KEYS = frozenset({"config", "layers"})
#: Packages whose modules Keras imports when a config names them.
KERAS_FAMILY = frozenset({"keras", "keras_hub", "keras_cv", "keras_nlp"})


@dataclass(frozen=True)
class Finding:
    """One object the artifact names that is not on Keras's allow-list.

    ``name`` is what a user approves (``trusted_types=[name]``); ``None`` when nothing
    can approve it (bytecode, legacy entries, unknown shapes). ``keras_own`` tells that
    Keras resolves the name itself; any other name loads only if this process has
    registered it as a custom object.
    """

    where: str
    what: str
    name: str | None
    keras_own: bool = False


@dataclass(frozen=True)
class Audit:
    findings: tuple[Finding, ...]


def _registered_names() -> frozenset[str]:
    """Names Keras would resolve from this process's custom-object registries."""
    from keras.src.backend.common import global_state
    from keras.src.saving import object_registration

    scoped = global_state.get_global_attribute("custom_objects_scope_dict", {}) or {}
    return frozenset([*object_registration.GLOBAL_CUSTOM_OBJECTS, *scoped])


def read_config(data: bytes) -> Any:
    """The parsed ``config.json``, read from the zip after checking its entries."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
    except (zipfile.BadZipFile, ValueError) as exc:
        raise ModelLoadError(
            f"The artifact is not a .keras zip file ({exc}); maas_nb stores Keras models "
            "in the native .keras format: re-register the model."
        ) from exc
    with archive:
        names = [info.filename for info in archive.infolist()]
        for member in (CONFIG, METADATA):
            if names.count(member) > 1:
                raise ModelLoadError(
                    f"The .keras file holds {names.count(member)} entries named {member!r}; "
                    "a file Keras wrote holds one. Re-save the model with keras.saving."
                )
        if CONFIG not in names:
            raise ModelLoadError(
                f"The .keras file has no {CONFIG} (entries: {', '.join(map(_shown, names[:10]))}); "
                "re-save the model with keras.saving."
            )
        size = archive.getinfo(CONFIG).file_size
        if size > MAX_CONFIG_BYTES:
            raise ModelLoadError(
                f"The .keras file's {CONFIG} declares {size} bytes, more than the "
                f"{MAX_CONFIG_BYTES} maas_nb reads; re-save the model with keras.saving."
            )
        try:
            # The same json.loads Keras uses, so duplicate keys resolve the same way.
            config = json.loads(archive.read(CONFIG))
            if METADATA in names:
                json.loads(archive.read(METADATA))
        except (ValueError, RecursionError, zipfile.BadZipFile) as exc:
            raise ModelLoadError(
                f"The .keras file's {CONFIG} or {METADATA} is not readable JSON: {exc}"
            ) from exc
    return config


def audit(data: bytes) -> Audit:
    """Read the artifact's config and list every object not on Keras's allow-list."""
    config = read_config(data)
    walker = _Walker(allow_list(), _registered_names())
    if not (isinstance(config, dict) and "class_name" in config):
        walker._refuse(
            (), f"is not a Keras object ({CONFIG} holds a {type(config).__name__})", None
        )
        return Audit(tuple(walker.findings))
    # maas_nb loads with compile=False, and Keras then drops the top-level compile
    # config unread; a nested model's compile config is still built, so it is audited.
    config = {**config, "compile_config": None}
    try:
        walker.visit(config, ())
    except RecursionError as exc:
        raise ModelLoadError(f"The .keras file's {CONFIG} is nested too deeply") from exc
    unique = tuple(dict.fromkeys(walker.findings))
    return Audit(unique)


class _Walker:
    def __init__(self, allowed: AllowList, registered: frozenset[str]) -> None:
        self.allowed = allowed
        self.registered = registered
        self.findings: list[Finding] = []

    def _refuse(
        self, path: tuple[str, ...], what: str, name: str | None, *, keras_own: bool = False
    ) -> None:
        where = " > ".join(path) or "the model"
        self.findings.append(Finding(where, what, name, keras_own))

    def visit(self, node: Any, path: tuple[str, ...]) -> None:
        if isinstance(node, list):
            for item in node:
                self.visit(item, path)
        elif isinstance(node, str):
            if node in self.registered:
                self._refuse(path, f"names the registered custom object {quoted(node)}", node)
        elif isinstance(node, dict):
            if "class_name" in node:
                self._object(node, path)
            else:
                for key, value in node.items():
                    self.visit(value, path if key in _UNNAMED_KEYS else (*path, _shown(str(key))))

    def _object(self, node: dict[str, Any], path: tuple[str, ...]) -> None:
        class_name = node["class_name"]
        module = node.get("module")
        inner = node.get("config")
        if not isinstance(class_name, str) or not isinstance(module, (str, type(None))):
            self._refuse(path, f"is an object of unknown shape ({_shape(node)})", None)
            return
        if isinstance(inner, dict) and isinstance(inner.get("name"), str):
            path = (*path, f"{_shown(class_name)} {quoted(inner['name'])}")
        if class_name == "__lambda__":
            self._refuse(
                path,
                "is Python bytecode (a lambda), which maas_nb never loads (Keras safe mode)",
                None,
            )
            return
        if class_name == "function":
            self._function(node, module, path)
            return
        if class_name.startswith("__") and class_name not in DATA_NODES:
            what = f"is a {_shown(class_name)} object, which maas_nb does not load"
            self._refuse(path, what, None)
            return
        if class_name not in DATA_NODES:
            self._class(node, class_name, module, path)
        for key, value in node.items():
            if key not in ("class_name", "module", "registered_name"):
                self.visit(value, path if key in _UNNAMED_KEYS else (*path, _shown(str(key))))

    def _function(self, node: dict[str, Any], module: str | None, path: tuple[str, ...]) -> None:
        fn_name = node.get("config")
        registered = node.get("registered_name")
        if not isinstance(fn_name, str) or not isinstance(registered, (str, type(None))):
            self._refuse(path, f"is a function of unknown shape ({_shape(node)})", None)
            return
        # Keras looks a function up by its config string, and a getter (activations.get,
        # ...) by registered_name outside builtins; Keras writes "function" there for
        # its own functions, which no lookup uses.
        names = [fn_name]
        if registered is not None and registered not in (fn_name, "function"):
            names.append(registered)
        for name in names:
            if name in self.registered or ">" in name or module is None:
                self._refuse(path, f"names the custom function {quoted(name)}", name)
            elif module == "builtins":
                self._builtin_function(name, path)
            else:
                qualified = f"{module}.{name}"
                obj = _public_symbol(qualified) if _in_keras(module) else None
                if obj is None or obj not in self.allowed.functions:
                    what = f"names the function {_shown(qualified)}, {_not_keras(obj)}"
                    self._refuse(path, what, qualified, keras_own=obj is not None)

    def _builtin_function(self, name: str, path: tuple[str, ...]) -> None:
        from keras.src.saving.serialization_lib import BUILTIN_MODULES

        found = [_public_symbol(f"keras.{mod}.{name}") for mod in BUILTIN_MODULES]
        found = [obj for obj in found if obj is not None]
        if found and all(obj in self.allowed.functions for obj in found):
            return
        # Keras's fallback for files saved by Keras <= 3.6: a bare name matches any
        # registered "package>name".
        legacy = sorted(key for key in self.registered if key.endswith(f">{name}"))
        for key in legacy if not found else []:
            what = f"names the custom function {quoted(key)} (as {quoted(name)})"
            self._refuse(path, what, key)
        if found or not legacy:
            reason = _not_keras(found[0] if found else None)
            what = f"names the function {_shown('builtins.' + name)}, {reason}"
            self._refuse(path, what, f"builtins.{name}", keras_own=bool(found))

    def _class(
        self, node: dict[str, Any], class_name: str, module: str | None, path: tuple[str, ...]
    ) -> None:
        registered = node.get("registered_name", class_name)
        inner = node.get("config")
        if not isinstance(registered, (str, type(None))) or not isinstance(
            inner, (dict, type(None))
        ):
            self._refuse(path, f"is an object of unknown shape ({_shape(node)})", None)
            return
        if "module" not in node:
            self._refuse(
                path,
                f"is a {_shown(class_name)} without a 'module' (the legacy H5 layer format), which "
                "maas_nb does not load from a .keras file; re-save the model with Keras 3",
                None,
            )
            return
        if registered is not None and (
            registered in self.registered or ">" in registered or registered != class_name
        ):
            self._refuse(path, f"names the custom object {quoted(registered)}", registered)
            return
        if module is None or class_name in self.registered:
            self._refuse(path, f"names the custom object {quoted(class_name)}", class_name)
            return
        qualified = f"{module}.{class_name}"
        obj = _resolve_class(module, class_name)
        if obj in self.allowed.gated:
            gate = self.allowed.gated[obj]
            what = f"is a {gate} layer, which runs code from its config"
            self._refuse(path, what, gate, keras_own=True)
        elif obj is None or obj not in self.allowed.classes:
            what = f"names the class {_shown(qualified)}, {_not_keras(obj)}"
            self._refuse(path, what, qualified, keras_own=obj is not None)


def _in_keras(module: str) -> bool:
    return module == "keras" or module.startswith("keras.")


def _public_symbol(api_name: str) -> Any:
    from keras.src import api_export

    return api_export.get_symbol_from_name(api_name)


def _resolve_class(module: str, class_name: str) -> Any:
    """What Keras would build for ``module.class_name``, without importing anything."""
    if _in_keras(module):
        obj = _public_symbol(f"{module}.{class_name}")
        if obj is not None:
            return obj
    if module.partition(".")[0] not in KERAS_FAMILY:
        return None
    loaded = sys.modules.get(module)
    obj = vars(loaded).get(class_name) if loaded is not None else None
    # Only a class defined right there: a re-export would be resolved by a name it
    # does not carry.
    if isinstance(obj, type) and obj.__module__ == module and obj.__qualname__ == class_name:
        return obj
    return None


def _not_keras(obj: Any) -> str:
    if obj is None:
        return "which is not a modeling object Keras defines"
    return "which is not one of the Keras modeling objects maas_nb loads without approval"


def _shape(node: dict[str, Any]) -> str:
    fields = ", ".join(f"{_shown(str(k))}: {type(v).__name__}" for k, v in list(node.items())[:6])
    return "{" + fields + "}"


#: Names printed as they are; anything else is quoted and cut, so an artifact cannot
#: write newlines or megabytes into logs and HTTP errors through a refusal message.
_PLAIN_NAME = re.compile(r"[\w.>-]{1,200}")


def _shown(text: str) -> str:
    return text if _PLAIN_NAME.fullmatch(text) else quoted(text)


def quoted(text: str) -> str:
    return repr(text) if len(text) <= 200 else repr(text[:200]) + "..."
