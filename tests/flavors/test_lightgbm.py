"""The LightGBM flavor's artifact: a JSON header line, then LightGBM's own model text.

Loading reads nothing but JSON and LightGBM's text, so every test here crafts an artifact
and checks what the flavor refuses, with the message it gives.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import maas_nb
from maas_nb import flavors
from maas_nb.exceptions import ModelLoadError, UnsupportedModelError

FLAVOR = flavors.get("lightgbm")


@pytest.fixture(scope="module")
def model(iris):
    import lightgbm

    X, y = iris
    return lightgbm.LGBMClassifier(n_estimators=4, num_leaves=5, verbose=-1).fit(X, y)


def test_the_artifact_is_a_json_line_then_lightgbm_text(model):
    header, _, text = FLAVOR.save(model).partition(b"\n")
    assert json.loads(header) == {
        "maas_nb": "lightgbm",
        "format": 1,
        "estimator": "LGBMClassifier",
        "classes": {"dtype": "<i8", "values": [0, 1, 2]},
    }
    assert text.decode() == model.booster_.model_to_string()


def test_a_lightgbm_model_is_claimed_before_scikit_learn(model):
    # LGBMClassifier is a scikit-learn estimator too; skops would need its types trusted.
    assert flavors.for_model(model).name == "lightgbm"


def header_with(**changes):
    header = {"maas_nb": "lightgbm", "format": 1, "estimator": "LGBMRegressor"}
    header.update(changes)
    return {k: v for k, v in header.items() if v is not None}


@pytest.mark.parametrize(
    ("header", "problem"),
    [
        (
            header_with(estimator="builtins.eval"),
            "estimator 'builtins.eval', expected one of ['Booster', 'LGBMClassifier', 'LGBMRanker', 'LGBMRegressor']",
        ),
        (header_with(__reduce__="os.system"), "unknown keys ['__reduce__']"),
        (header_with(format=2), "format 2, expected 1"),
        (header_with(maas_nb="skops"), "it does not start with {'maas_nb': 'lightgbm', ...}"),
        (
            header_with(estimator="LGBMClassifier"),
            "an LGBMClassifier has class labels, and nothing else has",
        ),
        (header_with(feature_names=[1, 2]), "feature_names must be a list of strings"),
    ],
)
def test_a_header_off_the_format_is_refused(model, header, problem):
    text = model.booster_.model_to_string().encode()
    data = json.dumps(header).encode() + b"\n" + text
    with pytest.raises(ModelLoadError) as err:
        FLAVOR.load(data, uri="m:1", trusted=(), allow_pickle=False)
    assert str(err.value) == (
        f"Model 'm:1' has a LightGBM header maas_nb cannot read: {problem}. Re-register the "
        "model with this version of maas_nb."
    )


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            b"\x80\x04\x95 a pickle\n",
            "Model 'm:1' is not a maas_nb LightGBM artifact (a JSON line, then LightGBM's model text)",
        ),
        (
            json.dumps(header_with()).encode() + b"\ntree\nnot a model",
            "LightGBM failed to load model 'm:1'",
        ),
    ],
)
def test_what_is_not_a_lightgbm_artifact_is_refused(data, message):
    with pytest.raises(ModelLoadError, match=r"^" + re.escape(message)):
        FLAVOR.load(data, uri="m:1", trusted=(), allow_pickle=False)


def test_a_custom_objective_is_refused_with_the_reason(iris):
    import lightgbm

    def squared(y_true, y_pred):
        return y_pred - y_true, np.ones_like(y_pred)

    X, y = iris
    custom = lightgbm.LGBMRegressor(objective=squared, n_estimators=2, verbose=-1).fit(X, y)
    with pytest.raises(UnsupportedModelError) as err:
        maas_nb.register(custom, "custom")
    assert str(err.value) == (
        "This LGBMRegressor was fitted with a custom objective function ('squared'), so "
        "LightGBM answers raw scores and the function cannot be stored as text. Fit it with "
        "a built-in objective to register it."
    )


def test_a_loaded_model_registers_again_with_the_same_answers(model, iris):
    X, _ = iris
    maas_nb.register(model, "gbm", sample=X[:3])
    loaded = maas_nb.load("gbm")
    assert repr(loaded) == "LightGBMClassifierModel(LGBMClassifier, 4 features)"
    again = maas_nb.register(loaded, "gbm", sample=X[:3])
    assert (again.flavor, again.version) == ("lightgbm", 2)
    np.testing.assert_array_equal(maas_nb.load("gbm:2").predict_proba(X), model.predict_proba(X))


def test_the_refusal_of_an_unknown_model_names_every_flavor_lightgbm_included():
    from tests.custom_models import PlainPredictor

    with pytest.raises(UnsupportedModelError) as err:
        flavors.for_model(PlainPredictor())
    assert str(err.value) == (
        "No flavor can store a tests.custom_models.PlainPredictor: maas_nb stores LightGBM "
        "models (text format), scikit-learn estimators and pipelines (with skops) and Keras "
        "models (.keras). For any other object with a predict() method, pass "
        "allow_pickle=True if you accept that loading it can run arbitrary code."
    )
