"""Hand-made hostile skops artifacts: a real skops file whose schema.json is edited.

Each maker takes the bytes of `base_model()` saved with skops, and returns bytes an
attacker could write into a registry. The sentinel path is what a payload would create
if it ever ran.
"""

from __future__ import annotations

import io
import json
import pickle
import zipfile
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np
import pytest

from maas_nb import flavors
from maas_nb.config import TRUSTED_TYPES_ENV

Schema = dict[str, Any]


def base_model(X: np.ndarray, y: np.ndarray) -> Any:
    """A pipeline whose first step calls a function (``numpy.log1p``) on the input."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import FunctionTransformer

    return make_pipeline(FunctionTransformer(np.log1p), LogisticRegression(max_iter=1000)).fit(X, y)


def rewrite(data: bytes, edit: Callable[[Schema], None]) -> bytes:
    """*data* with its schema.json changed by *edit* (every other member kept)."""
    source = zipfile.ZipFile(io.BytesIO(data))
    schema = json.loads(source.read("schema.json"))
    edit(schema)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for item in source.infolist():
            if item.filename != "schema.json":
                target.writestr(item, source.read(item.filename))
        target.writestr("schema.json", json.dumps(schema))
    return out.getvalue()


def nodes(tree: Any) -> Iterator[dict[str, Any]]:
    if isinstance(tree, dict):
        if isinstance(tree.get("__loader__"), str):
            yield tree
        for value in tree.values():
            yield from nodes(value)
    elif isinstance(tree, list):
        for value in tree:
            yield from nodes(value)


def node(schema: Schema, loader: str, module: str | None = None) -> dict[str, Any]:
    return next(
        n
        for n in nodes(schema)
        if n["__loader__"] == loader and (module is None or n["__module__"] == module)
    )


def json_node(value: Any) -> dict[str, Any]:
    return {
        "__class__": "str",
        "__module__": "builtins",
        "__loader__": "JsonNode",
        "content": json.dumps(value),
        "is_json": True,
    }


def tuple_node(*items: Any) -> dict[str, Any]:
    return {
        "__class__": "tuple",
        "__module__": "builtins",
        "__loader__": "TupleNode",
        "content": [json_node(i) for i in items],
    }


def add_attribute(schema: Schema, name: str, value: dict[str, Any]) -> None:
    """Give the pipeline's LogisticRegression the attribute *name* built from *value*.

    skops pairs a DictNode's keys with its ``key_types`` in order, and drops a key that
    has no type: so the key type is appended too, or the payload would never be built.
    """
    attrs = node(schema, "ObjectNode", "sklearn.linear_model._logistic")["content"]
    attrs["content"][name] = value
    str_type = {"__class__": "str", "__module__": "builtins", "__loader__": "TypeNode"}
    attrs["key_types"]["content"].append(str_type)


def function(module: str, name: str) -> Callable[[Schema], None]:
    """Make the FunctionTransformer call ``module.name`` instead of numpy.log1p."""

    def edit(schema: Schema) -> None:
        target = node(schema, "FunctionNode", "numpy")
        target["__module__"], target["__class__"] = module, name

    return edit


def type_node(module: str, name: str) -> Callable[[Schema], None]:
    """Make the FunctionTransformer's func a TypeNode naming ``module.name``."""

    def edit(schema: Schema) -> None:
        target = node(schema, "FunctionNode", "numpy")
        target.update({"__module__": module, "__class__": name, "__loader__": "TypeNode"})

    return edit


def method_of_module(module: str, attr: str, method: str) -> Callable[[Schema], None]:
    """The func becomes ``getattr(<module.attr>, method)`` through a MethodNode."""

    def edit(schema: Schema) -> None:
        target = node(schema, "FunctionNode", "numpy")
        target.clear()
        target.update(
            {
                "__class__": attr,
                "__module__": module,
                "__loader__": "MethodNode",
                "content": {
                    "func": method,
                    "obj": {"__class__": attr, "__module__": module, "__loader__": "TypeNode"},
                },
            }
        )

    return edit


def called_at_load(loader: str, module: str, name: str, *args: Any) -> Callable[[Schema], None]:
    """Add an attribute that skops builds by calling ``module.name(*args)`` at load."""

    def edit(schema: Schema) -> None:
        add_attribute(
            schema,
            "evil_",
            {
                "__class__": name,
                "__module__": module,
                "__loader__": loader,
                "content": tuple_node(*args),
            },
        )

    return edit


