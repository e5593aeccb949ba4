"""A LogisticRegression's outputs come from one predict_proba call, and equal its own."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression

from maas_nb.flavors.base import EstimatorCalls


@pytest.mark.parametrize("n_classes", [2, 3])
def test_predictions_and_probabilities_equal_the_models_own(n_classes):
    X, y = make_classification(
        n_samples=300, n_features=6, n_informative=4, n_classes=n_classes, random_state=1
    )
    model = LogisticRegression(max_iter=1000).fit(X, y)
    rows = np.random.default_rng(0).normal(size=(5000, 6)) * 3
    outputs = EstimatorCalls().predict(model, rows)
    assert outputs["predictions"].tolist() == model.predict(rows).tolist()
    assert outputs["probabilities"].tolist() == model.predict_proba(rows).tolist()


@pytest.mark.parametrize("frame", [False, True])
def test_a_row_whose_probabilities_tie_gets_predicts_class(frame):
    """A decision value of 1e-20 is positive (class 1), but its probabilities round to a
    tie, whose argmax would say class 0."""
    X, y = make_classification(n_samples=100, n_features=3, n_informative=2, n_redundant=0)
    model = LogisticRegression().fit(pd.DataFrame(X, columns=["a", "b", "c"]) if frame else X, y)
    model.coef_[:] = 0.0
    model.intercept_[:] = 1e-20
    rows = np.array([[1.0, 2.0, 3.0], [0.0, 0.0, 0.0]])
    data = pd.DataFrame(rows, columns=["a", "b", "c"]) if frame else rows
    outputs = EstimatorCalls().predict(model, data)
    assert model.predict_proba(data).tolist() == [[0.5, 0.5], [0.5, 0.5]]
    assert outputs["predictions"].tolist() == model.predict(data).tolist() == [1, 1]
