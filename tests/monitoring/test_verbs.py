"""``maas deploy --log-sample``, ``maas predictions`` and ``maas drift`` (the same verbs
as ``%maas``: tests/notebook/test_front_ends.py runs both front ends)."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from sklearn.linear_model import LinearRegression

import maas_nb
from maas_nb.cli import main
from maas_nb.serving.outcomes import Outcome
from maas_nb.serving.prediction_log import PredictionLog
from tests.helpers import offer


def run(capsys, *argv):
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def logged(home):
    """'line' (x0, x1) registered with 2,000 training rows, and 200 logged rows of traffic
    whose x1 moved by one standard deviation."""
    rng = np.random.default_rng(0)
    X = rng.normal(size=(2_000, 2))
    maas_nb.register(LinearRegression().fit(X, X[:, 0]), "line", sample=X[:5], reference=X)
    maas_nb.registry().put_deployment("line", "line:1")
    log = PredictionLog(home, lambda name: {"sample": 1.0}, rng=random.Random(0))
    live = rng.normal(size=(200, 2)) + np.array([0.0, 1.0])
    for i in range(0, 200, 10):
        batch = live[i : i + 10]
        outputs = {"predictions": batch[:, 0]}
        offer(log, Outcome("line", "line", 1, f"r{i}", 0.001, 10, batch, outputs, False, 0.0))
    log.close()
    return live


def test_drift_prints_a_row_per_feature_and_flags_the_moved_one(capsys, logged):
    code, out, err = run(capsys, "drift", "line")
    assert code == 0, err
    lines = [line.split() for line in out.splitlines()]
    assert lines[0] == [
        "FEATURE",
        "ROWS",
        "REF",
        "ROWS",
        "REF",
        "MEAN",
        "MEAN",
        "KS",
        "P",
        "FLAGGED",
        "NOTE",
    ]
    assert [(row[0], row[1], row[2], row[-1]) for row in lines[1:]] == [
        ("x0", "200", "2000", "-"),
        ("x1", "200", "2000", "DRIFT"),
    ]
    code, out, err = run(capsys, "--json", "drift", "line", "--alpha", "1e-300")
    assert [f["flagged"] for f in json.loads(out)["features"]] == [False, False]


def test_predictions_prints_the_newest_rows(capsys, logged):
    code, out, err = run(capsys, "predictions", "line", "--limit", "3")
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0].split()[:7] == [
        "AT",
        "REQUEST_ID",
        "MODEL",
        "VERSION",
        "LATENCY_MS",
        "SHADOW",
        "ROW",
    ]
    assert [line.split()[2:4] for line in lines[1:]] == [["r190", "line"]] * 3  # "at" is two words
    code, out, err = run(capsys, "--json", "predictions", "line", "--limit", "1")
    (row,) = json.loads(out)
    assert row["x1"] == pytest.approx(logged[-1, 1]) and row["predictions"] == pytest.approx(
        logged[-1, 0]
    )


def test_deploy_with_a_log_sample_records_it_in_the_deployment(capsys, classifier, iris):
    X, _ = iris
    maas_nb.register(classifier, "iris", sample=X[:5])
    code, out, err = run(
        capsys, "--json", "deploy", "iris", "--log-sample", "0.25", "--log-max-bytes", "1048576"
    )
    assert code == 0, err
    assert json.loads(out)["status"] == "ready"
    config = maas_nb.registry().get_deployment("iris").config
    assert config["log"] == {"sample": 0.25, "max_bytes": 1_048_576}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--log-sample", "2"],
            "log sample is the fraction of requests logged, from 0 to 1, got 2.0; for 1% write 0.01.",
        ),
        (
            ["--log-sample", "0.1", "--log-max-bytes", "100"],
            "log max_bytes must be at least 16384 (16 KiB), got 100.",
        ),
    ],
)
def test_deploy_refuses_bad_log_settings_before_writing(capsys, classifier, args, message):
    maas_nb.register(classifier, "iris")
    code, _, err = run(capsys, "deploy", "iris", *args)
    assert code != 0 and message in err
    assert maas_nb.registry().list_deployments() == []


def test_a_deployment_without_a_log_says_how_to_get_one(capsys, logged):
    code, _, err = run(capsys, "predictions", "other")
    assert code != 0
    assert "Deployment 'other' has no prediction log in" in err
    assert "--log-sample 0.01" in err
