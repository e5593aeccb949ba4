"""Trusted types with dangerous values are refused right after loading: a crafted forest
or boosted model whose nodes point outside their arrays, a sparse matrix whose indices
do, a text vectorizer that would open the files a request names."""

from __future__ import annotations

import re

import numpy as np
import pytest

import maas_nb
from maas_nb import flavors
from maas_nb.exceptions import UntrustedModelError
from tests.flavors.test_trust import put_version


def _forest(iris):
    from sklearn.ensemble import RandomForestClassifier

    X, y = iris
    return RandomForestClassifier(n_estimators=2, max_depth=3, random_state=0).fit(X, y)


def _boosted(iris, **kwargs):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = iris
    return HistGradientBoostingClassifier(max_iter=2, **kwargs).fit(X, y)


def _first_inner(is_leaf):
    return int(np.flatnonzero(~np.asarray(is_leaf, dtype=bool))[0])


def _tree_child(model, value):
    model.estimators_[0].tree_.children_left[0] = value


def _tree_feature(model, value):
    model.estimators_[0].tree_.feature[0] = value


def _predictor_field(field):
    def corrupt(model, value):
        nodes = model._predictors[0][0].nodes
        nodes[field][_first_inner(nodes["is_leaf"])] = value

    return corrupt


CASES = [
    ("tree-child-far-away", _forest, _tree_child, 10**6, "node 0 has left child 1000000 of"),
    ("tree-child-loops-back", _forest, _tree_child, 0, "node 0 has left child 0 of"),
    ("tree-feature", _forest, _tree_feature, 4, "node 0 splits on feature 4 of 4"),
    ("tree-negative-feature", _forest, _tree_feature, -3, "node 0 splits on feature -3 of 4"),
    ("hgb-child", _boosted, _predictor_field("right"), 60000, "node 0 has right child 60000 of"),
    (
        "hgb-feature",
        _boosted,
        _predictor_field("feature_idx"),
        9,
        "node 0 splits on feature 9 of 4",
    ),
]


