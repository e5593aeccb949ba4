"""A version's input reference: training statistics recorded at registration, bounded in
size, kept in its lineage without changing how versions are identified."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import maas_nb
from maas_nb.exceptions import SignatureError
from maas_nb.notebook.display import version_card
from maas_nb.registry import reference
from maas_nb.registry.reference import KEY, MAX_FEATURES, MAX_VALUES, QUANTILES


def test_a_sketch_per_numeric_feature_that_follows_the_data():
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(5, 2, 10_000), "kind": ["x", "y"] * 5_000})
    stats = reference.statistics(X)
    assert stats["rows"] == 10_000 and stats["not_numeric"] == ["kind"]
    a = stats["features"]["a"]
    assert a["n"] == 10_000 and len(a["quantiles"]) == QUANTILES
    assert abs(a["mean"] - 5) < 0.1 and abs(a["std"] - 2) < 0.1
    assert a["quantiles"] == sorted(a["quantiles"])
    np.testing.assert_allclose(np.median(a["quantiles"]), np.median(X["a"]), atol=0.02)


@pytest.mark.parametrize(
    ("shape", "per_feature"),
    [((5, 4), 5), ((300_000, 3), QUANTILES), ((2_000, 200), MAX_VALUES // 200)],
    ids=["a sample", "many rows", "many features"],
)
def test_the_record_is_bounded_whatever_the_data(shape, per_feature):
    X = np.random.default_rng(1).normal(size=shape)
    stats = reference.statistics(X)
    sizes = [len(f["quantiles"]) for f in stats["features"].values()]
    assert set(sizes) == {per_feature}
    assert sum(sizes) <= MAX_VALUES
    assert len(json.dumps(stats)) < 25 * MAX_VALUES


def test_inputs_too_wide_to_summarise_are_not_recorded():
    assert reference.statistics(np.zeros((3, MAX_FEATURES + 1))) is None


def test_features_are_named_as_the_prediction_log_names_them():
    assert list(reference.features(np.zeros((2, 3)))) == ["x0", "x1", "x2"]
    assert list(reference.features(np.zeros((2, 2, 2)))) == ["x0", "x1", "x2", "x3"]
    assert list(reference.features(pd.DataFrame({"b": [1], "a": [2]}))) == ["b", "a"]
    assert list(reference.features(["some", "text"])) == ["text"]
    assert list(reference.features({"img": np.zeros((2, 2)), "n": [1, 2]})) == ["img0", "img1", "n"]


def test_register_keeps_the_training_rows_statistics_in_the_lineage(registry, iris):
    X, y = iris
    model = LinearRegression().fit(X, y)
    v = registry.register(model, "iris", sample=X[:5], reference=X, lineage={"data": "iris.csv"})
    stored = registry.get("iris:1").lineage
    assert stored["data"] == "iris.csv"
    assert stored[KEY] == v.lineage[KEY] == reference.statistics(X)
    assert stored[KEY]["rows"] == 150 and list(stored[KEY]["features"]) == ["x0", "x1", "x2", "x3"]
    # Without reference= the sample is the reference; without either there is none.
    assert registry.register(model, "iris", sample=X[:5]).lineage[KEY]["rows"] == 5
    assert KEY not in registry.register(model, "iris").lineage


def test_a_retry_with_the_same_key_returns_the_same_version(registry, iris):
    X, y = iris
    model = LinearRegression().fit(X, y)
    first = registry.register(model, "iris", sample=X[:5], reference=X, idempotency_key="job-1")
    again = registry.register(
        model, "iris", sample=X[:5], reference=X[:50], idempotency_key="job-1"
    )
    assert again == first and again.lineage[KEY]["rows"] == 150


def test_reference_rows_must_have_the_samples_features(registry, iris):
    X, y = iris
    with pytest.raises(SignatureError) as caught:
        registry.register(LinearRegression().fit(X, y), "iris", sample=X[:5], reference=X[:, :3])
    assert str(caught.value) == (
        "The reference rows of model 'iris' have 3 features (x0, x1, x2), but its sample has 4 "
        "(x0, x1, x2, x3). Pass the training rows the sample was taken from, e.g. "
        "reference=X_train with sample=X_train[:5]."
    )
    assert registry.list_models() == []


def test_a_training_run_records_all_its_training_rows(iris):
    X, y = iris
    with maas_nb.training_run("iris") as training:
        result = training.complete(
            LinearRegression().fit(X, y), X_train=X, y_train=y, register=True
        )
    assert result.version.lineage[KEY]["rows"] == 150


def test_the_card_says_what_the_reference_holds_not_its_values(registry, iris):
    X, y = iris
    v = registry.register(LinearRegression().fit(X, y), "iris", sample=X[:5], reference=X)
    assert "quantiles" not in repr(version_card(v, verbose=2))
    lines = repr(version_card(v, verbose=2)).splitlines()
    assert [line.split() for line in lines if "reference" in line] == [
        ["input", "reference", "4", "features", "from", "150", "rows"]
    ]
    assert "input reference" not in repr(version_card(v))
