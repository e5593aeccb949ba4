import numpy as np
import pytest

import maas_nb
from maas_nb.exceptions import ModelNotFittedError, UntrustedModelError


def test_unbuilt_keras_model_is_refused():
    import keras

    model = keras.Sequential([keras.layers.Dense(1)])
    with pytest.raises(ModelNotFittedError, match="This Keras Sequential has not been built"):
        maas_nb.register(model, "unbuilt")


def test_lambda_bytecode_is_refused_even_with_lambda_approved(home):
    import keras

    from maas_nb.registry import Registry

    model = keras.Sequential(
        [keras.Input(shape=(2,)), keras.layers.Lambda(lambda x: x * 2, name="lambda")]
    )
    registry = Registry(home, trusted_types=["keras.layers.Lambda"])
    with pytest.raises(UntrustedModelError) as info:
        registry.register(model, "lambda")
    assert "Lambda 'lambda' > function is Python bytecode (a lambda), which maas_nb never" in (
        str(info.value)
    )
    assert "Python bytecode, legacy layer entries and objects of unknown shape can never be" in (
        str(info.value)
    )
    assert registry.list_models() == []


def test_signature_without_sample_uses_the_input_shape(keras_mlp):
    model, X = keras_mlp
    v = maas_nb.register(model, "mlp")
    assert v.signature.n_features == 4
    np.testing.assert_allclose(
        np.asarray(maas_nb.load("mlp")(X[:3])), np.asarray(model(X[:3])), rtol=1e-6
    )
