"""Sweeps in parallel processes, and promotion gates."""

import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.exceptions import ConfigurationError, PipelineFailedError
from maas_nb.pipelines import promote, sweep
from maas_nb.pipelines.parameters import parse_grid
from tests.helpers import ROOT

SWEEP = ROOT / "notebooks" / "sweep.ipynb"
GATE = ROOT / "notebooks" / "gate.ipynb"


def test_parse_grid():
    assert parse_grid(
        [["C", "0.1,1,10"], ["max_iter", "100, 200"], ["solver", "[lbfgs, saga]"]]
    ) == {
        "C": [0.1, 1, 10],
        "max_iter": [100, 200],
        "solver": ["lbfgs", "saga"],
    }


@pytest.mark.slow
def test_sweep_runs_every_point_marks_the_best_and_aliases_it(tmp_path):
    result = sweep(
        SWEEP,
        {"C": [0.01, 1.0], "max_iter": [5, 300]},
        parallel=2,
        metric="accuracy",
        alias_best="candidate",
        progress=False,
    )
    table = result.table
    assert len(table) == 4 and set(table["status"]) == {"finished"}
    assert list(table.columns[:2]) == ["C", "max_iter"]
    assert {"accuracy", "f1", "best"} <= set(table.columns)
    assert table["best"].sum() == 1
    best_row = table[table["best"]].iloc[0]
    assert best_row["accuracy"] == table["accuracy"].max()
    assert result.best_version.aliases == ("candidate",)
    # Each row names the version its run registered.
    made = {v.lineage["pipeline_run"]: v.uri for v in maas_nb.list_versions("iris-sweep")}
    assert list(table["versions"]) == [made[run_id] for run_id in table["run"]]
    assert best_row["versions"] == result.best_version.uri
    assert maas_nb.get("iris-sweep@candidate").params["C"] == best_row["C"]
    assert len(maas_nb.registry().list_pipeline_runs()) == 4
    text = repr(result)
    assert text.splitlines()[0].split()[:2] == ["C", "max_iter"]
    page = result._repr_html_()
    assert "<table" in page
    # Drawn: accuracy against each parameter, the best run starred with its value.
    assert "<svg" in page and "<svg" not in text
    assert page.count('<g id="maas-best-C">') == 1 and '<g id="maas-best-max_iter">' in page
    assert f"best {best_row['accuracy']:.4g}</text>" in page
    assert ">accuracy</text>" in page and ">max_iter</text>" in page


@pytest.mark.slow
def test_one_failing_point_does_not_stop_the_others():
    result = sweep(SWEEP, {"C": [1.0, -1.0]}, parallel=2, metric="accuracy", progress=False)
    assert list(result.table["status"]) == ["finished", "failed"]
    assert result.best.parameters["C"] == 1.0


def test_sweep_refuses_undeclared_parameters_and_bad_grids():
    with pytest.raises(ConfigurationError, match="does not declare the parameter"):
        sweep(SWEEP, {"alpha": [1, 2]}, progress=False)
    with pytest.raises(
        ConfigurationError, match=r"Sweep parameter 'C' needs a non-empty list of values, got 3\."
    ):
        sweep(SWEEP, {"C": 3}, progress=False)
    with pytest.raises(ConfigurationError, match="alias_best needs a metric"):
        sweep(SWEEP, {"C": [1]}, alias_best="x", progress=False)


@pytest.mark.slow
def test_cli_sweep(capsys):
    code = main(
        [
            "sweep",
            str(SWEEP),
            "-p",
            "C",
            "0.1,1",
            "--parallel",
            "2",
            "--best",
            "accuracy",
            "--alias-best",
            "candidate",
        ]
    )
    out = capsys.readouterr().out
    assert code == 0, out
    assert (
        out.splitlines()[0].split()[:2] == ["C", "max_iter"]
        or out.splitlines()[0].split()[0] == "C"
    )
    assert "iris-sweep@candidate -> iris-sweep:" in out


@pytest.fixture
def iris_versions(classifier, iris):
    from sklearn.dummy import DummyClassifier

    X, y = iris
    good = maas_nb.register(classifier, "iris", alias="production")
    bad = maas_nb.register(DummyClassifier(strategy="most_frequent").fit(X, y), "iris")
    return good, bad


@pytest.mark.slow
def test_gate_passes_and_moves_the_alias(iris_versions):
    maas_nb.set_alias("iris:2", "production")
    version = promote("iris:1", "production", gate=GATE)
    assert version.uri == "iris:1" and maas_nb.get("iris@production").version == 1
    assert maas_nb.get("iris:1").tags["gate.production"].startswith("passed ")


@pytest.mark.slow
def test_gate_refusal_says_which_cell_and_why_and_keeps_the_alias(iris_versions, capsys):
    with pytest.raises(PipelineFailedError) as info:
        promote("iris:2", "production", gate=GATE)
    message = str(info.value)
    assert message.startswith(f"Gate {GATE} refused to move iris@production to iris:2: ")
    assert (
        "failed in cell 3: AssertionError: iris:2: accuracy 0." in message
        and "is below 0.9" in message
    )
    assert maas_nb.get("iris@production").version == 1
    assert maas_nb.get("iris:2").tags["gate.production"].startswith("failed ")
    assert main(["alias", "iris:2", "production", "--gate", str(GATE)]) == 1
    assert capsys.readouterr().err.startswith("maas: error: Gate ")
    assert main(["alias", "iris:1", "production", "--gate", str(GATE)]) == 0


@pytest.mark.slow
def test_sweep_and_gated_alias_magics(ip, iris_versions):
    result = ip.run_line_magic("maas", f"sweep {SWEEP} -p C 0.5,1 --parallel 2 --best accuracy")
    assert list(result.table["C"]) == [0.5, 1] and result.table["best"].sum() == 1
    assert '<g id="maas-best-C">' in result._repr_html_()
    with pytest.raises(PipelineFailedError, match="refused to move iris@production to iris:2"):
        ip.run_line_magic("maas", f"alias iris:2 production --gate {GATE}")
    assert (
        repr(ip.run_line_magic("maas", f"alias iris:1 production --gate {GATE}"))
        == "iris@production -> iris:1"
    )
    card = repr(ip.run_line_magic("maas", "show iris-sweep:1"))
    assert "  pipeline           " in card and "sweep.ipynb (finished)" in card
    assert "maas runs export " in card
