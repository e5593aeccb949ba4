import numpy as np
import pandas as pd
import pytest

import maas_nb
from maas_nb.exceptions import SignatureError
from maas_nb.flavors.signature import Signature, TensorSpec, infer_signature


def test_dataframe_sample_names_the_columns(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    df = pd.DataFrame(X, columns=["sepal_length", "sepal_width", "petal_length", "petal_width"])
    model = LogisticRegression(max_iter=1000).fit(df, y)
    v = maas_nb.register(model, "iris", sample=df.head())
    assert v.signature.kind == "dataframe"
    assert v.signature.columns == ("sepal_length", "sepal_width", "petal_length", "petal_width")
    assert str(v.signature).startswith("(sepal_length: float64[N], sepal_width: float64[N]")


def test_signature_without_sample_comes_from_fitted_width(classifier):
    v = maas_nb.register(classifier, "iris")
    assert v.signature.kind == "tensor" and v.signature.n_features == 4


def test_text_pipeline_without_sample_has_no_signature(text_pipeline):
    assert maas_nb.register(text_pipeline, "reviews").signature is None


def test_signature_round_trips_through_dict():
    sig = infer_signature(np.zeros((2, 3)), {"predictions": np.zeros(2, dtype="int64")})
    assert Signature.from_dict(sig.to_dict()) == sig
    assert sig.inputs == (TensorSpec("input", "float64", (-1, 3)),)


SIG = infer_signature(np.zeros((2, 4)), {"predictions": np.zeros(2)})
DF_SIG = infer_signature(pd.DataFrame({"a": [1.0], "b": [2.0]}), {"predictions": np.zeros(1)})
TEXT_SIG = infer_signature(["some text"], {"predictions": np.array(["pos"])})


@pytest.mark.parametrize(
    ("sig", "X", "message"),
    [
        (
            SIG,
            np.zeros((2, 3)),
            "X has 3 features, but model 'iris:2' expects 4 features of float64.",
        ),
        (
            SIG,
            np.zeros(4),
            "Model 'iris:2' expects a 2-D input (rows x 4 features), but got ndarray of shape (4,). Reshape a single row with X.reshape(1, -1).",
        ),
        (SIG, ["text"], "Model 'iris:2' expects 4 features of float64, but got a list of strings."),
        (
            DF_SIG,
            pd.DataFrame({"a": [1.0]}),
            "Input is missing column(s) 'b'; model 'iris:2' expects 2 columns (a, b), got columns a.",
        ),
        (
            TEXT_SIG,
            np.zeros((1, 2)),
            "Model 'iris:2' expects a list of strings, but got ndarray of shape (1, 2).",
        ),
    ],
)
def test_check_names_what_was_expected_and_received(sig, X, message):
    with pytest.raises(SignatureError) as info:
        sig.check(X, model="iris:2")
    assert str(info.value) == message