@pytest.mark.parametrize(
    ("make", "corrupt", "value", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_a_tree_with_indices_out_of_range_is_refused_at_load(
    registry, iris, make, corrupt, value, problem
):
    model = make(iris)
    corrupt(model, value)
    put_version(registry, "bad", flavors.get("sklearn").save(model))
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("bad")
    message = str(info.value)
    assert message.startswith("Model 'bad:1' contains a ")
    assert f"whose nodes are out of range ({problem}" in message
    assert message.endswith("The artifact is corrupted or crafted: register the model again.")


def test_categorical_bitsets_are_checked(registry, iris):
    X, y = iris
    cats = np.c_[y % 2, X]
    from sklearn.ensemble import HistGradientBoostingClassifier

    model = HistGradientBoostingClassifier(max_iter=2, categorical_features=[0]).fit(cats, y)
    for predictors in model._predictors:
        for predictor in predictors:
            nodes = predictor.nodes
            inner = ~nodes["is_leaf"].astype(bool)
            nodes["is_categorical"][inner] = 1
            nodes["bitset_idx"][inner] = 7
    put_version(registry, "bad", flavors.get("sklearn").save(model))
    with pytest.raises(UntrustedModelError, match=r"uses category bitset 7 of \d+\)"):
        maas_nb.load("bad")


@pytest.mark.parametrize("kind", ["KDTree", "BallTree"])
def test_a_neighbour_tree_with_indices_out_of_range_is_refused(registry, iris, kind):
    from sklearn.neighbors import KNeighborsClassifier

    X, y = iris
    model = KNeighborsClassifier(algorithm=kind.lower().replace("tree", "_tree")).fit(X, y)
    assert type(model._tree).__name__ == kind
    ok = flavors.get("sklearn").save(model)
    _, idx_array, node_data, _ = model._tree.get_arrays()
    node_data["idx_end"][0] = 10**6
    put_version(registry, "bad", flavors.get("sklearn").save(model))
    with pytest.raises(UntrustedModelError, match=r"node 0 covers samples 0\.\.1000000 of 150"):
        maas_nb.load("bad")

    idx_array[0] = 10**6
    node_data["idx_end"][0] = len(X)
    put_version(registry, "bad", flavors.get("sklearn").save(model))
    with pytest.raises(UntrustedModelError, match="is not a permutation of the 150 samples"):
        maas_nb.load("bad:2")
    put_version(registry, "good", ok)
    assert maas_nb.load("good").predict(X[:3]).tolist() == y[:3].tolist()


@pytest.mark.parametrize("source", ["filename", "file"])
@pytest.mark.parametrize("kind", ["CountVectorizer", "TfidfVectorizer", "HashingVectorizer"])
def test_a_vectorizer_reading_files_named_in_requests_is_refused(registry, kind, source):
    import sklearn.feature_extraction.text as text
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline

    docs, y = ["root x", "daemon bin", "hello world", "nobody home"], [0, 1, 0, 1]
    model = make_pipeline(getattr(text, kind)(), LogisticRegression()).fit(docs, y)
    model[0].set_params(input=source)  # fitted on content, then made to open paths
    expected = (
        f"contains a {kind} with input={source!r}: it would read files named in requests "
        "on the server, so maas_nb refuses it. Set input='content' (the default) and "
        "register the model again."
    )
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.register(model, "reader")
    assert str(info.value) == f"Model 'reader' {expected}"
    assert maas_nb.list_models() == []
    put_version(registry, "reader", flavors.get("sklearn").save(model))
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("reader")
    assert str(info.value) == f"Model 'reader:1' {expected}"


def test_a_sparse_matrix_with_indices_out_of_range_is_refused(registry, iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y).sparsify()
    model.coef_.indices[:] = 2**31 - 1000  # columns far past the 4 features
    expected = (
        "contains a sparse csr_matrix of shape (3, 4) whose structure is invalid (indices "
        "must be < 4); using it could read outside its arrays, so maas_nb refuses it."
    )
    data = flavors.get("sklearn").save(model)
    # (register() itself would predict on a sample first: this is the attacker's file)
    with pytest.raises(UntrustedModelError) as info:
        flavors.get("sklearn").check_trusted(data, name="sparse", trusted=())
    assert str(info.value).startswith(f"Model 'sparse' {expected}")
    put_version(registry, "sparse", data)
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("sparse")
    assert str(info.value).startswith(f"Model 'sparse:1' {expected}")


def _widen(estimator, width):
    """Give *estimator* a Tree of *width* features (same nodes) that splits on its last."""
    from sklearn.tree._tree import Tree

    old = estimator.tree_
    tree = Tree(width, old.n_classes, old.n_outputs)
    tree.__setstate__(old.__getstate__())
    tree.feature[0] = width - 1
    estimator.tree_, estimator.n_features_in_ = tree, width


def _without_width(iris):
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    model = DecisionTreeClassifier(max_depth=2).fit(X, y)
    _widen(model, 10**9)
    del model.n_features_in_  # scikit-learn then skips its input-width check
    return model


def _inner_width(iris):
    model = _forest(iris)
    _widen(model.estimators_[0], 10**9)  # the forest checks 4 columns, then trusts its trees
    return model


def _tree_width(iris):
    model = _forest(iris)
    _widen(model.estimators_[0], 10**9)
    model.estimators_[0].n_features_in_ = 4
    return model


@pytest.mark.parametrize(
    ("make", "problem"),
    [
        (_without_width, "no enclosing estimator says how many features its input has"),
        (_inner_width, "node 0 splits on feature 999999999 of 4"),
        (_tree_width, "it has 1000000000 features in an estimator of 4"),
    ],
    ids=["no-n_features_in_", "inner-estimator-wider", "tree-wider-than-its-estimator"],
)
def test_a_tree_is_bounded_by_the_narrowest_enclosing_estimator(registry, iris, make, problem):
    put_version(registry, "wide", flavors.get("sklearn").save(make(iris)))
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("wide")
    assert f"contains a Tree whose nodes are out of range ({problem});" in str(info.value)


def test_pipelines_and_stacking_may_widen_the_input_of_their_trees(registry, iris):
    from sklearn.ensemble import RandomForestClassifier, StackingClassifier
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import PolynomialFeatures
    from sklearn.tree import DecisionTreeClassifier

    X, y = iris
    models = {
        "poly": make_pipeline(PolynomialFeatures(3), DecisionTreeClassifier(random_state=0)),
        "stack": StackingClassifier(
            [("lr", LogisticRegression(max_iter=1000))],
            final_estimator=RandomForestClassifier(3, random_state=0),
            passthrough=True,
        ),
    }
    for name, model in models.items():
        model.fit(X, y)
        maas_nb.register(model, name)
        assert maas_nb.load(name).predict(X[:5]).tolist() == model.predict(X[:5]).tolist()


def _categorical_boosted(iris):
    from sklearn.ensemble import HistGradientBoostingClassifier

    X, y = iris
    return HistGradientBoostingClassifier(max_iter=2, categorical_features=[0]).fit(
        np.c_[y % 2, X], y
    )


def _unmark_categories(model):
    model._bin_mapper.is_categorical_[:] = 0


def _huge_category(model):
    model._bin_mapper.bin_thresholds_[0] = np.array([0.0, 300.0])


def _short_mapper(model):
    model._bin_mapper.is_categorical_ = model._bin_mapper.is_categorical_[:1]


@pytest.mark.parametrize(
    ("corrupt", "problem"),
    [
        (_unmark_categories, "a categorical split on feature 0, which the bin mapper does not"),
        (_huge_category, "feature 0 has known categories outside 0..255"),
        (_short_mapper, "the bin mapper describes 1 and 5 features for an input of 5"),
    ],
    ids=["split-on-a-numeric-feature", "category-past-the-bitset", "bin-mapper-too-short"],
)
def test_a_boosted_model_whose_bins_do_not_match_its_trees_is_refused(
    registry, iris, corrupt, problem
):
    model = _categorical_boosted(iris)
    corrupt(model)
    put_version(registry, "bins", flavors.get("sklearn").save(model))
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("bins")
    assert str(info.value).startswith(
        f"Model 'bins:1' contains a HistGradientBoostingClassifier whose bins do not match "
        f"its trees ({problem}"
    )


@pytest.mark.parametrize(
    ("metric", "params", "state", "problem"),
    [
        ("seuclidean", {"V": np.ones(4)}, (2.0, np.ones(1), np.zeros((1, 1))), "weighs (1,)"),
        ("minkowski", {"w": np.ones(4)}, (3.0, np.ones(2), np.zeros((1, 1))), "(2,)"),
        ("mahalanobis", {"VI": np.eye(4)}, (2.0, np.ones(1), np.eye(2)), "shape (2, 2) for 4"),
    ],
)
def test_a_neighbour_tree_metric_sized_for_other_data_is_refused(
    registry, iris, metric, params, state, problem
):
    from sklearn.neighbors import KNeighborsClassifier

    X, y = iris
    model = KNeighborsClassifier(algorithm="ball_tree", metric=metric, metric_params=params)
    model.fit(X, y)
    ok = flavors.get("sklearn").save(model)
    next(s for s in model._tree.__getstate__() if "Distance" in type(s).__name__).__setstate__(
        state
    )
    put_version(registry, "metric", flavors.get("sklearn").save(model))
    with pytest.raises(UntrustedModelError, match=re.escape(problem)):
        maas_nb.load("metric")
    put_version(registry, "good", ok)
    assert maas_nb.load("good").predict(X[:3]).tolist() == y[:3].tolist()
