"""``%maas runs show ID`` and ``%maas runs export ID PATH``: what ``maas runs show|export``
do, from a notebook; and the hints that name them give both forms."""

import pytest
from IPython.core.error import UsageError

import maas_nb
from maas_nb.cli import main
from maas_nb.exceptions import ArtifactMissingError, MaasError
from maas_nb.notebook.display import version_card
from maas_nb.pipelines.executor import failure
from tests.notebook.conftest import out


@pytest.fixture
def runs(registry, classifier):
    """A finished pipeline run that registered iris:1, and a failed one with no output."""
    done = registry.start_pipeline_run("tiny", notebook="tiny.ipynb", source=b"{}")
    registry.register(classifier, "iris", lineage={"pipeline_run": done.id})
    done = registry.end_pipeline_run(done.id, status="finished", output=b'{"executed": 1}')
    failed = registry.start_pipeline_run("bad", notebook="bad.ipynb", source=b"{}")
    error = {"cell": 2, "exception": "ValueError", "message": "C was 3"}
    failed = registry.end_pipeline_run(failed.id, status="failed", error=error)
    return done, failed


def test_runs_show_gives_the_fields_maas_runs_show_prints(ip, runs, capsys):
    done, _ = runs
    assert main(["runs", "show", done.id[:12]]) == 0
    shell = capsys.readouterr().out
    card = out(ip, f"runs show {done.id[:12]}")
    assert card.splitlines()[0] == "Pipeline run tiny"
    assert [line.split(None, 1) for line in card.splitlines() if "registered" in line] == [
        ["registered", "iris:1"]
    ]
    # The notebook's stable form leaves out the id, times and digests; feedback 2 shows
    # them, and then the card is what the shell printed, line for line.
    assert done.id not in card and "sha256" not in card
    ip.run_line_magic("config", "MaasMagics.feedback = 2")
    assert out(ip, f"runs show {done.id[:12]}") + "\n" == shell
    assert f"  id                 {done.id}\n" in shell


def test_runs_export_writes_the_executed_notebook(ip, runs, tmp_path):
    done, failed = runs
    path = tmp_path / "out.ipynb"
    assert out(ip, f"runs export {done.id[:8]} {path}") == (
        f"Wrote the executed notebook of run {done.id[:12]} to {path}"
    )
    assert path.read_bytes() == b'{"executed": 1}'
    with pytest.raises(ArtifactMissingError) as info:
        ip.run_line_magic("maas", f"runs export {failed.id} {path}")
    assert str(info.value).endswith(
        f"See why with: maas runs show {failed.id[:12]} "
        f"(in a notebook: %maas runs show {failed.id[:12]})"
    )


@pytest.mark.parametrize(
    ("line", "error", "message"),
    [
        ("runs show", MaasError, "%maas runs show needs a run id: %maas runs show ID"),
        (
            "runs export {id}",
            MaasError,
            "%maas runs export needs an output path: %maas runs export {id} out.ipynb",
        ),
        (
            "runs tiny {id}",
            UsageError,
            "%maas runs takes one run name to list, got 'tiny' and '{id}'. To show a run: "
            "%maas runs show ID; to export one: %maas runs export ID PATH.",
        ),
    ],
    ids=["show-without-id", "export-without-path", "name-and-id"],
)
def test_runs_mistakes_name_the_notebook_form(ip, runs, line, error, message):
    short = runs[0].id[:12]
    with pytest.raises(error) as info:
        ip.run_line_magic("maas", line.format(id=short))
    assert str(info.value) == message.format(id=short)


def test_runs_by_name_still_lists(ip, runs):
    listed = out(ip, "runs tiny").splitlines()
    assert [line.split()[:2] for line in listed[1:]] == [["tiny", "finished"]]


def test_hints_give_the_notebook_form_too(runs):
    done, failed = runs
    assert str(failure(failed)) == (
        f"bad.ipynb failed in cell 2: ValueError: C was 3 (pipeline run {failed.id[:12]}; "
        f"see it with: maas runs show {failed.id[:12]} "
        f"(in a notebook: %maas runs show {failed.id[:12]}))"
    )
    card = repr(version_card(maas_nb.get("iris:1"), pipeline=done))
    assert (
        f"maas runs export {done.id[:12]} out.ipynb "
        f"(in a notebook: %maas runs export {done.id[:12]} out.ipynb)"
    ) in card
