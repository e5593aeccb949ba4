"""Hostile .keras artifacts: each is refused at register and at load, by what it names."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import maas_nb
from maas_nb.exceptions import ModelLoadError, UntrustedModelError
from maas_nb.flavors.keras import KerasFlavor
from maas_nb.flavors.keras_allowlist import allow_list
from maas_nb.registry import Registry

FLAVOR = KerasFlavor()
#: Stands for marshalled bytecode: the audit refuses the node without decoding it.
LAMBDA_CODE = "4wEAAAAAAAAAAAAAAAEAAAACAAAAQwAAAHMIAAAAfABkARQAUwAp"


@pytest.fixture(scope="module")
def scale_layer() -> type:
    """A custom layer, registered the way users register theirs."""
    import keras

    @keras.saving.register_keras_serializable(package="maas_tests")
    class Scale(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            return x * 3.0

    return Scale


@pytest.fixture(scope="module")
def double() -> Callable[[Any], Any]:
    """A custom function, registered the way users register theirs."""
    import keras

    @keras.saving.register_keras_serializable(package="maas_tests")
    def double(x: Any) -> Any:
        return x * 2.0

    return double


@pytest.fixture(scope="module")
def functional() -> tuple[Any, np.ndarray, bytes]:
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


@pytest.fixture(params=sorted(CRAFTED))
def crafted(request, functional) -> tuple[bytes, str, str | None]:
    edit, expected, name = CRAFTED[request.param]
    return craft(functional[2], edit), expected, name


def test_crafted_artifact_is_refused_at_load(crafted):
    data, expected, _ = crafted
    with pytest.raises(UntrustedModelError) as info:
        FLAVOR.load(data, uri="crafted:1", trusted=[], allow_pickle=False)
    message = str(info.value)
    assert message.startswith(
        "Model 'crafted:1' contains Keras objects that maas_nb does not trust: "
    )
    assert expected in message
    assert "\n" not in message


def test_crafted_artifact_is_refused_at_register(crafted):
    data, expected, name = crafted
    with pytest.raises(UntrustedModelError) as info:
        FLAVOR.check_trusted(data, name="crafted", trusted=[])
    message = str(info.value)
    assert expected in message
    if name is None:
        assert (
            "Python bytecode, legacy layer entries and objects of unknown shape can never be "
            in message
        )
    else:
        assert f"approve them by exact name: pass trusted_types=[{name!r}]" in message
        assert "or add them (comma-separated) to the MAAS_TRUSTED_TYPES environment" in message


def test_crafted_artifact_lists_what_it_needs(crafted):
    data, _, name = crafted
    if name is None:
        with pytest.raises(UntrustedModelError) as info:
            FLAVOR.required_types(data)
        assert str(info.value).startswith("The artifact contains Keras objects that maas_nb")
        assert "can never be approved" in str(info.value)
    else:
        assert name in FLAVOR.required_types(data)


@pytest.mark.parametrize(
    ("activation", "expected"),
    [
        # Keras's fallback for files from Keras <= 3.6 matches a bare name to any
        # registered "package>name".
        (
            function("builtins", "double", "function"),
            "activation names the custom function 'maas_tests>double' (as 'double')",
        ),
        ("maas_tests>double", "activation names the registered custom object 'maas_tests>double'"),
    ],
)
def test_names_keras_would_resolve_to_a_registered_object_are_refused(
    functional, double, activation, expected
):
    data = craft(functional[2], set_activation("hidden", activation))
    with pytest.raises(UntrustedModelError) as info:
        FLAVOR.load(data, uri="crafted:1", trusted=[], allow_pickle=False)
    assert expected in str(info.value)
    assert "pass trusted_types=['maas_tests>double']" in str(info.value)
    assert FLAVOR.required_types(data) == ["maas_tests>double"]


def test_a_config_that_is_not_a_keras_object_is_refused(functional):
    data = craft(functional[2], lambda config: config.clear())
    with pytest.raises(UntrustedModelError, match="the model is not a Keras object"):
        FLAVOR.load(data, uri="crafted:1", trusted=[], allow_pickle=False)


def test_a_custom_loss_keras_never_reads_needs_no_approval(registry, double):
    import keras

    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Dense(1, name="out")])
    model.compile(optimizer="sgd", loss=double)
    # Loading with compile=False, Keras drops the top-level compile config unread.
    assert "maas_tests>double" in FLAVOR.save(model).decode("latin-1")
    assert FLAVOR.required_types(FLAVOR.save(model)) == []
    registry.register(model, "custom-loss")
    X = np.ones((2, 2), dtype="float32")
    np.testing.assert_allclose(registry.load("custom-loss")(X), model(X), rtol=1e-6)


def test_a_wildcard_approves_nothing(functional):
    data = craft(functional[2], set_activation("hidden", OS_SYSTEM))
    for pattern in ("os.*", "*", "os.syste?"):
        with pytest.raises(UntrustedModelError, match=r"names the function os\.system"):
            FLAVOR.load(data, uri="crafted:1", trusted=[pattern], allow_pickle=False)


def test_an_approved_name_that_is_not_registered_is_never_imported(functional):
    data = craft(functional[2], set_activation("hidden", OS_SYSTEM))
    with pytest.raises(ModelLoadError) as info:
        FLAVOR.load(data, uri="crafted:1", trusted=["os.system"], allow_pickle=False)
    assert str(info.value) == (
        "Model 'crafted:1' needs os.system, approved but not registered in this process: "
        "Keras builds only its own objects and registered custom objects. Import the module "
        "that defines them (decorated with @keras.saving.register_keras_serializable) before "
        "loading; maas_nb never imports code an artifact names."
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"PK\x05\x06" + b"\0" * 2, "The artifact is not a .keras zip file"),
        (b"\x89HDF\r\n\x1a\n legacy h5", "The artifact is not a .keras zip file"),
    ],
)
def test_a_file_that_is_not_a_keras_zip_is_refused(data, message):
    with pytest.raises(ModelLoadError, match=message):
        FLAVOR.load(data, uri="crafted:1", trusted=[], allow_pickle=False)
    with pytest.raises(ModelLoadError, match=message):
        FLAVOR.check_trusted(data, name="crafted", trusted=[])


def test_a_second_config_json_is_refused(functional):
    # zipfile and Keras read the last entry of a name: one could hide behind another.
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(functional[2])) as source, zipfile.ZipFile(out, "w") as zf:
        for info in source.infolist():
            zf.writestr(info, source.read(info))
        with pytest.warns(UserWarning, match="Duplicate name"):
            zf.writestr("config.json", json.dumps({"class_name": "__lambda__", "config": {}}))
    with pytest.raises(
        ModelLoadError, match=r"The \.keras file holds 2 entries named 'config\.json'"
    ):
        FLAVOR.load(out.getvalue(), uri="crafted:1", trusted=[], allow_pickle=False)


def test_a_lambda_model_is_refused_at_register(registry):
    import keras

    model = keras.Sequential(
        [keras.Input(shape=(2,)), keras.layers.Lambda(lambda x: x * 2, name="lambda")]
    )
    with pytest.raises(UntrustedModelError) as info:
        registry.register(model, "lambda")
    assert "Lambda 'lambda' is a keras.layers.Lambda layer, which runs code from its config" in (
        str(info.value)
    )
    assert "> function is Python bytecode (a lambda)" in str(info.value)
    assert registry.list_models() == []


def test_a_custom_layer_is_refused_at_register_unless_approved(home, scale_layer):
    import keras

    model = keras.Sequential(
        [keras.Input(shape=(4,)), scale_layer(name="scale"), keras.layers.Dense(1)]
    )
    plain = Registry(home)
    with pytest.raises(UntrustedModelError) as info:
        plain.register(model, "scaled")
    assert "Scale 'scale' names the custom object 'maas_tests>Scale'" in str(info.value)
    assert "pass trusted_types=['maas_tests>Scale']" in str(info.value)

    approved = Registry(home, trusted_types=["maas_tests>Scale"])
    approved.register(model, "scaled")
    X = np.ones((3, 4), dtype="float32")
    np.testing.assert_allclose(
        np.asarray(approved.load("scaled")(X)), np.asarray(model(X)), rtol=1e-6
    )
    data = FLAVOR.save(model)
    for trusted in ([], ["maas_tests>*"], ["maas_tests>scale"]):
        with pytest.raises(UntrustedModelError, match="names the custom object 'maas_tests>Scale'"):
            FLAVOR.load(data, uri="scaled:1", trusted=trusted, allow_pickle=False)


def test_a_lambda_layer_loads_only_when_it_and_its_function_are_approved(home, double):
    import keras

    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Lambda(double, name="lambda")])
    with pytest.raises(UntrustedModelError) as info:
        Registry(home, trusted_types=["maas_tests>double"]).register(model, "doubler")
    assert "Lambda 'lambda' is a keras.layers.Lambda layer, which runs code from its" in str(
        info.value
    )
    assert "pass trusted_types=['keras.layers.Lambda']" in str(info.value)

    approved = Registry(home, trusted_types=["keras.layers.Lambda", "maas_tests>double"])
    approved.register(model, "doubler")
    np.testing.assert_allclose(approved.load("doubler")(np.ones((1, 2))), [[2.0, 2.0]])
    with pytest.raises(UntrustedModelError, match=r"'keras\.layers\.Lambda', 'maas_tests>double'"):
        FLAVOR.load(FLAVOR.save(model), uri="doubler:1", trusted=[], allow_pickle=False)


def test_keras_own_models_need_no_approval(registry, functional, keras_mlp):
    model, X, data = functional
    assert FLAVOR.required_types(data) == []
    registry.register(model, "outer")
    np.testing.assert_allclose(
        np.asarray(registry.load("outer")(X)), np.asarray(model(X)), rtol=1e-6
    )
    mlp, X_mlp = keras_mlp
    assert FLAVOR.required_types(FLAVOR.save(mlp)) == []
    maas_nb.register(mlp, "mlp")
    np.testing.assert_allclose(
        np.asarray(maas_nb.load("mlp")(X_mlp[:3])), np.asarray(mlp(X_mlp[:3])), rtol=1e-6
    )


def test_common_layers_need_no_approval():
    import keras

    model = keras.Sequential(
        [
            keras.Input(shape=(6, 3)),
            keras.layers.Conv1D(4, 3, padding="same", activation=keras.activations.gelu),
            keras.layers.BatchNormalization(),
            keras.layers.Bidirectional(keras.layers.LSTM(2, return_sequences=True)),
            keras.layers.GRU(2),
            keras.layers.Dropout(0.1),
            keras.layers.Dense(2, activation="softmax"),
        ]
    )
    model.compile(optimizer="adam", loss=keras.losses.mean_squared_error, metrics=["mae"])
    assert FLAVOR.required_types(FLAVOR.save(model)) == []


def test_the_allow_list_holds_only_objects_keras_defines():
    allowed = allow_list()
    assert allowed.classes and allowed.functions
    for obj in [*allowed.classes, *allowed.functions]:
        assert obj.__module__.startswith("keras.src."), obj
    names = {f"{cls.__module__}.{cls.__qualname__}" for cls in allowed.classes}
    assert "keras.src.models.functional.Functional" in names
    assert "keras.src.layers.core.lambda_layer.Lambda" not in names
    assert sorted(set(allowed.gated.values())) == [
        "keras.layers.FlaxLayer",
        "keras.layers.JaxLayer",
        "keras.layers.Lambda",
        "keras.layers.TFSMLayer",
        "keras.layers.TorchModuleWrapper",
    ]


def test_crafting_keeps_an_untouched_model_loadable(functional):
    model, X, data = functional
    same = craft(data, lambda config: None)
    loaded = FLAVOR.load(same, uri="outer:1", trusted=[], allow_pickle=False)
    np.testing.assert_allclose(np.asarray(loaded(X)), np.asarray(model(X)), rtol=1e-6)
