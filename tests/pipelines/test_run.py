"""Notebooks as recorded pipelines: papermill on real kernels, lineage in the registry."""

import hashlib
import json

import nbformat
import papermill
import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.exceptions import ConfigurationError, PipelineFailedError
from maas_nb.pipelines import declared_parameters, run
from tests.helpers import write_notebook
from tests.pipelines.test_links import fields_of

TRAIN = """%%maas train tiny --register --eval X_test y_test
from sklearn.linear_model import LogisticRegression
model = LogisticRegression(C=C, max_iter=max_iter).fit(X_train, y_train)"""


def notebook(path, *cells, kernel="python3"):
    return write_notebook(path, *cells, parameters="C = 1.0\nmax_iter: int = 200", kernel=kernel)


DATA = """%load_ext maas_nb
from sklearn.datasets import load_iris
X, y = load_iris(return_X_y=True)
X_train, y_train, X_test, y_test = X[::2], y[::2], X[1::2], y[1::2]"""


@pytest.fixture
def train_nb(tmp_path):
    # A kernelspec that does not exist here: the run must use the current Python anyway.
    return notebook(tmp_path / "train.ipynb", DATA, TRAIN, kernel="no-such-kernel")


def test_declared_parameters(train_nb):
    assert declared_parameters(nbformat.read(train_nb, 4)) == {"C": "1.0", "max_iter": "200"}


@pytest.mark.slow
def test_run_records_everything_and_links_lineage(train_nb, registry, capsys):
    record = run(train_nb, {"C": 0.5})
    assert record.status == "finished", record.error
    assert dict(record.parameters) == {"C": 0.5}
    assert record.notebook_digest == "sha256:" + hashlib.sha256(train_nb.read_bytes()).hexdigest()
    assert record.duration_s > 0 and record.error == {}
    executed = nbformat.reads(registry.pipeline_notebook(record, executed=True).decode(), 4)
    assert any("injected-parameters" in c.metadata.get("tags", []) for c in executed.cells)

    version = maas_nb.get("tiny")
    assert version.lineage["pipeline_run"] == record.id
    assert version.params["C"] == 0.5
    (training,) = maas_nb.list_runs("tiny")
    assert training.lineage["pipeline_run"] == record.id

    assert main(["show", "tiny:1"]) == 0
    shown = capsys.readouterr().out
    fields = fields_of(shown)
    assert fields["pipeline id"] == record.id
    assert fields["pipeline"] == f"{train_nb} (finished)"
    assert fields["pipeline notebook sha256"] == record.notebook_digest
    assert fields["parameters"] == "C=0.5"
    assert fields["executed notebook sha256"] == record.output_digest


def test_undeclared_parameters_are_refused(train_nb):
    with pytest.raises(ConfigurationError) as info:
        run(train_nb, {"C": 1, "alpha": 2})
    assert str(info.value) == (
        f"{train_nb} does not declare the parameter(s) 'alpha'; its parameters cell declares: C, max_iter."
    )
    assert maas_nb.registry().list_pipeline_runs() == []


@pytest.mark.slow
def test_a_failing_notebook_is_recorded_with_its_cell(tmp_path, registry):
    nb = notebook(tmp_path / "bad.ipynb", "x = 1", "raise ValueError(f'C was {C}')")
    record = run(nb, {"C": 3})
    assert record.status == "failed"
    assert dict(record.error) == {"cell": 2, "exception": "ValueError", "message": "C was 3"}
    assert registry.artifacts.exists(record.output_digest)
    with pytest.raises(
        PipelineFailedError,
        match=r"bad.ipynb failed in cell 2: ValueError: C was 3 \(pipeline run ",
    ):
        run(nb, {"C": 3}, raise_on_failure=True)


