"""notebooks/ are tests too: run under papermill (real kernels) and nbval."""

import os
import subprocess
import sys

import nbformat
import papermill
import pytest

import maas_nb
from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT

QUICKSTART = ROOT / "notebooks" / "quickstart.ipynb"


def text_outputs(nb):
    return [
        o.get("data", {}).get("text/plain", "")
        for c in nb.cells
        if c.cell_type == "code"
        for o in c.get("outputs", [])
    ]


@pytest.mark.slow
def test_quickstart_runs_under_papermill_with_parameters(home, tmp_path):
    out = tmp_path / "quickstart.out.ipynb"
    papermill.execute_notebook(
        str(QUICKSTART), str(out), parameters={"C": 0.5}, kernel_name="python3", progress_bar=False
    )
    texts = text_outputs(nbformat.read(out, 4))
    assert any(t.startswith("Training run iris\n") and "registered  iris:1" in t for t in texts)
    assert "True" in texts
    version = maas_nb.get("iris@production")
    assert version.params["C"] == 0.5
    assert maas_nb.list_runs("iris")[0].status == "finished"
    # The notebook cleaned up what it started.
    assert read_server_file(home) is None
    assert maas_nb.registry().list_deployments() == []


@pytest.mark.slow
def test_quickstart_passes_nbval_lax(home):
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "--nbval-lax",
            "-p",
            "no:cacheprovider",
            "-q",
            str(QUICKSTART),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MAAS_HOME": str(home), "MAAS_PORT": "0"},
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert " passed" in result.stdout


def test_a_failing_magic_reports_the_real_exception_under_papermill(home, tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("%load_ext maas_nb"),
        nbformat.v4.new_code_cell("%maas show nope"),
    ]
    nb.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3",
        "language": "python",
    }
    path = tmp_path / "failing.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(papermill.PapermillExecutionError) as info:
        papermill.execute_notebook(
            str(path), str(tmp_path / "out.ipynb"), kernel_name="python3", progress_bar=False
        )
    assert info.value.ename == "ModelNotFoundError"
    assert info.value.evalue == "No model named 'nope'. No models are registered yet."
    # In the notebook itself the error is one line, not a traceback.
    outputs = nbformat.read(tmp_path / "out.ipynb", 4).cells[-1].outputs
    error = next(o for o in outputs if o.output_type == "error")
    assert error.traceback == [
        "ModelNotFoundError: No model named 'nope'. No models are registered yet."
    ]
