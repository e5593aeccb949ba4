"""Every %maas verb through a real IPython shell, and a table of bad inputs."""

import numpy as np
import pytest
from IPython.core.error import UsageError

import maas_nb
import maas_nb.deploying
from maas_nb.exceptions import ModelNotFoundError
from tests.notebook.conftest import out

TRAIN = """
from sklearn.linear_model import LogisticRegression
model = LogisticRegression(max_iter=1000, C=0.5).fit(X_train, y_train)
"""


def train(ip, line, cell=TRAIN):
    return ip.run_cell_magic("maas", line, cell)


def test_help_lists_every_verb(ip):
    text = out(ip, "")
    for verb in (
        "train",
        "register",
        "models",
        "versions",
        "show",
        "compare",
        "alias",
        "unalias",
        "runs",
        "delete",
        "training-runs",
        "deploy",
        "deployments",
        "undeploy",
        "predict",
        "doctor",
    ):
        assert f"\n{verb} " in text
    assert out(ip, "help") == text
    assert text.endswith("Run %maas VERB --help for a verb's options.")
    usage = out(ip, "deploy --help")
    assert usage.startswith(
        "usage: %maas deploy [-h] [--name NAME] [--max-batch-size MAX_BATCH_SIZE]"
    )


def test_train_records_a_run_and_registers_a_version(ip, iris):
    result = train(ip, "train iris --register --alias production --eval X_test y_test")
    assert repr(result) == (
        "Training run iris\n"
        "  model       model\n"
        "  status      finished\n"
        f"  metrics     accuracy={result.value.run.metrics['accuracy']:.4g} f1={result.value.run.metrics['f1']:.4g}\n"
        "  registered  iris:1\n"
        "  aliases     production"
    )
    run = maas_nb.list_runs("iris")[0]
    assert run.status == "finished"
    assert run.params["C"] == 0.5 and run.params["max_iter"] == 1000
    ns = ip.user_ns
    assert dict(run.metrics) == sklearn_metrics(
        ns["model"], (ns["X_test"], ns["y_test"]), (ns["X_train"], ns["y_train"])
    )
    assert run.source == TRAIN
    assert run.lineage["training_data"]["X"]["shape"] == [75, 4]
    assert len(run.lineage["training_data"]["X"]["sha256"]) == 64
    assert "scikit-learn" in run.lineage["packages"] and run.lineage["duration_s"] > 0
    version = maas_nb.get("iris@production")
    assert version.run_id == run.id and version.lineage["run_id"] == run.id
    assert version.signature.inputs[0].shape == (-1, 4)
    assert dict(version.metrics) == dict(run.metrics)
    model = ip.user_ns["model"]
    np.testing.assert_array_equal(maas_nb.load("iris").predict(iris[0]), model.predict(iris[0]))


def sklearn_metrics(model, evaluation, training):
    """The --eval metrics as scikit-learn computes them on the *evaluation* (X, y).

    Checks first that the *training* (X, y) gives other figures, so that metrics taken
    from the training data cannot match by chance.
    """
    from sklearn import metrics

    def score(X, y):
        predicted = model.predict(X)
        if hasattr(model, "classes_"):  # iris has three classes: F1 is the unweighted mean
            return {
                "accuracy": metrics.accuracy_score(y, predicted),
                "f1": metrics.f1_score(y, predicted, average="macro"),
            }
        return {
            "r2": metrics.r2_score(y, predicted),
            "mae": metrics.mean_absolute_error(y, predicted),
        }

    expected, on_training = score(*evaluation), score(*training)
    assert all(expected[k] != on_training[k] for k in expected), (expected, on_training)
    return expected


def test_rerunning_makes_a_new_run_and_version(ip):
    train(ip, "train iris --register")
    train(ip, "train iris --register")
    assert [r.status for r in maas_nb.list_runs("iris")] == ["finished", "finished"]
    assert [v.version for v in maas_nb.list_versions("iris")] == [1, 2]
    assert len({r.id for r in maas_nb.list_runs()}) == 2


def test_train_without_register_records_only_a_run(ip):
    result = train(ip, "train iris")
    assert "registered  no (add --register)" in repr(result)
    assert maas_nb.list_models() == []
    assert maas_nb.list_runs("iris")[0].status == "finished"


def test_a_failing_cell_records_a_failed_run_and_reraises_the_users_error(ip):
    with pytest.raises(ZeroDivisionError, match="division by zero"):
        train(ip, "train iris --register", "x = 1 / 0")
    assert [r.status for r in maas_nb.list_runs("iris")] == ["failed"]
    assert maas_nb.list_models() == []


