"""The LogisticRegression kernel gives scikit-learn's probabilities bit for bit, and hands
every input it does not reproduce to scikit-learn."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from maas_nb.flavors.linear import logistic_proba


def fitted(n_classes: int, **kwargs) -> tuple[LogisticRegression, np.ndarray]:
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=n_classes, random_state=2
    )
    return LogisticRegression(max_iter=1000, **kwargs).fit(X, y), X


@pytest.mark.parametrize("n_classes", [2, 4])
@pytest.mark.parametrize("n_rows", [1, 3, 64, 1000])
def test_probabilities_are_scikit_learns_bit_for_bit(n_classes, n_rows):
    model, _ = fitted(n_classes)
    rows = np.random.default_rng(n_rows).normal(size=(n_rows, 6)) * 4
    proba = logistic_proba(model, rows)
    assert proba is not None  # the kernel answered, not scikit-learn
    expected = model.predict_proba(rows)
    assert proba.dtype == expected.dtype and proba.shape == expected.shape
    assert proba.tobytes() == expected.tobytes()


def test_without_an_intercept_and_with_extreme_scores():
    model, _ = fitted(2, fit_intercept=False)
    rows = np.array([[1e300, 0, 0, 0, 0, 0], [-1e300, 0, 0, 0, 0, 0], [0.0] * 6])
    with np.errstate(over="ignore", invalid="ignore"):
        proba, expected = logistic_proba(model, rows), model.predict_proba(rows)
    assert proba is not None
    assert proba.tobytes() == expected.tobytes()


@pytest.mark.parametrize(
    "rows",
    [
        pytest.param(np.full((2, 6), np.nan), id="nan"),
        pytest.param(np.full((2, 6), np.inf), id="inf"),
        pytest.param(np.ones((2, 6), dtype=np.float32), id="float32"),
        pytest.param(np.ones((2, 5)), id="wrong-width"),
        pytest.param(np.ones(6), id="one-dimensional"),
        pytest.param(np.ones((0, 6)), id="no-rows"),
        pytest.param(pd.DataFrame(np.ones((2, 6))), id="dataframe"),
    ],
)
def test_inputs_it_does_not_reproduce_go_to_scikit_learn(rows):
    model, _ = fitted(2)
    assert logistic_proba(model, rows) is None


def test_models_it_does_not_reproduce_go_to_scikit_learn():
    class Calibrated(LogisticRegression):
        pass

    X, y = make_classification(n_samples=100, n_features=3, n_informative=2, n_redundant=0)
    rows = X[:2]
    named = LogisticRegression().fit(pd.DataFrame(X, columns=["a", "b", "c"]), y)
    assert logistic_proba(named, rows) is None  # scikit-learn warns about the missing names
    assert logistic_proba(Calibrated().fit(X, y), rows) is None
    assert logistic_proba(LogisticRegression().fit(X, y), rows) is not None
