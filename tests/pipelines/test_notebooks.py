"""Every notebook in notebooks/ runs under papermill, and the collection passes nbval-lax."""

import os
import subprocess
import sys

import papermill
import pytest

import maas_nb
from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


@pytest.fixture
def iris_production(classifier):
    maas_nb.register(classifier, "iris", alias="production")  # what gate.ipynb checks by default


def test_the_collection_is_complete():
    assert {p.stem for p in NOTEBOOKS} >= {
        "quickstart",
        "sweep",
        "gate",
        "text_classifier",
        "keras_mlp",
        "control_panel",
    }


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_runs_under_papermill(notebook, tmp_path, home, iris_production):
    papermill.execute_notebook(
        str(notebook),
        str(tmp_path / notebook.name),
        kernel_name="python3",
        progress_bar=False,
        cwd=str(notebook.parent),
    )
    assert read_server_file(home) is None, "a notebook that deploys cleans up its server"


@pytest.mark.slow
def test_notebooks_pass_nbval_lax(home):
    # The quickstart first: it registers iris@production, which gate.ipynb then checks.
    ordered = sorted(NOTEBOOKS, key=lambda p: (p.stem != "quickstart", p.stem))
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q"]
    result = subprocess.run(
        [*command, *map(str, ordered)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
        env={**os.environ, "MAAS_HOME": str(home), "MAAS_PORT": "0", "MAAS_PROGRESS": "lines"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