def test_model_fitted_in_place_and_cell_metrics(ip):
    ip.run_cell(
        "from sklearn.tree import DecisionTreeClassifier\nclf = DecisionTreeClassifier(max_depth=2, random_state=0)"
    )
    result = train(
        ip,
        "train tree --register",
        "clf.fit(X_train, y_train)\nmetrics = {'depth': clf.get_depth()}",
    )
    assert result.value.model_variable == "clf"
    assert result.value.run.metrics["depth"] == 2.0


def test_several_models_need_model(ip):
    cell = TRAIN + "other = LogisticRegression(max_iter=1000).fit(X_test, y_test)\n"
    with pytest.raises(
        UsageError,
        match=r"The cell fitted several models \(model, other\); choose one with --model VAR.",
    ):
        train(ip, "train iris", cell)
    result = train(ip, "train iris --model other --register", cell)
    assert result.value.model_variable == "other"


def test_regressor_metrics(ip):
    cell = (
        "from sklearn.linear_model import Ridge\nreg = Ridge().fit(X_train[:, :3], X_train[:, 3])"
    )
    ip.user_ns.update({"Xr": ip.user_ns["X_test"][:, :3], "yr": ip.user_ns["X_test"][:, 3]})
    result = train(ip, "train petal --eval Xr yr", cell)
    ns = ip.user_ns
    assert dict(result.value.run.metrics) == sklearn_metrics(
        ns["reg"], (ns["Xr"], ns["yr"]), (ns["X_train"][:, :3], ns["X_train"][:, 3])
    )


def test_register_show_versions_models_alias_unalias_runs(ip, monkeypatch):
    monkeypatch.setenv("MAAS_USER", "ada")
    ip.run_cell(TRAIN)
    card = out(
        ip,
        "register model iris --sample X_train[:5] --metric accuracy=0.97 --metric note=1 --description 'first one'",
    )
    assert card == (
        "Model version iris:1\n"
        "  flavor       sklearn\n"
        "  description  first one\n"
        "  signature    (input: float64[N, 4]) -> (predictions: int64[N], probabilities: float64[N, 3])\n"
        "  metrics      accuracy=0.97 note=1"
    )
    assert out(ip, "alias iris:1 production") == "iris@production -> iris:1"
    assert (
        out(ip, "models")
        == "name  versions  latest  aliases        description\niris  1         1       production->1"
    )
    assert (
        out(ip, "versions iris") == "version  flavor   aliases     metrics               by\n"
        "1        sklearn  production  accuracy=0.97 note=1  ada"
    )
    assert out(ip, "show {uri}").startswith(
        "Model version iris:1\n  flavor       sklearn\n  aliases      production"
    )
    ip.user_ns["name"] = "iris"
    assert out(ip, "unalias $name production") == "Removed iris@production (was iris:1)"
    assert out(ip, "training-runs") == (
        "No training runs. Record one in a notebook with: %%maas train NAME"
    )
    assert (
        out(ip, "runs") == "No pipeline runs. Run a notebook with: %maas run NOTEBOOK -p KEY VALUE"
    )


def test_feedback_levels(ip):
    ip.run_cell(TRAIN)
    out(ip, "register model iris")
    ip.run_line_magic("config", "MaasMagics.feedback = 2")
    verbose = out(ip, "show iris")
    assert "sha256:" in verbose and "created" in verbose
    ip.run_line_magic("config", "MaasMagics.feedback = 0")
    assert ip.run_line_magic("maas", "show iris") is None


def test_config_home_switches_registries(ip, tmp_path):
    ip.run_cell(TRAIN)
    out(ip, "register model iris")
    ip.run_line_magic("config", f"MaasMagics.home = '{tmp_path / 'elsewhere'}'")
    assert out(ip, "models") == (
        "No models registered. Register one with maas_nb.register(model, 'name') "
        "(in a notebook: %%maas train NAME --register)."
    )
    assert maas_nb.registry().home == tmp_path / "elsewhere"


def test_deploy_predict_undeploy(ip, iris, monkeypatch):
    monkeypatch.setenv("MAAS_USER", "ada")
    train(ip, "train iris --register --alias production")
    card = out(ip, "deploy iris@production --name web --max-batch-size 8")
    url = maas_nb.deploying.get_deployment("web").url
    assert card == (
        f"Deployment web\n  target   iris@production\n  version  1\n  status   ready\n  url      {url}"
    )
    assert (
        out(ip, "deployments") == "name  target           version  status  where  replicas  by\n"
        "web   iris@production  1        ready   local  -         ada"
    )
    predictions = ip.run_line_magic("maas", "predict web X_test[:4]")
    assert isinstance(predictions, np.ndarray)
    np.testing.assert_array_equal(predictions, ip.user_ns["model"].predict(iris[0][1::2][:4]))
    assert out(ip, "undeploy web") == "Undeployed web (iris@production)"
    assert out(ip, "deployments") == (
        "No deployments. Deploy a model with: %maas deploy NAME@ALIAS"
    )


