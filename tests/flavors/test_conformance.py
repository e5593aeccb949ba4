"""The same save/load/predict round trip, run over every flavor.

The expected answers come from each library's own calls on the original, never-saved
model (scikit-learn's and LightGBM's ``predict``/``predict_proba``, Keras's
``Model.predict``), not from
the flavor under test, so a flavor that saves, loads or predicts wrongly fails here.
"""

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pytest

import maas_nb
from maas_nb import flavors
from tests.conftest import CORPUS


@dataclass
class Case:
    flavor: str
    model: Any
    sample: Any
    kind: str
    inputs: list
    outputs: list
    reference: Callable[[Any, Any], dict[str, Any]]
    exact: bool = True
    allow_pickle: bool = False


def scikit_learn_answers(model: Any, X: Any) -> dict[str, Any]:
    """What scikit-learn itself answers for *X*."""
    answers = {"predictions": model.predict(X)}
    if hasattr(model, "predict_proba"):
        answers["probabilities"] = model.predict_proba(X)
    return answers


def booster_answers(model: Any, X: Any) -> dict[str, Any]:
    """What a LightGBM Booster itself answers for *X*."""
    return {"predictions": model.predict(X)}


def keras_answers(model: Any, X: Any) -> dict[str, Any]:
    """What Keras itself answers for *X*."""
    return {"output": model.predict(np.asarray(X), verbose=0)}


@pytest.fixture(scope="module")
def lightgbm_models(iris):
    """An LGBMClassifier (string labels), an LGBMRegressor and a bare Booster, fitted once."""
    import lightgbm

    X, y = iris
    names = np.array(["setosa", "versicolor", "virginica"], dtype=object)
    small = {"n_estimators": 8, "num_leaves": 7, "verbose": -1}
    return {
        "classifier": lightgbm.LGBMClassifier(**small).fit(X, names[y]),
        "binary": lightgbm.LGBMClassifier(**small).fit(X, y == 2),
        "regressor": lightgbm.LGBMRegressor(**small).fit(X[:, :3], X[:, 3]),
        "booster": lightgbm.train(
            {"objective": "regression", "num_leaves": 7, "verbose": -1},
            lightgbm.Dataset(X[:, :3], X[:, 3]),
            num_boost_round=8,
        ),
    }


LIGHTGBM = {
    "classifier": (
        [("predictions", "str", (-1,)), ("probabilities", "float64", (-1, 3))],
        scikit_learn_answers,
    ),
    "binary": (
        [("predictions", "bool", (-1,)), ("probabilities", "float64", (-1, 2))],
        scikit_learn_answers,
    ),
    "regressor": ([("predictions", "float64", (-1,))], scikit_learn_answers),
    "booster": ([("predictions", "float64", (-1,))], booster_answers),
}


@pytest.fixture(
    params=[
        "sklearn-classifier",
        "sklearn-regressor",
        "sklearn-text",
        "keras-mlp",
        "pickle",
        *(f"lightgbm-{kind}" for kind in LIGHTGBM),
    ]
)
def case(request, iris, classifier, regressor, text_pipeline):
    X, _ = iris
    if request.param.startswith("lightgbm-"):
        kind = request.param.removeprefix("lightgbm-")
        model = request.getfixturevalue("lightgbm_models")[kind]
        width = 4 if kind in ("classifier", "binary") else 3
        outputs, reference = LIGHTGBM[kind]
        sample = X[::15, :width]  # every class, so a shuffled answer shows
        return Case(
            "lightgbm",
            model,
            sample,
            "tensor",
            [("input", "float64", (-1, width))],
            outputs,
            reference,
        )
    if request.param == "sklearn-classifier":
        return Case(
            "sklearn",
            classifier,
            X[::15],  # every class, so a shuffled answer shows
            "tensor",
            [("input", "float64", (-1, 4))],
            [("predictions", "int64", (-1,)), ("probabilities", "float64", (-1, 3))],
            scikit_learn_answers,
        )
    if request.param == "sklearn-regressor":
        return Case(
            "sklearn",
            regressor,
            X[:10, :3],
            "tensor",
            [("input", "float64", (-1, 3))],
            [("predictions", "float64", (-1,))],
            scikit_learn_answers,
        )
    if request.param == "sklearn-text":
        docs = [doc for doc, _ in CORPUS] + ["a great new film", "awful and boring"]
        return Case(
            "sklearn",
            text_pipeline,
            docs,
            "text",
            [("text", "str", (-1,))],
            [("predictions", "str", (-1,)), ("probabilities", "float64", (-1, 2))],
            scikit_learn_answers,
        )
    if request.param == "keras-mlp":
        model, data = request.getfixturevalue("keras_mlp")
        return Case(
            "keras",
            model,
            data[:10],
            "tensor",
            [("input", "float32", (-1, 4))],
            [("output", "float32", (-1, 1))],
            keras_answers,
            # predict() runs the graph batched and compiled; the flavor calls the model.
            exact=False,
        )
    return Case(
        "pickle",
        classifier,
        X[::15],
        "tensor",
        [("input", "float64", (-1, 4))],
        [("predictions", "int64", (-1,)), ("probabilities", "float64", (-1, 3))],
        scikit_learn_answers,
        allow_pickle=True,
    )