def reduce_constructor(module: str, name: str, *args: Any) -> Callable[[Schema], None]:
    """A LossNode (a ``__reduce__`` node) whose constructor is ``module.name(*args)``."""

    def edit(schema: Schema) -> None:
        add_attribute(
            schema,
            "evil_",
            {
                "__class__": name,
                "__module__": module,
                "__loader__": "LossNode",
                "__reduce__": {"args": tuple_node(*args)},
                "content": {
                    "__class__": "dict",
                    "__module__": "builtins",
                    "__loader__": "DictNode",
                    "content": {},
                    "key_types": {
                        "__class__": "list",
                        "__module__": "builtins",
                        "__loader__": "ListNode",
                        "content": [],
                    },
                },
            },
        )

    return edit


def dict_key_type(module: str, name: str, key: str) -> Callable[[Schema], None]:
    """A dict whose key type is ``module.name``: skops calls it on the key at load."""

    def edit(schema: Schema) -> None:
        add_attribute(
            schema,
            "evil_",
            {
                "__class__": "dict",
                "__module__": "builtins",
                "__loader__": "DictNode",
                "content": {key: json_node(1)},
                "key_types": {
                    "__class__": "list",
                    "__module__": "builtins",
                    "__loader__": "ListNode",
                    "content": [
                        {"__class__": name, "__module__": module, "__loader__": "TypeNode"}
                    ],
                },
            },
        )

    return edit


def operator_func(name: str, *args: Any) -> Callable[[Schema], None]:
    """The func becomes ``operator.<name>(*args)`` (an OperatorFuncNode)."""

    def edit(schema: Schema) -> None:
        target = node(schema, "FunctionNode", "numpy")
        target.clear()
        target.update(
            {
                "__class__": name,
                "__module__": "operator",
                "__loader__": "OperatorFuncNode",
                "attrs": tuple_node(*args),
            }
        )

    return edit


def loader(name: str) -> Callable[[Schema], None]:
    """The func's node claims a node type of *name*."""

    def edit(schema: Schema) -> None:
        node(schema, "FunctionNode", "numpy")["__loader__"] = name

    return edit


def protocol(number: Any) -> Callable[[Schema], None]:
    def edit(schema: Schema) -> None:
        schema["protocol"] = number

    return edit


def pickle_payload(command: str) -> bytes:
    """Not a skops file at all: a pickle that runs *command* when unpickled."""

    class Payload:
        def __reduce__(self):
            import os

            return (os.system, (command,))

    return pickle.dumps(Payload())


# -- shared by the trust test modules ----------------------------------------------


@pytest.fixture(scope="module", name="base_bytes")
def base_bytes_fixture(iris):
    X, y = iris
    return flavors.get("sklearn").save(base_model(X, y))


@pytest.fixture(name="sentinel")
def sentinel_fixture(tmp_path):
    return str(tmp_path / "pwned")


def put_version(registry, name, data):
    """Write *data* into the artifact store and a version row, as an attacker with
    write access to the registry home could: nothing goes through register()."""
    digest = registry.artifacts.put(data)
    fields = {"flavor": "sklearn", "digest": digest, "size": len(data)}
    return registry.store.create_version(name, fields)


def command(path: str) -> str:
    """The shell command a payload runs: it creates *path*, the sentinel."""
    return f"touch {path}"


def assert_refused(
    error: Exception, refused: dict[str, str], *, uri: str, reveal: bool = True
) -> None:
    """The message names each refused type and, with *reveal*, what re-exports really are.

    Without an approval nothing the artifact names is imported, so what a re-export
    really is shows only when its module happens to be imported already.
    """
    text = str(error)
    assert text.startswith(f"Model {uri!r} contains types that maas_nb does not trust: ")
    for name, really in refused.items():
        if not really or not reveal:
            assert name in text
        elif really == "a module":
            assert f"{name} (which is really a module, not a class or function)" in text
        else:
            assert f"{name} (which is really {really})" in text
    # The advice is per exact name: the old advice ("wildcards allowed") caused the RCE.
    assert "wildcard" not in text
    honest = [n for n in refused if f"{n} (which is really" not in text]
    if honest:
        assert text.endswith("(exact names, comma-separated).")
        assert f"{TRUSTED_TYPES_ENV}=" in text
    if reveal and any(refused.values()):
        assert "A name that resolves to something else than it says is never trusted" in text