def test_doctor(ip):
    text = out(ip, "doctor")
    assert text.startswith("maas doctor\n  python")
    assert "scikit-learn" in text and "registry" in text and "server" in text and "problems" in text


def test_keras_training_logs_lines_outside_a_notebook(ip, capsys):
    cell = """
import keras, numpy as np
rng = np.random.default_rng(0)
Xk = rng.normal(size=(64, 4)).astype("float32"); yk = (Xk.sum(1) > 0).astype("float32")
net = keras.Sequential([keras.Input(shape=(4,)), keras.layers.Dense(4, activation="relu"), keras.layers.Dense(1, activation="sigmoid")])
net.compile(optimizer="adam", loss="binary_crossentropy")
net.fit(Xk, yk, epochs=3, batch_size=32)
"""
    result = train(ip, "train mlp --register --eval Xk yk", cell)
    printed = capsys.readouterr().out
    assert "Epoch 3/3" in printed
    assert "━" not in printed, "no progress bars in plain output"
    assert set(result.value.run.metrics) == {"accuracy", "f1"}
    assert result.value.version.flavor == "keras"


@pytest.mark.parametrize(
    ("line", "cell", "message"),
    [
        (
            "frobnicate",
            None,
            "Unknown verb 'frobnicate'. Known verbs: alias, compare, delete, deploy, deployments, doctor, drift, experiment, feedback, models",
        ),
        (
            "train iris",
            None,
            "'train' runs a cell: write %%maas train ... on the first line of a cell.",
        ),
        ("show iris", "x = 1", "'show' is a line magic: use %maas show ..., not %%maas."),
        (
            "show",
            None,
            "%maas show: error: the following arguments are required: uri",
        ),
        ("versions a b", None, "%maas versions: error: unrecognized arguments: b"),
        (
            "deploy iris --max-batch-size lots",
            None,
            "argument --max-batch-size: invalid int value: 'lots'",
        ),
        (
            "register model iris --metric accuracy",
            None,
            "--metric takes KEY=VALUE, got 'accuracy'.",
        ),
        (
            "register nothing_here iris",
            None,
            "The model variable: name 'nothing_here' is not defined. Define it in an earlier cell.",
        ),
        (
            "predict web undefined_x",
            None,
            "The input expression: name 'undefined_x' is not defined.",
        ),
        (
            "show 'iris",
            None,
            'Cannot parse the arguments "show \'iris": No closing quotation. Check the quotes.',
        ),
        (
            "train iris --model nope",
            TRAIN,
            "--model 'nope': no such variable after running the cell.",
        ),
        ("train iris", "x = 1", None),
    ],
)
def test_bad_input_gives_usage_errors(ip, line, cell, message):
    ip.run_cell(TRAIN)
    if message is None:  # a runtime error, not a usage error
        from maas_nb.exceptions import NoFittedModelError

        with pytest.raises(
            NoFittedModelError, match="The cell fitted no model that maas_nb can store"
        ):
            ip.run_cell_magic("maas", line, cell)
        return
    with pytest.raises(UsageError) as info:
        if cell is None:
            ip.run_line_magic("maas", line)
        else:
            ip.run_cell_magic("maas", line, cell)
    assert message in str(info.value)


def test_runtime_errors_render_as_one_line(ip):
    with pytest.raises(ModelNotFoundError) as info:
        ip.run_line_magic("maas", "show nope")
    assert info.value._render_traceback_() == [
        "ModelNotFoundError: No model named 'nope'. No models are registered yet."
    ]


def test_port_config_and_html_cards(ip, monkeypatch):
    monkeypatch.delenv("MAAS_PORT", raising=False)
    ip.run_line_magic("config", "MaasMagics.port = 0")
    import os

    assert os.environ["MAAS_PORT"] == "0"
    ip.run_cell(TRAIN)
    card = ip.run_line_magic("maas", "register model iris --alias production")
    html = card._repr_html_()
    assert html.startswith("<div><b>Model version iris:1</b><table>")
    assert "<code>production</code>" in html
    assert (
        ip.run_line_magic("maas", "models")
        ._repr_html_()
        .startswith("<table><thead><tr><th>name</th>")
    )
