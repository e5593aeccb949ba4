"""Keras classifiers answer with labels and probabilities, as scikit-learn ones do.

The expected answers come from Keras's own ``Model.predict`` on the original network.
"""

from __future__ import annotations

import io
import json
import zipfile

import numpy as np
import pytest

import maas_nb
from maas_nb import flavors
from maas_nb.exceptions import SignatureError, UntrustedModelError

FLAVOR = flavors.get("keras")


def network(last: str, width: int, *, features: int = 4):
    import keras

    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [
            keras.Input(shape=(features,)),
            keras.layers.Dense(6, activation="relu"),
            keras.layers.Dense(width, activation=last),
        ]
    )


@pytest.mark.parametrize(
    ("last", "width", "y", "classes"),
    [
        ("softmax", 3, np.array([0, 2, 2, 1]), [0, 1, 2]),
        ("softmax", 3, np.array([0, 0, 1, 1]), [0, 1, 2]),  # a class missing from y
        ("softmax", 3, np.eye(3)[[0, 2, 1]], [0, 1, 2]),  # one-hot rows
        ("sigmoid", 1, np.array([0.0, 1.0, 1.0]), [0.0, 1.0]),
        ("softmax", 3, np.array([0, 5, 1]), None),  # 5 is no column of the softmax
        ("sigmoid", 1, np.array([0.2, 0.9]), None),  # a probability target, not labels
        ("linear", 1, np.array([0.2, 0.9]), None),  # a regressor
        ("sigmoid", 3, np.eye(3)[[0, 2, 1]], None),  # multi-label: no single class per row
    ],
)
def test_training_labels_are_learnt_only_for_a_softmax_or_a_sigmoid(last, width, y, classes):
    model = network(last, width)
    FLAVOR.learn_classes(model, y)
    got = FLAVOR.classes(model)
    assert (None if got is None else got.tolist()) == classes
    if classes is not None:
        assert got.dtype == np.asarray(y).dtype or np.asarray(y).ndim == 2


def test_given_labels_are_kept_and_answered_after_a_round_trip(home):
    model = network("softmax", 3)
    model.classes_ = np.array(["setosa", "versicolor", "virginica"], dtype=object)
    X = np.random.default_rng(0).normal(size=(12, 4)).astype("float32")
    v = maas_nb.register(model, "net", sample=X[:3])
    assert [(s.name, s.dtype, s.shape) for s in v.signature.outputs] == [
        ("predictions", "str", (-1,)),
        ("probabilities", "float32", (-1, 3)),
    ]
    loaded = maas_nb.load("net")
    assert loaded.classes_.tolist() == ["setosa", "versicolor", "virginica"]
    outputs = FLAVOR.predict(loaded, X)
    expected = model.predict(X, verbose=0)
    np.testing.assert_allclose(outputs["probabilities"], expected, rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(outputs["predictions"], model.classes_[expected.argmax(axis=1)])


def test_a_sigmoid_answers_two_probability_columns(home):
    model = network("sigmoid", 1)
    FLAVOR.learn_classes(model, np.array([0, 1, 1, 0]))
    X = np.random.default_rng(1).normal(size=(20, 4)).astype("float32")
    maas_nb.register(model, "binary", sample=X[:3])
    outputs = FLAVOR.predict(maas_nb.load("binary"), X)
    p = model.predict(X, verbose=0)[:, 0]
    np.testing.assert_allclose(outputs["probabilities"], np.c_[1 - p, p], rtol=1e-6, atol=1e-7)
    np.testing.assert_array_equal(outputs["predictions"], (p > 0.5).astype(int))


def test_a_regressor_answers_its_output_as_before(home):
    model = network("linear", 1)
    FLAVOR.learn_classes(model, np.array([0, 1, 1, 0]))
    assert FLAVOR.classes(model) is None
    X = np.zeros((2, 4), dtype="float32")
    assert list(FLAVOR.predict(model, X)) == ["output"]


def test_labels_that_do_not_fit_the_last_layer_are_refused(home):
    model = network("softmax", 3)
    model.classes_ = np.array(["a", "b"])
    with pytest.raises(SignatureError) as err:
        maas_nb.register(model, "net")
    assert str(err.value) == (
        f"Model {model.name!r} has classes_ of shape (2,), but its last layer answers 3 "
        "classes. Set classes_ to one label per class, or delete it for a network that is "
        "not a classifier."
    )


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        (
            {"dtype": "<U1", "values": [{"__class__": "os.system"}]},
            "values must be numbers or strings",
        ),
        ({"dtype": "i8,f8", "values": [1, 2, 3]}, "dtype 'i8,f8'"),
        (
            {"dtype": "<U1", "values": [], "extra": 1},
            "expected keys dtype and values, got ['dtype', 'extra', 'values']",
        ),
    ],
)
def test_tampered_labels_are_refused_at_load(home, stored, problem):
    model = network("softmax", 3)
    model.classes_ = np.array(["a", "b", "c"])
    data = FLAVOR.save(model)
    tampered = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(tampered, "w") as dst:
        for info in src.infolist():
            body = src.read(info.filename)
            if info.filename == "maas_nb_classes.json":
                body = json.dumps(stored).encode()
            dst.writestr(info, body)
    with pytest.raises(UntrustedModelError) as err:
        FLAVOR.load(tampered.getvalue(), uri="net:1", trusted=(), allow_pickle=False)
    assert str(err.value) == (
        f"Model 'net:1' has class labels maas_nb cannot read ({problem}); labels are a list "
        "of numbers or strings with a plain numpy dtype. Re-register the model."
    )
