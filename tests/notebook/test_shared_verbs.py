"""Verbs that each front end once had alone: ``maas doctor`` and ``%maas delete``."""

import json

import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.exceptions import ConflictError, DeploymentNotFoundError
from tests.notebook.conftest import out


def test_maas_doctor_shows_what_percent_maas_doctor_shows(ip, capsys, home):
    assert main(["doctor"]) == 0
    shell = capsys.readouterr().out
    assert shell == out(ip, "doctor") + "\n"
    assert shell.startswith("maas doctor\n  python")
    assert f" {home} (0 models)\n" in shell
    assert main(["doctor", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["registry"] == f"{home} (0 models)"
    assert facts["server"] == "not running (deploy starts one)"


def test_maas_doctor_honours_home(capsys, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    assert main(["--home", str(elsewhere), "doctor", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["registry"] == f"{elsewhere} (0 models)"


@pytest.mark.usefixtures("postgres_uri")
def test_percent_maas_doctor_checks_the_team_stores_as_maas_doctor_does(ip, capsys):
    text = out(ip, "doctor")
    assert main(["doctor"]) == 0
    assert capsys.readouterr().out == text + "\n"
    assert "\n  metadata store      postgresql://postgres@127.0.0.1:" in text


def test_percent_maas_delete_refuses_a_whole_model_without_yes(ip, classifier):
    for _ in range(2):
        maas_nb.register(classifier, "iris")
    with pytest.raises(ConflictError) as info:
        ip.run_line_magic("maas", "delete iris")
    assert str(info.value) == (
        "Refusing to delete model 'iris' and all 2 of its versions without --yes. "
        "To delete one version, name it: %maas delete iris:VERSION"
    )
    assert out(ip, "delete iris:1") == "Deleted iris:1"
    assert [v.version for v in maas_nb.list_versions("iris")] == [2]
    assert out(ip, "delete iris --yes") == "Deleted iris:2"
    assert maas_nb.list_models() == []


def test_runs_are_pipeline_runs_and_training_runs_are_training_runs_on_both_sides(
    ip, capsys, registry, classifier, monkeypatch
):
    monkeypatch.setenv("MAAS_USER", "ada")
    training = registry.start_run("fit", params={"C": 1.0})
    registry.end_run(training.id, status="finished", metrics={"accuracy": 0.9})
    pipeline = registry.start_pipeline_run(
        "nightly", notebook="train.ipynb", source=b"{}", parameters={"C": 0.5}
    )
    registry.end_pipeline_run(pipeline.id, status="finished")

    assert (
        out(ip, "runs") == "name     status    parameters  registered  by\n"
        "nightly  finished  C=0.5       -           ada"
    )
    assert out(ip, "training-runs") == (
        "name  status    metrics       by\nfit   finished  accuracy=0.9  ada"
    )
    assert main(["runs", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [pipeline.id]
    assert main(["training-runs", "--json"]) == 0
    assert [r["id"] for r in json.loads(capsys.readouterr().out)] == [training.id]
    assert main(["training-runs", "nope"]) == 0
    assert capsys.readouterr().out == (
        "No training runs. Record one in a notebook with: %%maas train NAME\n"
    )


def test_a_notebook_error_names_the_magic(ip):
    with pytest.raises(DeploymentNotFoundError) as info:
        ip.run_line_magic("maas", "predict nope X_test[:2]")
    assert str(info.value) == (
        "No deployment named 'nope'. List them with: maas deployments "
        "(in a notebook: %maas deployments)"
    )


def test_a_cli_error_names_the_option(capsys, tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("")
    assert main(["--home", str(not_a_dir), "models"]) == 1
    assert capsys.readouterr().err == (
        f"maas: error: Cannot use '{not_a_dir}' as the registry home: File exists. Set "
        "MAAS_HOME (maas --home DIR; home= in Python) to a directory you can read and write, "
        "or fix its permissions.\n"
    )
