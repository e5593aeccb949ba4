"""Hand-made hostile .keras artifacts: a real saved model whose config.json is edited,
and the custom objects and models the Keras trust tests share."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

from maas_nb.flavors.keras import KerasFlavor

FLAVOR = KerasFlavor()
#: Stands for marshalled bytecode: the audit refuses the node without decoding it.
LAMBDA_CODE = "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwAp"


@pytest.fixture(scope="module", name="scale_layer")
def scale_layer_fixture() -> type:
    """A custom layer, registered the way users register theirs."""
    import keras

    @keras.saving.register_keras_serializable(package="maas_tests")
    class Scale(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return x * 3.0

    return Scale


@pytest.fixture(scope="module", name="double")
def double_fixture() -> Callable[[Any], Any]:
    """A custom function, registered the way users register theirs."""
    import keras

    @keras.saving.register_keras_serializable(package="maas_tests")
    def double(x: Any) -> Any:
        return x * 2.0

    return double


@pytest.fixture(scope="module", name="functional")
def functional_fixture() -> tuple[Any, np.ndarray, bytes]:
    """A Functional model holding a nested Sequential, saved once for crafting."""
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(4,), name="features")
    hidden = keras.layers.Dense(
        8,
        activation="relu",
        name="hidden",
        kernel_regularizer=keras.regularizers.L2(0.01),
        kernel_constraint=keras.constraints.MaxNorm(2.0),
    )(inputs)
    inner = keras.Sequential(
        [keras.Input(shape=(8,)), keras.layers.Dense(2, activation="softmax", name="inner_out")],
        name="inner",
    )
    model = keras.Model(inputs, inner(hidden), name="outer")
    X = np.random.default_rng(0).normal(size=(5, 4)).astype("float32")
    return model, X, FLAVOR.save(model)


def craft(data: bytes, edit: Callable[[dict[str, Any]], None]) -> bytes:
    """Rewrite config.json inside a real .keras zip, keeping the weights."""
    source = zipfile.ZipFile(io.BytesIO(data))
    config = json.loads(source.read("config.json"))
    edit(config)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            body = json.dumps(config) if info.filename == "config.json" else source.read(info)
            target.writestr(info, body)
    return out.getvalue()


def layer(config: dict[str, Any], name: str) -> dict[str, Any]:
    for entry in config["config"]["layers"]:
        if entry.get("name") == name or entry["config"].get("name") == name:
            return entry
        if entry["class_name"] == "Sequential":
            for inner in entry["config"]["layers"]:
                if inner["config"].get("name") == name:
                    return inner
    raise KeyError(name)


def function(module: str, name: str, registered: str | None = None) -> dict[str, Any]:
    return {
        "module": module,
        "class_name": "function",
        "config": name,
        "registered_name": registered,
    }


def set_activation(target: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        layer(config, target)["config"]["activation"] = value

    return edit


def set_key(target: str, key: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        layer(config, target)[key] = value

    return edit


def set_field(target: str, field: str, value: Any) -> Callable[[dict[str, Any]], None]:
    def edit(config: dict[str, Any]) -> None:
        layer(config, target)["config"][field] = value

    return edit


def to_lambda(config: dict[str, Any]) -> None:
    entry = layer(config, "hidden")
    entry.update(module="keras.layers", class_name="Lambda", registered_name=None)
    entry["config"] = {
        "name": "hidden",
        "trainable": True,
        "dtype": "float32",
        "function": {
            "class_name": "__lambda__",
            "config": {"code": LAMBDA_CODE, "defaults": None, "closure": None},
        },
        "arguments": {},
    }
    entry.pop("build_config", None)


def drop_module(config: dict[str, Any]) -> None:
    del layer(config, "hidden")["module"]


OS_SYSTEM = function("os", "system")
# Each row: what the artifact names, where, and the name that would approve it (None: never).
CRAFTED = {
    "lambda-layer": (
        to_lambda,
        "Functional 'outer' > Lambda 'hidden' is a keras.layers.Lambda layer, which runs "
        "code from its config; Functional 'outer' > Lambda 'hidden' > function is Python "
        "bytecode (a lambda), which maas_nb never loads (Keras safe mode)",
        None,
    ),
    "activation-os-system": (
        set_activation("hidden", OS_SYSTEM),
        "Functional 'outer' > Dense 'hidden' > activation names the function os.system, "
        "which is not a modeling object Keras defines",
        "os.system",
    ),
    "activation-builtins-eval": (
        set_activation("hidden", function("builtins", "eval", "function")),
        "Dense 'hidden' > activation names the function builtins.eval, which is not a "
        "modeling object Keras defines",
        "builtins.eval",
    ),
    "activation-subprocess": (
        set_activation("hidden", function("subprocess", "check_output")),
        "activation names the function subprocess.check_output",
        "subprocess.check_output",
    ),
    "activation-keras-reexport": (
        # keras.src.legacy.backend.py_any is builtins.any under a Keras module path.
        set_activation("hidden", function("keras.src.legacy.backend", "py_any")),
        "activation names the function keras.src.legacy.backend.py_any, which is not a "
        "modeling object Keras defines",
        "keras.src.legacy.backend.py_any",
    ),
    "activation-keras-non-modeling": (
        set_activation("hidden", function("keras.config", "enable_unsafe_deserialization")),
        "activation names the function keras.config.enable_unsafe_deserialization",
        "keras.config.enable_unsafe_deserialization",
    ),
    "registered-name-hides-getter": (
        # Activation getters resolve registered_name, not config, outside builtins.
        set_activation("hidden", function("keras.activations", "relu", "os.system")),
        "activation names the function keras.activations.os.system",
        "keras.activations.os.system",
    ),
    "layer-class-in-subprocess": (
        lambda c: layer(c, "hidden").update(module="subprocess", class_name="Dense"),
        "names the class subprocess.Dense",
        "subprocess.Dense",
    ),
    "layer-class-keras-reexport": (
        lambda c: layer(c, "hidden").update(module="keras.src.legacy.backend", class_name="py_any"),
        "Functional 'outer' > py_any 'hidden' names the class keras.src.legacy.backend.py_any, "
        "which is not a modeling object Keras defines",
        "keras.src.legacy.backend.py_any",
    ),
    "regularizer-pickle": (
        set_field(
            "hidden",
            "kernel_regularizer",
            {"module": "pickle", "class_name": "Unpickler", "config": {}, "registered_name": None},
        ),
        "Dense 'hidden' > kernel_regularizer names the class pickle.Unpickler",
        "pickle.Unpickler",
    ),
    "dtype-policy-importlib": (
        set_field(
            "hidden",
            "dtype",
            {
                "module": "importlib",
                "class_name": "import_module",
                "config": {"name": "os"},
                "registered_name": None,
            },
        ),
        "names the class importlib.import_module",
        "importlib.import_module",
    ),
    "custom-registered-object": (
        lambda c: layer(c, "hidden").update(
            module="evil.layers", class_name="Evil", registered_name="evil>Evil"
        ),
        "Functional 'outer' > Evil 'hidden' names the custom object 'evil>Evil'",
        "evil>Evil",
    ),
    "keras-class-with-custom-registered-name": (
        set_key("hidden", "registered_name", "evil>Dense"),
        "Dense 'hidden' names the custom object 'evil>Dense'",
        "evil>Dense",
    ),
    "custom-object-without-module": (
        set_key("hidden", "module", None),
        "Dense 'hidden' names the custom object 'Dense'",
        "Dense",
    ),
    "unknown-class-name-shape": (
        set_key("hidden", "class_name", ["Dense"]),
        "is an object of unknown shape ({module: str, class_name: list",
        None,
    ),
    "class-config-not-a-dict": (
        set_key("hidden", "config", "maas_tests>double"),
        "is an object of unknown shape ({module: str, class_name: str, config: str",
        None,
    ),
    "newline-in-module": (
        set_activation("hidden", function("os\nERROR forged log line", "system")),
        "names the function 'os\\nERROR forged log line.system', which is not a modeling",
        "os\nERROR forged log line.system",
    ),
    "unknown-function-shape": (
        set_activation("hidden", {"module": "os", "class_name": "function", "config": ["system"]}),
        "activation is a function of unknown shape",
        None,
    ),
    "typespec": (
        set_activation("hidden", {"class_name": "__typespec__", "config": [], "module": "os"}),
        "activation is a __typespec__ object, which maas_nb does not load",
        None,
    ),
    "legacy-layer-without-module": (
        drop_module,
        "Dense 'hidden' is a Dense without a 'module' (the legacy H5 layer format)",
        None,
    ),
    "nested-model-os-system": (
        set_activation("inner_out", OS_SYSTEM),
        "Functional 'outer' > Sequential 'inner' > Dense 'inner_out' > activation names the "
        "function os.system",
        "os.system",
    ),
    "nested-model-lambda": (
        lambda c: layer(c, "inner_out")["config"].update(
            activation={"class_name": "__lambda__", "config": {"code": LAMBDA_CODE}}
        ),
        "Sequential 'inner' > Dense 'inner_out' > activation is Python bytecode (a lambda)",
        None,
    ),
}