@pytest.mark.slow
def test_cli_run_runs_show_export_and_rerun(train_nb, tmp_path, capsys):
    params = tmp_path / "params.yaml"
    params.write_text("C: 0.25\nmax_iter: 300\n")
    assert main(["run", str(train_nb), "-f", str(params), "-p", "C", "0.5"]) == 0
    out = capsys.readouterr().out
    fields = fields_of(out)
    assert fields["status"] == "finished"
    assert fields["parameters"] == "C=0.5, max_iter=300"
    assert fields["registered"] == "tiny:1"
    assert "rerun of" not in fields
    record = maas_nb.registry().list_pipeline_runs()[0]
    assert main(["runs"]) == 0
    table = capsys.readouterr().out.splitlines()
    assert table[0].split()[:5] == ["ID", "NAME", "STATUS", "PARAMETERS", "REGISTERED"]
    assert table[1].startswith(f"{record.id[:12]}  train  finished")
    assert "max_iter=300  tiny:1  " in table[1]
    assert main(["runs", "show", record.id[:12]]) == 0
    assert f"  {record.notebook_digest}" in capsys.readouterr().out
    exported = tmp_path / "out.ipynb"
    assert main(["runs", "export", record.id, str(exported)]) == 0
    assert (
        capsys.readouterr().out
        == f"Wrote the executed notebook of run {record.id[:12]} to {exported}\n"
    )
    assert nbformat.read(exported, 4).cells[0].source.startswith("C = 1.0")
    assert main(["rerun", record.id]) == 0
    rerun_out = capsys.readouterr().out
    again = next(r for r in maas_nb.registry().list_pipeline_runs() if r.id != record.id)
    before, after = (
        next(dict(r.metrics) for r in maas_nb.list_runs("tiny") if r.lineage["pipeline_run"] == p)
        for p in (record.id, again.id)
    )
    assert sorted(before) == ["accuracy", "f1"] and after == before
    assert rerun_out.startswith(f"Rerun of {train_nb}\n")
    rerun_fields = fields_of(rerun_out)
    assert (rerun_fields["metrics"], rerun_fields["status"]) == ("match", "finished")
    for k in sorted(before):
        assert rerun_fields[f"metric {k}"] == f"{before[k]} -> {after[k]}"
    assert len(maas_nb.registry().list_pipeline_runs()) == 2
    # The rerun names the run it repeats, the notebook it came from and what it registered.
    assert main(["runs", "show", again.id]) == 0
    shown = capsys.readouterr().out
    fields = fields_of(shown)
    assert (fields["notebook"], fields["rerun of"]) == (str(train_nb), record.id)
    assert fields["registered"] == "tiny:2"
    assert main(["--json", "runs"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert [(r["id"], r["versions"], r["rerun_of"]) for r in listed] == [
        (record.id, ["tiny:1"], None),
        (again.id, ["tiny:2"], record.id),
    ]
    assert main(["show", "tiny:2"]) == 0
    shown = capsys.readouterr().out
    fields = fields_of(shown)
    assert (fields["pipeline id"], fields["pipeline rerun of"]) == (again.id, record.id)
    assert main(["run", str(train_nb), "-p", "nope", "1"]) == 1
    assert "does not declare the parameter(s) 'nope'" in capsys.readouterr().err


@pytest.mark.slow
def test_maas_run_magic_inside_a_notebook(train_nb, tmp_path):
    path = write_notebook(
        tmp_path / "outer.ipynb",
        "%load_ext maas_nb",
        f"result = %maas run {train_nb} -p C 2.0\nresult",
    )
    papermill.execute_notebook(
        str(path), str(tmp_path / "outer.out.ipynb"), kernel_name="python3", progress_bar=False
    )
    text = nbformat.read(tmp_path / "outer.out.ipynb", 4).cells[1].outputs[0].data["text/plain"]
    assert (
        text
        == f"Pipeline run train\n  notebook    {train_nb}\n  parameters  C=2.0\n  status      finished"
        "\n  registered  tiny:1"
    )
    (record,) = maas_nb.registry().list_pipeline_runs()
    assert json.loads(json.dumps(dict(record.parameters))) == {"C": 2.0}
