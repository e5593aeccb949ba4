"""The audit a skops artifact passes before anything in it is imported or built.

skops checks only the *string* ``module.name`` a node was stored under against its
trusted list, then builds ``getattr(import_module(module), name)`` without looking at
what it got; a trusted-looking path can therefore hand back anything a library
re-exports (``sklearn.utils._testing.check_output`` is ``subprocess.check_output``).
So maas_nb reads ``schema.json`` itself, walks every node, and accepts a name only if

* it is on the built-in allow-list (`allowlist`), whose entries are canonical names of
  objects imported for real, so the stored string and what it resolves to agree; or
* a person approved that exact name, and importing it (only then, once every other
  name has passed) gives an object whose own ``__module__`` and ``__qualname__`` are
  the stored string. A re-export is refused even when approved, saying what it is.

Node types (``__loader__``) this module does not know, nodes written in an older skops
protocol whose format differs, and unreadable files fail closed. Only then does skops
load the artifact, trusting exactly the names audited here.

Approvals come from the person who registers or loads a model (``trusted_types=[...]``,
``$MAAS_TRUSTED_TYPES``), one exact name at a time; the registry records them with the
version (who, when, how) and honours them at every later load, because the registry,
not the artifact, holds that record and it was written from an explicit opt-in at
register. Nothing in an artifact is ever read as an approval: an artifact can never
approve itself.
"""

from __future__ import annotations

import importlib
import io
import json
import zipfile
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Any

from ..config import TRUSTED_TYPES_ENV
from ..exceptions import ModelLoadError, UntrustedModelError
from .allowlist import bit_generators, builtin_allowlist, canonical_name, lookup

#: Node types whose stored ``__module__``/``__class__`` name what skops resolves.
NAMED_NODES = frozenset(
    {
        "BytearrayNode",
        "BytesNode",
        "ConstructorFromReduceNode",
        "DTypeNode",
        "DefaultDictNode",
        "DictNode",
        "FunctionNode",
        "JsonNode",
        "ListNode",
        "LossNode",
        "MaskedArrayNode",
        "MethodNode",
        "NdArrayNode",
        "ObjectNode",
        "OperatorFuncNode",
        "PartialNode",
        "RandomGeneratorNode",
        "RandomStateNode",
        "SetNode",
        "SliceNode",
        "SparseMatrixNode",
        "TreeNode",
        "TupleNode",
        "TypeNode",
    }
)
#: Node types skops builds by calling the class they name (``cls.__new__(cls)`` or
#: ``cls(*args)`` with artifact-chosen args): they may name only ordinary classes.
CONSTRUCTOR_NODES = frozenset({"ConstructorFromReduceNode", "LossNode", "ObjectNode", "TreeNode"})
#: A reference to a node met earlier in the file: it names nothing itself.
CACHED_NODE = "CachedNode"


@dataclass(frozen=True)
class Ref:
    """One name a node makes skops resolve: ``module`` and ``attr`` as stored."""

    module: str
    attr: str
    method: str | None = None  # a MethodNode's method, looked up on the object
    constructor: bool = False  # named by a node in CONSTRUCTOR_NODES
    bit_generator: bool = False  # a numpy Generator's bit generator, stored by name

    @property
    def name(self) -> str:
        base = f"{self.module}.{self.attr}"
        return f"{base}.{self.method}" if self.method else base

    def builtin(self) -> bool:
        if self.method is not None:
            return False  # bound methods are never trusted without a person's approval
        if self.bit_generator:
            # skops resolves it as ``getattr(numpy.random, name)`` and calls only a real
            # BitGenerator subclass; accept exactly the ones numpy exposes there.
            return self.name in bit_generators()
        return "." not in self.attr and self.name in builtin_allowlist()


