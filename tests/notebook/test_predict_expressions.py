"""``%maas predict NAME EXPR``: the rest of the line is one Python expression, unsplit."""

import numpy as np
import pytest
from IPython.core.error import UsageError

import maas_nb
from maas_nb.deploying import get_deployment


def test_predict_takes_the_rest_of_the_line_as_one_expression(ip, iris, text_pipeline):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    two_features = LogisticRegression(max_iter=1000).fit(X[:, :2], y)
    maas_nb.register(two_features, "iris", sample=X[:5, :2])
    maas_nb.register(text_pipeline, "news")
    ip.user_ns["X"] = X
    ip.run_line_magic("maas", "deploy iris --max-queue-rows 100")
    ip.run_line_magic("maas", "deploy news")
    assert get_deployment("iris").config["max_queue_rows"] == 100

    got = ip.run_line_magic("maas", "predict iris X[:3, :2]")
    np.testing.assert_array_equal(got, two_features.predict(X[:3, :2]))
    got = ip.run_line_magic("maas", "predict news ['Bake bread', 'goal in the match']")
    assert list(got) == list(text_pipeline.predict(["Bake bread", "goal in the match"]))


def test_predict_without_an_expression_says_how(ip):
    with pytest.raises(UsageError) as info:
        ip.run_line_magic("maas", "predict iris")
    assert str(info.value) == (
        "%maas predict iris needs an input after the deployment name: "
        "%maas predict iris X_test[:5] (any Python expression, no quotes needed)."
    )
