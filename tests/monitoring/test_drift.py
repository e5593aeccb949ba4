"""Input drift against the statistics a version recorded at registration, and the
prediction log as a DataFrame.

The log is written by the server's own sink (`PredictionLog`), handed `Outcome` objects
as the server hands them (part A of issue 16 adds that call on every request).
"""

from __future__ import annotations

import random

import numpy as np
import pandas as pd
import pytest
from sklearn.linear_model import LinearRegression

import maas_nb
from maas_nb.exceptions import DeploymentNotFoundError, NotFoundError
from maas_nb.monitoring import compare
from maas_nb.registry import reference
from maas_nb.serving.outcomes import Outcome
from maas_nb.serving.prediction_log import PredictionLog
from tests.helpers import offer

FEATURES = ["age", "income", "score", "tenure"]
SEEDS = [0, 1, 2, 3, 4]


def training(seed: int, rows: int = 5_000) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame(
        {
            "age": rng.normal(40, 10, rows),
            "income": rng.lognormal(10, 0.5, rows),  # skewed: the test assumes no shape
            "score": rng.uniform(0, 1, rows),
            "tenure": rng.exponential(3, rows),
        }
    )


def traffic(seed: int, rows: int, shift: str | None = None) -> pd.DataFrame:
    """Live rows from the training distribution (another seed), *shift*'s mean moved by
    one standard deviation."""
    frame = training(1_000 + seed, rows)
    if shift is not None:
        frame[shift] += training(seed)[shift].std()
    return frame


def log_traffic(
    home, frame: pd.DataFrame, *, version=1, deployment="churn", per_request=5, shadow=False
):
    log = PredictionLog(home, lambda name: {"sample": 1.0}, rng=random.Random(0))
    for start in range(0, len(frame), per_request):
        batch = frame.iloc[start : start + per_request]
        offer(
            log,
            Outcome(
                deployment=deployment,
                model=deployment,
                version=version,
                request_id=f"r{start}",
                latency_s=0.001,
                rows=len(batch),
                inputs=batch,
                outputs={"predictions": np.zeros(len(batch))},
                shadow=shadow,
                at=1_700_000_000.0 + start,
            ),
        )
    log.close()


@pytest.fixture
def churn(home):
    """churn:1 registered with 5,000 training rows as its reference, deployed as 'churn'."""
    X = training(0)
    model = LinearRegression().fit(X, X["age"] * 0.1)
    maas_nb.register(model, "churn", sample=X.head(5), reference=X)
    maas_nb.registry().put_deployment("churn", "churn:1")
    return model


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("shifted", FEATURES)
def test_a_mean_moved_by_one_std_is_flagged_and_only_that_feature(seed, shifted):
    ref = reference.statistics(training(seed))
    result = compare(ref, traffic(seed, 500, shift=shifted))
    assert result.index.tolist() == FEATURES
    assert result["flagged"].tolist() == [f == shifted for f in FEATURES], result
    assert result.loc[shifted, "statistic"] > 0.25


@pytest.mark.parametrize("seed", SEEDS)
@pytest.mark.parametrize("rows", [100, 500, 5_000])
def test_unshifted_traffic_raises_no_flag(seed, rows):
    ref = reference.statistics(training(seed))
    result = compare(ref, traffic(seed, rows))
    assert not result["flagged"].any(), result
    # Below the test's 1% critical value for these sizes (the sketch counts as 500 rows).
    assert (result["statistic"] < 1.63 * np.sqrt(1 / rows + 1 / 500)).all(), result


def test_too_few_rows_are_never_judged():
    ref = reference.statistics(training(0))
    result = compare(ref, traffic(0, 20, shift="age"))
    assert not result["flagged"].any()
    assert set(result["note"]) == {"too few rows (20 < 30)"}


def test_a_five_row_reference_says_to_register_the_training_rows():
    ref = reference.statistics(training(0).head(5))
    result = compare(ref, traffic(0, 500, shift="age"))
    assert not result["flagged"].any()
    assert set(result["note"]) == {"reference of 5 rows: register with reference=X_train"}


