"""A run's history: the steps `maas_nb.log` records, the per-epoch series a fit reports, and
where they are drawn (``show``); ``compare`` of versions' metrics on the command line."""

import argparse
import json

import numpy as np
import pytest

import maas_nb
from maas_nb import tracking
from maas_nb.cli import main
from maas_nb.commands import COMMANDS, Context
from maas_nb.commands.cards import run_history
from maas_nb.exceptions import ConfigurationError, InvalidMetadataError


def train(iris, name="iris", *, C=1.0, steps=3, register=True):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    with maas_nb.training_run(name) as run:
        for step in range(steps):
            maas_nb.log(step=step * 10, loss=1 / (step + 1))
            maas_nb.log(accuracy=step / steps)  # steps counted from 0
        model = LogisticRegression(C=C, max_iter=1000).fit(X, y)
        return run.complete(model, X_train=X, y_train=y, eval=(X, y), register=register)


def show(uri):
    """The command table's ``show`` of *uri*, as both front ends get it."""
    ctx = Context(opener=maas_nb.registry, prog="maas", read_input=json.loads, input_example="")
    parser = COMMANDS["show"].parser(lambda name, summary: argparse.ArgumentParser(name))
    return COMMANDS["show"].run(ctx, parser.parse_args([uri]))


def test_logged_steps_are_recorded_with_the_run_and_not_copied_into_the_version(home, iris):
    result = train(iris)
    history = dict(maas_nb.registry().get_run(result.run.id).lineage["history"])
    assert history == {
        "steps": {
            "loss": [[0, 1.0], [10, 0.5], [20, 1 / 3]],
            "accuracy": [[0, 0.0], [1, 1 / 3], [2, 2 / 3]],
        }
    }
    assert "history" not in result.version.lineage
    assert run_history(maas_nb.registry(), result.version.run_id) == history


def test_show_draws_the_history_in_its_html_and_keeps_its_text(home, iris, capsys):
    uri = train(iris).version.uri
    drawn = show(uri)
    assert '<g id="maas-series-step-loss">' in drawn.html_extra
    assert '<g id="maas-series-step-accuracy">' in drawn.html_extra
    assert main(["show", uri]) == 0
    assert "<svg" not in capsys.readouterr().out
    # A version registered outside a run has nothing to draw.
    plain = maas_nb.register(_fitted(iris), "plain")
    assert show(plain.uri).html_extra == ""


def _fitted(iris):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000).fit(*iris)


def test_log_outside_a_run_says_where_to_call_it(home):
    with pytest.raises(ConfigurationError) as caught:
        maas_nb.log(step=1, loss=0.5, accuracy=0.9)
    assert str(caught.value) == (
        "maas_nb.log(loss=..., accuracy=...) was called outside a training run, so there is "
        "no run to record it with. Call it inside a %%maas train cell or a "
        "`with maas_nb.training_run(NAME) as run:` block."
    )


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"loss": float("nan")}, "Metric 'loss' is nan; metrics must be finite numbers."),
        ({"loss": "low"}, "Metric 'loss' must be a number, got str: 'low'."),
        ({"step": float("inf"), "loss": 1.0}, "Metric 'step' is inf;"),
    ],
)
def test_log_refuses_what_is_not_a_finite_number(home, kwargs, message):
    with maas_nb.training_run("bad") as run, pytest.raises(InvalidMetadataError, match=message):
        maas_nb.log(**kwargs)
    assert run.steps == {}


def test_a_long_series_is_thinned_to_evenly_spaced_points_keeping_both_ends(home, iris):
    with maas_nb.training_run("long") as run:
        for step in range(2500):
            maas_nb.log(step=step, loss=float(step))
        result = run.complete(_fitted(iris))
    kept = maas_nb.registry().get_run(result.run.id).lineage["history"]["steps"]["loss"]
    assert len(kept) == tracking.MAX_POINTS
    assert kept[0] == [0, 0.0] and kept[-1] == [2499, 2499.0]
    gaps = np.diff([p[0] for p in kept])
    assert gaps.min() >= 2 and gaps.max() <= 3


def test_a_failed_run_keeps_the_steps_it_logged(home):
    with pytest.raises(RuntimeError, match="diverged"), maas_nb.training_run("boom"):
        maas_nb.log(loss=1.0)
        maas_nb.log(loss=2.0)
        raise RuntimeError("diverged")
    (run,) = maas_nb.list_runs("boom")
    assert run.status == "failed"
    assert run.lineage["history"] == {"steps": {"loss": [[0, 1.0], [1, 2.0]]}}
    with pytest.raises(ConfigurationError):
        maas_nb.log(loss=3.0)  # the run is over


def test_a_lightgbm_fit_with_an_eval_set_records_each_round(home, iris):
    import lightgbm

    X, y = iris
    gbm = lightgbm.LGBMRegressor(n_estimators=5, num_leaves=4, verbose=-1)
    with maas_nb.training_run("gbm") as run:
        gbm.fit(X[::2], y[::2], eval_X=(X[1::2],), eval_y=(y[1::2],))
        result = run.complete(gbm)
    epochs = maas_nb.registry().get_run(result.run.id).lineage["history"]["epochs"]
    assert list(epochs) == ["valid_0_l2"] and len(epochs["valid_0_l2"]) == 5
    assert epochs["valid_0_l2"] == pytest.approx(gbm.evals_result_["valid_0"]["l2"])


@pytest.fixture
def two(home, iris):
    first = train(iris, C=0.01).version
    second = train(iris, C=1.0).version
    return first, second


def test_compare_prints_versions_metrics_side_by_side(two, capsys):
    first, second = two
    assert main(["compare", "iris:1", "iris:2"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].split() == ["VERSION", "ACCURACY", "F1"]
    accuracy, f1 = (f"{first.metrics[m]:.4g}" for m in ("accuracy", "f1"))
    assert lines[1].split() == ["iris:1", accuracy, f1]
    assert lines[2].split()[0] == "iris:2"
    assert main(["compare", "iris:1", "iris:2", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "versions": ["iris:1", "iris:2"],
        "metrics": {
            m: {"iris:1": first.metrics[m], "iris:2": second.metrics[m]} for m in ("accuracy", "f1")
        },
    }


def test_compare_needs_two_different_versions_that_exist(two, capsys):
    assert main(["compare", "iris:1", "iris:1"]) != 0
    assert capsys.readouterr().err.strip() == (
        "maas: error: maas compare needs two or more different versions, got iris:1, iris:1 "
        "(iris:1). Example: maas compare iris:1 iris:2"
    )
    assert main(["compare", "iris:1", "iris:9"]) != 0
    assert capsys.readouterr().err == (
        "maas: error: Model 'iris' has no version 9; its versions are: 1, 2.\n"
    )
