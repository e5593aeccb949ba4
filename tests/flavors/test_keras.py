import numpy as np
import pytest

import maas_nb
from maas_nb.exceptions import ModelNotFittedError, UntrustedModelError


def test_unbuilt_keras_model_is_refused():
    import keras

    model = keras.Sequential([keras.layers.Dense(1)])
    with pytest.raises(ModelNotFittedError, match="This Keras Sequential has not been built"):
        maas_nb.register(model, "unbuilt")


def test_lambda_layer_is_refused_by_safe_mode(registry):
    import keras

    model = keras.Sequential([keras.Input(shape=(2,)), keras.layers.Lambda(lambda x: x * 2)])
    registry.register(model, "lambda")
    with pytest.raises(UntrustedModelError, match="refuses to load in safe mode"):
        registry.load("lambda")


def test_signature_without_sample_uses_the_input_shape(keras_mlp):
    model, X = keras_mlp
    v = maas_nb.register(model, "mlp")
    assert v.signature.n_features == 4
    np.testing.assert_allclose(
        np.asarray(maas_nb.load("mlp")(X[:3])), np.asarray(model(X[:3])), rtol=1e-6
    )
