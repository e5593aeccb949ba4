"""Real Keras models through register and load: Lambda layers and custom objects load only
when approved by name, Keras's own objects need no approval."""

from __future__ import annotations

import numpy as np
import pytest

import maas_nb
from maas_nb.exceptions import UntrustedModelError
from maas_nb.flavors.keras_allowlist import allow_list
from maas_nb.registry import Registry

# Importing the fixtures is what makes them fixtures of this module.
from tests.flavors.keras_crafted import (  # noqa: F401
    FLAVOR,
    craft,
    double_fixture,
    functional_fixture,
    layer,
    scale_layer_fixture,
)


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
    assert approved.register(model, "scaled").trust["needs"] == ["maas_tests>Scale"]
    # Register's one audit: the check that admits the artifact says what it needs.
    assert FLAVOR.check_trusted(
        FLAVOR.save(model), name="scaled", trusted=["maas_tests>Scale"]
    ) == ["maas_tests>Scale"]
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
