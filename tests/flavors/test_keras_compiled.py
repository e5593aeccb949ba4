"""A loaded Keras model answers through one graph traced at load, as its eager call does.

Equal means ``assert_allclose(rtol=1e-6, atol=1e-7)``: the graph's fused kernels may
round a float32's last bit (about 6e-8 below 1.0) differently from the eager ops.
"""

from __future__ import annotations

import gc
import weakref
from typing import Any

import numpy as np
import pytest

from maas_nb import flavors
from maas_nb.flavors import keras_compiled, keras_import

FLAVOR = flavors.get("keras")
ROWS = (1, 5, 64)  # a lone request, a few, a full batch
#: Each time Counted.call runs in Python: on every eager call, only once per graph trace.
CALLS: list[int] = []


def close(got: Any, want: Any) -> None:
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), rtol=1e-6, atol=1e-7)


@pytest.fixture(scope="module")
def counted() -> type:
    keras = keras_import.import_keras()

    @keras.saving.register_keras_serializable(package="maas_compiled_tests")
    class Counted(keras.layers.Layer):
        def call(self, x: Any) -> Any:
            CALLS.append(1)
            return x * 2.0

    return Counted


def loaded(model: Any, trusted: tuple[str, ...] = ()) -> Any:
    return FLAVOR.load(FLAVOR.save(model), uri="m:1", trusted=list(trusted), allow_pickle=False)


def rows(n: int, features: int = 4) -> np.ndarray:
    return np.random.default_rng(n).normal(size=(n, features))  # float64, as JSON decodes


def test_the_graph_is_traced_once_at_load_and_serves_every_batch_size(counted):
    import keras

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [keras.Input(shape=(4,)), counted(name="counted"), keras.layers.Dense(3)]
    )
    served = loaded(model, trusted=("maas_compiled_tests>Counted",))
    compiled = keras_compiled.compiled_call(served)
    assert compiled is not None
    assert compiled.function.experimental_get_tracing_count() == 1
    want = {n: model(rows(n), training=False) for n in ROWS}
    CALLS.clear()
    got = {n: FLAVOR.predict(served, rows(n))["output"] for n in ROWS}
    assert CALLS == []  # no layer ran in Python: every call went through the graph
    assert compiled.function.experimental_get_tracing_count() == 1  # no retrace per size
    for n in ROWS:
        assert got[n].shape == (n, 3)
        close(got[n], want[n])
    served(rows(2), training=False)
    assert CALLS == [1]  # the counter does count eager calls


def test_a_lone_row_and_a_batch_answer_as_the_eager_call(keras_mlp):
    model, X = keras_mlp
    served = loaded(model)
    assert keras_compiled.compiled_call(served) is not None
    for n in ROWS:
        x = np.resize(X, (n, 4)).astype("float64")
        got = FLAVOR.predict(served, x)
        assert list(got) == ["output"] and got["output"].dtype == np.float32
        close(got["output"], model(x, training=False))
    ints = np.arange(8).reshape(2, 4)  # converted to float32 as Keras converts them
    close(FLAVOR.predict(served, ints)["output"], model(ints, training=False))


def test_several_outputs_and_named_outputs_answer_as_the_eager_call():
    import keras

    keras.utils.set_random_seed(0)
    inputs = keras.Input(shape=(4,), name="features")
    hidden = keras.layers.Dense(8, activation="relu")(inputs)
    score = keras.layers.Dense(1, name="score")(hidden)
    kind = keras.layers.Dense(3, activation="softmax", name="kind")(hidden)
    for outputs, names in (
        ([score, kind], ["output_0", "output_1"]),
        ({"a": score, "b": kind}, ["a", "b"]),
    ):
        model = keras.Model(inputs, outputs)
        served = loaded(model)
        assert keras_compiled.compiled_call(served) is not None
        for n in ROWS:
            got = FLAVOR.predict(served, rows(n))
            want = model(rows(n), training=False)
            want = list(want.values()) if isinstance(want, dict) else want
            assert list(got) == names
            for name, value in zip(names, want, strict=True):
                close(got[name], value)


def test_a_classifier_answers_labels_and_probabilities_as_the_eager_call():
    import keras

    from maas_nb.flavors import keras_classes

    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(6),
            keras.layers.Dense(3, activation="softmax"),
        ]
    )
    model.classes_ = np.array(["a", "b", "c"], dtype=object)
    served = loaded(model)
    assert keras_compiled.compiled_call(served) is not None
    for n in ROWS:
        got = FLAVOR.predict(served, rows(n))
        want = keras_classes.answer(np.asarray(model(rows(n), training=False)), model.classes_)
        assert sorted(got) == sorted(want) == ["predictions", "probabilities"]
        close(got["probabilities"], want["probabilities"])
        assert got["predictions"].tolist() == want["predictions"].tolist()


def test_an_input_the_graph_does_not_take_gets_keras_own_answer(keras_mlp):
    model, _ = keras_mlp
    served = loaded(model)
    assert keras_compiled.compiled_call(served) is not None
    # Keras's own message, not the graph's "Matrix size-incompatible".
    with pytest.raises(ValueError, match="expected axis -1 of input shape to have value 4"):
        FLAVOR.predict(served, np.ones((2, 3)))


def test_models_with_several_inputs_stay_eager():
    import keras

    left, right = keras.Input(shape=(2,)), keras.Input(shape=(2,))
    model = keras.Model(
        [left, right], keras.layers.Dense(1)(keras.layers.Concatenate()([left, right]))
    )
    assert keras_compiled.compiled_call(loaded(model)) is None


def test_the_traced_graph_does_not_keep_a_replaced_model_alive(keras_mlp):
    model, _ = keras_mlp
    served = loaded(model)
    assert keras_compiled.compiled_call(served) is not None
    gone = weakref.ref(served)
    del served
    gc.collect()
    assert gone() is None