def test_round_trip(case):
    v = maas_nb.register(case.model, "m", sample=case.sample, allow_pickle=case.allow_pickle)
    assert v.flavor == case.flavor
    sig = v.signature
    assert sig.kind == case.kind
    assert [(s.name, s.dtype, s.shape) for s in sig.inputs] == case.inputs
    assert [(s.name, s.dtype, s.shape) for s in sig.outputs] == case.outputs

    loaded = maas_nb.load("m", allow_pickle=case.allow_pickle)
    expected = case.reference(case.model, case.sample)
    actual = flavors.get(v.flavor).predict(loaded, case.sample)
    assert actual.keys() == expected.keys()
    for name in expected:
        got, want = np.asarray(actual[name]), np.asarray(expected[name])
        assert got.dtype == want.dtype, name
        if case.exact:
            np.testing.assert_array_equal(got, want, err_msg=name)
        else:
            np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-7, err_msg=name)
    # The signature accepts the sample it was inferred from.
    sig.check(case.sample, model="m:1")


def test_record_survives_a_fresh_registry(case, home):
    v = maas_nb.register(case.model, "m", sample=case.sample, allow_pickle=case.allow_pickle)
    assert maas_nb.Registry(home).get("m:1") == v


@pytest.mark.parametrize("estimator", ["forest", "extra-trees", "tree"])
def test_tree_classifiers_walk_their_trees_once_with_the_same_answers(estimator):
    from sklearn.datasets import make_classification
    from sklearn.ensemble import ExtraTreesClassifier, RandomForestClassifier
    from sklearn.tree import DecisionTreeClassifier

    X, y = make_classification(
        n_samples=300, n_features=6, n_classes=3, n_informative=4, random_state=0
    )
    model = {
        "forest": RandomForestClassifier(n_estimators=15, random_state=0),
        "extra-trees": ExtraTreesClassifier(n_estimators=15, random_state=0),
        "tree": DecisionTreeClassifier(random_state=0),
    }[estimator].fit(X, y + 10)
    for rows in (X[:1], X[:7], X, X.astype("float32"), X.astype("int64")):
        outputs = flavors.get("sklearn").predict(model, rows)
        # Bit-identical to scikit-learn's own answers, not merely close.
        np.testing.assert_array_equal(outputs["predictions"], model.predict(rows))
        np.testing.assert_array_equal(outputs["probabilities"], model.predict_proba(rows))


def test_forest_fast_path_leaves_unusual_inputs_to_scikit_learn():
    import pandas as pd
    from sklearn.ensemble import RandomForestClassifier

    from maas_nb.flavors.forests import forest_proba

    X = np.random.default_rng(0).normal(size=(50, 3))
    y = (X[:, 0] > 0).astype(int)
    model = RandomForestClassifier(n_estimators=5, random_state=0).fit(X, y)
    assert forest_proba(model, X) is not None
    with_nan = X.copy()
    with_nan[0, 0] = np.nan
    assert forest_proba(model, with_nan) is None
    assert forest_proba(model, X[:, :2]) is None
    assert forest_proba(model, pd.DataFrame(X)) is None
    assert forest_proba(model, X[0]) is None
    two_outputs = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, np.c_[y, y])
    assert forest_proba(two_outputs, X) is None


def test_a_refitted_forest_answers_with_its_new_trees():
    from sklearn.ensemble import RandomForestClassifier

    from maas_nb.flavors.forests import forest_proba

    rng = np.random.default_rng(1)
    X = rng.normal(size=(80, 4))
    model = RandomForestClassifier(n_estimators=7, random_state=0).fit(X, X[:, 0] > 0)
    np.testing.assert_array_equal(forest_proba(model, X), model.predict_proba(X))
    model.fit(X, X[:, 1] > 0)  # the same object, other trees: nothing cached may answer
    np.testing.assert_array_equal(forest_proba(model, X), model.predict_proba(X))


def test_a_warm_started_forest_answers_with_its_added_trees():
    from sklearn.ensemble import RandomForestClassifier

    from maas_nb.flavors.forests import forest_proba

    X = np.random.default_rng(2).normal(size=(80, 4))
    model = RandomForestClassifier(n_estimators=5, warm_start=True, random_state=0)
    model.fit(X, X[:, 0] > 0)
    np.testing.assert_array_equal(forest_proba(model, X), model.predict_proba(X))
    model.set_params(n_estimators=9).fit(X, X[:, 0] > 0)  # appends to the same list
    np.testing.assert_array_equal(forest_proba(model, X), model.predict_proba(X))