def test_drift_of_a_deployment_from_its_log(home, churn):
    log_traffic(home, traffic(0, 600, shift="income"))
    result = maas_nb.drift("churn")
    assert result.attrs["version"] == "churn:1"
    assert result["flagged"].tolist() == [False, True, False, False]
    assert result.loc["income", "rows"] == 600
    assert result.loc["income", "reference_rows"] == 5_000
    assert result.loc["income", "mean"] > result.loc["income", "reference_mean"]


def test_shadow_copies_do_not_count_twice(home, churn):
    live = traffic(0, 300)
    log_traffic(home, live)
    log_traffic(home, traffic(1, 300, shift="age"), shadow=True)
    result = maas_nb.drift("churn")
    assert result.loc["age", "rows"] == 300 and not result["flagged"].any()


def test_the_reference_is_the_version_that_answered_last_or_the_one_asked_for(home, churn):
    X = training(5) * 2 + 100.0  # a version trained on other data entirely
    maas_nb.register(LinearRegression().fit(X, X["age"]), "churn", sample=X.head(5), reference=X)
    log_traffic(home, traffic(0, 300))
    assert not maas_nb.drift("churn")["flagged"].any()
    assert maas_nb.drift("churn", 2)["flagged"].all()
    assert maas_nb.drift("churn", "churn:2").attrs["version"] == "churn:2"
    log_traffic(home, traffic(2, 300), version=2)
    assert maas_nb.drift("churn").attrs["version"] == "churn:2"


def test_a_version_without_statistics_says_how_to_record_them(home):
    X = training(0)
    maas_nb.register(LinearRegression().fit(X.to_numpy(), X["age"]), "bare")
    maas_nb.registry().put_deployment("bare", "bare:1")
    log_traffic(home, traffic(0, 50), deployment="bare")
    with pytest.raises(NotFoundError) as caught:
        maas_nb.drift("bare")
    assert str(caught.value) == (
        "Version bare:1 has no input statistics to compare the traffic with. Register the "
        "model with its training rows, e.g. maas_nb.register(model, 'bare', "
        "sample=X_train[:5], reference=X_train), and deploy that version."
    )


def test_the_log_reads_as_a_dataframe(home, churn):
    log_traffic(home, traffic(0, 12), per_request=4)
    frame = maas_nb.prediction_log("churn")
    assert frame.columns.tolist() == [
        "at",
        "request_id",
        "model",
        "version",
        "latency_ms",
        "shadow",
        "row",
        *FEATURES,
        "predictions",
    ]
    assert len(frame) == 12
    assert frame["request_id"].tolist() == [f"r{i}" for i in (0, 4, 8) for _ in range(4)]
    assert frame["row"].tolist() == [0, 1, 2, 3] * 3
    assert str(frame["at"].dt.tz) == "UTC"
    assert frame["at"].iloc[0] == pd.Timestamp(1_700_000_000, unit="s", tz="UTC")
    np.testing.assert_allclose(frame[FEATURES].to_numpy(), traffic(0, 12).to_numpy())
    assert maas_nb.prediction_log("churn", limit=5)["row"].tolist() == [3, 0, 1, 2, 3]


def test_an_output_named_like_a_feature_is_prefixed(home):
    log = PredictionLog(home, lambda name: {"sample": 1.0})
    frame = pd.DataFrame({"predictions": [1.0], "x": [2.0]})
    offer(
        log, Outcome("d", "m", 1, "r", 0.001, 1, frame, {"predictions": np.array([3])}, False, 0.0)
    )
    log.close()
    row = maas_nb.prediction_log("d").iloc[0]
    assert (row["predictions"], row["x"], row["output_predictions"]) == (1.0, 2.0, 3)


def test_an_unlogged_deployment_says_how_to_log_it(home, churn):
    with pytest.raises(DeploymentNotFoundError) as caught:
        maas_nb.prediction_log("churn")
    assert str(caught.value) == (
        f"Deployment 'churn' has no prediction log in {home / 'predictions'}. Deploy it with "
        "log_sample (maas deploy MODEL --name churn --log-sample 0.01) and send it requests; "
        "the log is kept beside the home of the server that answers."
    )
