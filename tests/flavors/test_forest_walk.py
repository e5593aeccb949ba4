"""The forest fast path's two walks (all trees at once for a small batch, tree by tree
for a bigger one) give scikit-learn's own probabilities, bit for bit, on either side of
the size where one hands over to the other."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier

from maas_nb.flavors import forests
from maas_nb.flavors.forests import forest_proba


@pytest.mark.parametrize(
    "make",
    [
        lambda: RandomForestClassifier(n_estimators=25, max_depth=8, random_state=0),
        lambda: RandomForestClassifier(n_estimators=25, random_state=1),  # unlimited depth
        lambda: ExtraTreesClassifier(n_estimators=25, max_depth=5, random_state=2),
    ],
    ids=["depth-8", "deep", "extra-trees"],
)
def test_every_batch_size_gives_scikit_learns_probabilities(make):
    rng = np.random.default_rng(0)
    X = rng.normal(size=(600, 6))
    y = (X[:, 0] + X[:, 1] ** 2 > 0.5).astype(int) + (X[:, 2] > 1)  # three classes
    model = make().fit(X, y)
    depth = max(t.tree_.max_depth for t in model.estimators_)
    edge = forests.SMALL // depth  # the last size walked all at once
    sizes = sorted({1, 2, 7, edge - 1, edge, edge + 1, 200})
    assert sizes[0] * depth <= forests.SMALL < sizes[-1] * depth  # both walks are taken
    for n in sizes:
        rows = X[n : 2 * n] if n < 300 else X[:n]
        got = forest_proba(model, rows)
        np.testing.assert_array_equal(got, model.predict_proba(rows))
        np.testing.assert_array_equal(got, forest_proba(model, rows.astype(np.float32)))


def test_a_forest_of_single_leaves_walks_nowhere():
    X = np.zeros((20, 3))
    model = RandomForestClassifier(n_estimators=4, random_state=0).fit(X, np.r_[[0] * 10, [1] * 10])
    assert all(t.tree_.max_depth == 0 for t in model.estimators_)
    np.testing.assert_array_equal(forest_proba(model, X[:3]), model.predict_proba(X[:3]))


def test_the_all_at_once_walk_is_built_again_after_a_refit():
    rng = np.random.default_rng(3)
    X = rng.normal(size=(80, 4))
    model = RandomForestClassifier(n_estimators=6, max_depth=4, random_state=0)
    model.fit(X, X[:, 0] > 0)
    np.testing.assert_array_equal(forest_proba(model, X[:2]), model.predict_proba(X[:2]))
    model.fit(X, X[:, 1] > 0)  # the same object, other trees
    np.testing.assert_array_equal(forest_proba(model, X[:2]), model.predict_proba(X[:2]))


class _OwnForest(RandomForestClassifier):
    """A forest subclass whose ``predict`` may be replaced after it was first called."""


def test_a_forest_class_patched_after_its_first_call_is_asked_again():
    from maas_nb.flavors.base import EstimatorCalls

    rng = np.random.default_rng(4)
    X = rng.normal(size=(60, 3))
    model = _OwnForest(n_estimators=5, max_depth=3, random_state=0).fit(X, X[:, 0] > 0)
    calls = EstimatorCalls()
    first = calls.predict(model, X[:3])["predictions"]  # the forests' own: argmax walked
    np.testing.assert_array_equal(first, model.predict(X[:3]))
    try:
        _OwnForest.predict = lambda self, X: np.full(len(X), 7)  # e.g. mock.patch.object
        np.testing.assert_array_equal(calls.predict(model, X[:3])["predictions"], [7, 7, 7])
    finally:
        del _OwnForest.predict


def test_rows_on_and_beside_every_threshold_take_scikit_learns_branch():
    """The all-at-once walk compares float32 values with float32 thresholds rounded down
    from scikit-learn's float64 ones: rows whose values sit exactly on a threshold's
    float32 neighbours (below, nearest, above) branch as scikit-learn does."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(400, 4)) * np.array([1.0, 1e-3, 1e4, 3.0])
    model = RandomForestClassifier(n_estimators=10, max_depth=6, random_state=0).fit(
        X, (X[:, 0] > 0) ^ (X[:, 1] > 0)
    )
    rows = []
    for tree in model.estimators_:
        t = tree.tree_
        for node in np.flatnonzero(t.children_left != -1):
            near = np.float32(t.threshold[node])
            for value in (
                np.nextafter(near, np.float32(-np.inf)),
                near,
                np.nextafter(near, np.float32(np.inf)),
            ):
                row = X[node % len(X)].astype(np.float32)
                row[t.feature[node]] = value
                rows.append(row)
    rows = np.asarray(rows, dtype=np.float32)
    depth = max(t.tree_.max_depth for t in model.estimators_)
    for start in range(0, len(rows), forests.SMALL // depth):  # each batch walked all at once
        batch = rows[start : start + forests.SMALL // depth]
        np.testing.assert_array_equal(forest_proba(model, batch), model.predict_proba(batch))
