"""Pipeline runs and the versions they registered name each other on every surface.

Recorded through the `Registry` facade, as `maas_nb.pipelines` records them, so no kernel
starts here; tests/pipelines/test_run.py checks the same links after real runs.
"""

import json

import pytest

from maas_nb.cli import main


def fields_of(text):
    """``key  value`` lines as a dict (the CLI's and the cards' text forms)."""
    pairs = (line.strip().split("  ", 1) for line in text.splitlines())
    return {pair[0]: pair[1].strip() for pair in pairs if len(pair) == 2}


@pytest.fixture
def linked(registry, classifier):
    """A pipeline run that registered iris:1, and its rerun, which registered iris:2."""
    first = registry.start_pipeline_run("train", notebook="nb/train.ipynb", source=b"{}")
    registry.end_pipeline_run(first.id, status="finished", output=b"{}")
    registry.register(classifier, "iris", lineage={"pipeline_run": first.id})
    again = registry.start_pipeline_run(
        "train", notebook="nb/train.ipynb", source=b"{}", rerun_of=first.id
    )
    registry.end_pipeline_run(again.id, status="finished", output=b"{}")
    registry.register(classifier, "iris", lineage={"pipeline_run": again.id})
    registry.start_pipeline_run("other", notebook="nb/other.ipynb", source=b"[]")
    return first, again


def test_cli_runs_list_and_show_name_versions_and_reruns(linked, capsys):
    first, again = linked
    assert main(["runs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split() == [
        "ID",
        "NAME",
        "STATUS",
        "PARAMETERS",
        "REGISTERED",
        "BY",
        "DURATION",
        "STARTED",
    ]
    assert [line.split()[:5] for line in table[1:]] == [
        [first.id[:12], "train", "finished", "-", "iris:1"],
        [again.id[:12], "train", "finished", "-", "iris:2"],
        [table[3].split()[0], "other", "running", "-", "-"],
    ]
    assert main(["runs", "show", again.id[:12]]) == 0
    shown = fields_of(capsys.readouterr().out)
    assert (shown["registered"], shown["rerun of"]) == ("iris:2", first.id)
    assert shown["by"] == again.created_by != ""
    assert main(["--json", "runs", "show", first.id]) == 0
    assert json.loads(capsys.readouterr().out)["versions"] == ["iris:1"]


def test_a_version_names_its_pipeline_run_in_the_cli_and_the_magic(linked, ip, capsys):
    first, again = linked
    assert main(["show", "iris:2"]) == 0
    shown = fields_of(capsys.readouterr().out)
    assert (shown["pipeline id"], shown["pipeline rerun of"]) == (again.id, first.id)
    assert shown["pipeline"] == "nb/train.ipynb (finished)"
    card = fields_of(repr(ip.run_line_magic("maas", "show iris:2")).split("\n", 1)[1])
    assert card["pipeline run"] == f"{again.id[:12]} (rerun of {first.id[:12]})"
    card = fields_of(repr(ip.run_line_magic("maas", "show iris:1")).split("\n", 1)[1])
    assert card["pipeline run"] == first.id[:12]