def read_schema(data: bytes) -> dict[str, Any]:
    """The parsed ``schema.json`` of a skops file, or `ModelLoadError` if unreadable."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            schema = json.loads(archive.read("schema.json"))
    except (zipfile.BadZipFile, KeyError, ValueError, OSError, RecursionError) as exc:
        raise ModelLoadError(
            f"The artifact is not a readable skops file ({type(exc).__name__}: {exc}); "
            "maas_nb loads scikit-learn models only from skops files, never with pickle "
            "or joblib. Register the model again with maas_nb."
        ) from exc
    if not isinstance(schema, dict):
        raise ModelLoadError("The artifact's schema.json is not a JSON object.")
    return schema


def refs(schema: dict[str, Any], *, uri: str) -> list[Ref]:
    """Every name the nodes of *schema* make skops resolve, in file order."""
    protocol = _protocol(schema, uri)
    found: list[Ref] = []
    for node in _nodes(schema):
        loader = node["__loader__"]
        if loader == CACHED_NODE:
            continue
        if loader not in NAMED_NODES or _old_format(loader, protocol):
            raise UntrustedModelError(
                f"Model {uri!r} uses the skops node type {loader!r} (protocol {protocol}), "
                "which maas_nb does not audit, so it refuses to load it. Register the "
                "model again with this maas_nb and skops."
            )
        module, attr = node.get("__module__"), node.get("__class__")
        if not isinstance(module, str) or not isinstance(attr, str) or not module or not attr:
            raise UntrustedModelError(
                f"Model {uri!r} has a {loader} node without a proper module and class name "
                f"(got {module!r} and {attr!r}); the file is corrupted or crafted."
            )
        found.append(Ref(module, attr, constructor=loader in CONSTRUCTOR_NODES))
        if loader == "MethodNode":
            found.append(Ref(module, attr, _method(node, uri)))
        elif loader == "RandomGeneratorNode":
            found.append(Ref("numpy.random", _bit_generator(node, uri), bit_generator=True))
    return found


def required_types(data: bytes, *, uri: str = "the artifact") -> list[str]:
    """The names *data* uses beyond the built-in allow-list, sorted."""
    return sorted({r.name for r in refs(read_schema(data), uri=uri) if not r.builtin()})


@dataclass(frozen=True)
class Audited:
    """What an audit passed: every name (for skops's ``trusted``) and those that needed a
    person's approval (beyond the built-in allow-list), each sorted."""

    names: list[str]
    needs: list[str]


def audit(schema: dict[str, Any], *, uri: str, approved: Collection[str]) -> Audited:
    """Check every name a skops *schema* uses against the allow-list and *approved*."""
    found = refs(schema, uri=uri)
    approved = set(approved)
    # Keyed by the stored parts, not the joined name: "a.B" + "c" and "a" + "B.c" differ.
    outside = sorted({r for r in found if not r.builtin()}, key=lambda r: r.name)
    refused = [r for r in outside if r.name not in approved]
    if refused:
        raise _untrusted(uri, refused)
    # Every name has now passed: importing what a person approved is allowed.
    impostors = [r for r in outside if _resolved_name(r, uri) != r.name]
    if impostors:
        raise _untrusted(uri, impostors)
    for ref in sorted({r for r in found if r.constructor}, key=lambda r: r.name):
        _check_constructor(ref, uri)
    return Audited(sorted({r.name for r in found}), sorted({r.name for r in outside}))


def _check_constructor(ref: Ref, uri: str) -> None:
    """A constructor node builds an ordinary class: never a function (its args would be
    the artifact's) and never an array type, which numpy or scipy would build from raw
    artifact bytes (an object-dtype ndarray made that way holds forged pointers). Arrays
    come only from their own node types, which load them without pickle and check them."""
    import functools

    import numpy as np
    import scipy.sparse as sp

    obj = _resolve(ref, uri)
    if not isinstance(obj, type):
        what = "function" if callable(obj) else type(obj).__name__
        reason = f"is a {what}, not a class"
    elif issubclass(obj, (np.ndarray, sp.spmatrix, sp.sparray, functools.partial)):
        reason = "is an array or partial type, which skops stores with its own node type"
    else:
        return
    raise UntrustedModelError(
        f"Model {uri!r} makes skops construct {ref.name} from stored arguments, but "
        f"{ref.name} {reason}; the file is corrupted or crafted, so maas_nb refuses it. "
        "Register the model again with maas_nb."
    )


def _protocol(schema: dict[str, Any], uri: str) -> int:
    from skops.io._protocol import PROTOCOL

    protocol = schema.get("protocol")
    if isinstance(protocol, bool) or not isinstance(protocol, int) or not 0 <= protocol <= PROTOCOL:
        raise UntrustedModelError(
            f"Model {uri!r} declares skops protocol {protocol!r}; this skops reads "
            f"protocols 0 to {PROTOCOL}. Register the model again with this maas_nb."
        )
    return protocol


def _old_format(loader: str, protocol: int) -> bool:
    """Whether skops would read *loader* with an older implementation than ours audits."""
    from skops.io._audit import NODE_TYPE_MAPPING
    from skops.io._protocol import PROTOCOL

    return protocol != PROTOCOL and (loader, protocol) in NODE_TYPE_MAPPING


def _nodes(tree: Any) -> Iterator[dict[str, Any]]:
    """Every dict with a string ``__loader__``, wherever it sits (no recursion limit)."""
    stack = [tree]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            if isinstance(item.get("__loader__"), str):
                yield item
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _method(node: dict[str, Any], uri: str) -> str:
    content = node.get("content")
    func = content.get("func") if isinstance(content, dict) else None
    if not isinstance(func, str) or not func.isidentifier():
        raise UntrustedModelError(
            f"Model {uri!r} has a MethodNode whose method name is {func!r}; the file is "
            "corrupted or crafted."
        )
    return func


def _bit_generator(node: dict[str, Any], uri: str) -> str:
    try:
        name = json.loads(node["content"]["bit_generator"]["content"]["bit_generator"]["content"])
    except (KeyError, TypeError, ValueError):
        name = None
    if not isinstance(name, str):
        raise UntrustedModelError(
            f"Model {uri!r} has a numpy Generator without a bit generator name; the file "
            "is corrupted or crafted."
        )
    return name


def _resolved_name(ref: Ref, uri: str) -> str | None:
    """The canonical name of what *ref* resolves to (importing its module)."""
    return canonical_name(_resolve(ref, uri))


def _resolve(ref: Ref, uri: str) -> Any:
    """What *ref* resolves to, importing its module (only names that passed the audit)."""
    try:
        obj = getattr(importlib.import_module(ref.module), ref.attr)
        if ref.method is not None:
            obj = getattr(obj, ref.method)
    except Exception as exc:
        raise ModelLoadError(
            f"Model {uri!r} needs {ref.name}, which was approved, but it cannot be imported "
            f"here ({type(exc).__name__}: {exc}). Install the package that defines it."
        ) from exc
    return obj


def _really(ref: Ref) -> str:
    """What *ref* is, if its module is already imported (nothing is imported here)."""
    obj = lookup(ref.module, ref.attr)
    if obj is None:
        return ""
    if ref.method is not None:
        obj = getattr(obj, ref.method, None)
    name = canonical_name(obj)
    if name == ref.name or obj is None:
        return ""
    if name is None:
        return f" (which is really a {type(obj).__name__}, not a class or function)"
    return f" (which is really {name})"


def _untrusted(uri: str, refs: list[Ref]) -> UntrustedModelError:
    listed = ", ".join(r.name + _really(r) for r in refs)
    honest = [r.name for r in refs if not _really(r)]
    message = (
        f"Model {uri!r} contains types that maas_nb does not trust: {listed}. Loading "
        "untrusted types can run arbitrary code."
    )
    if len(honest) < len(refs):
        message += (
            " A name that resolves to something else than it says is never trusted, even "
            "when approved: the artifact was crafted or comes from an unsafe library."
        )
    if honest:
        as_list = ", ".join(repr(n) for n in honest)
        message += (
            f" If you trust their source, pass trusted_types=[{as_list}] or set "
            f"{TRUSTED_TYPES_ENV}={','.join(honest)} (exact names, comma-separated)."
        )
    return UntrustedModelError(message)
