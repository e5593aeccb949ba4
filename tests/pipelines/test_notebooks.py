"""Every notebook in notebooks/ passes nbval-lax on its own, on a fresh home, and cleans up
what it started; the notebooks and examples/ use only the public API."""

import ast
import json
import os
import subprocess
import sys

import papermill
import pytest
from IPython.core.inputtransformer2 import TransformerManager
from IPython.core.interactiveshell import InteractiveShell

import maas_nb
from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT

NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
EXAMPLES = sorted((ROOT / "examples").glob("*.py"))


def test_the_collection_is_complete():
    assert {p.stem for p in NOTEBOOKS} >= {
        "quickstart",
        "sweep",
        "gate",
        "text_classifier",
        "keras_mlp",
        "control_panel",
        "experiment",
    }


@pytest.mark.slow
@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda p: p.stem)
def test_notebook_passes_nbval_lax_alone_on_a_fresh_home(notebook, home):
    assert not home.exists()  # nothing registered, deployed or running: only this notebook
    command = [sys.executable, "-m", "pytest", "--nbval-lax", "-p", "no:cacheprovider", "-q"]
    result = subprocess.run(
        [*command, str(notebook)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "MAAS_HOME": str(home), "MAAS_PORT": "0", "MAAS_PROGRESS": "lines"},
    )
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    # It cleaned up what it started: its deployment and the server.
    assert read_server_file(home) is None, "a notebook that deploys stops the server it started"
    assert maas_nb.deployments() == []


@pytest.mark.slow
def test_quickstart_runs_under_papermill_with_a_parameter(tmp_path, home):
    # The README's first command, on a fresh home, with the parameter its text suggests.
    notebook = ROOT / "notebooks" / "quickstart.ipynb"
    out = tmp_path / "quickstart.out.ipynb"
    papermill.execute_notebook(
        str(notebook),
        str(out),
        parameters={"C": 0.5},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(notebook.parent),
    )
    assert maas_nb.get("iris@production").params["C"] == 0.5
    assert read_server_file(home) is None
    assert maas_nb.deployments() == []


@pytest.mark.slow
def test_the_experiment_runs_under_papermill_with_a_parameter(tmp_path, home):
    # The candidate's share as a parameter: it takes that share, and is promoted.
    notebook = ROOT / "notebooks" / "experiment.ipynb"
    out = tmp_path / "experiment.out.ipynb"
    papermill.execute_notebook(
        str(notebook),
        str(out),
        parameters={"candidate_share": 25, "n_requests": 400},
        kernel_name="python3",
        progress_bar=False,
        cwd=str(notebook.parent),
    )
    outputs = {
        "".join(c["source"]): [
            {kind: "".join(text) for kind, text in o.get("data", {}).items()} for o in c["outputs"]
        ]
        for c in json.loads(out.read_text())["cells"]
        if c["cell_type"] == "code"
    }
    (shares,) = [o for src, o in outputs.items() if "answered[" in src]
    share = ast.literal_eval(shares[0]["text/plain"])
    assert set(share) == {"1", "2"} and abs(share["2"] - 0.25) <= 0.02, share
    (fed,) = [o for src, o in outputs.items() if src.startswith("%maas feedback")]
    assert "joined              400\n" in fed[0]["text/plain"]
    (shown,) = [o for src, o in outputs.items() if src.startswith("%maas experiment")]
    assert "\niris_exp:2  arm      25 " in shown[0]["text/plain"]
    assert "<svg" in shown[0]["text/html"]  # the chart is kept in the executed notebook
    assert maas_nb.get("iris_exp@production").version == 2
    assert read_server_file(home) is None
    assert maas_nb.deployments() == []


@pytest.mark.slow
def test_a_server_that_served_others_before_a_notebook_keeps_serving_after_it(home, classifier):
    # The clean-up cells stop the server only when the notebook started it: run the
    # quickstart's deploy and clean-up cells (and what they need) in this process.
    dep = maas_nb.deploy(maas_nb.register(classifier, "other").uri)
    cells = code_cells(ROOT / "notebooks" / "quickstart.ipynb")
    shell = InteractiveShell.instance()
    try:
        for source in cells.values():
            shell.run_cell(source).raise_error()
    finally:
        InteractiveShell.clear_instance()
    assert [d.name for d in maas_nb.deployments()] == ["other"]
    assert dep.status == "ready"


@pytest.mark.parametrize("source", NOTEBOOKS + EXAMPLES, ids=lambda p: p.name)
def test_notebooks_and_examples_use_only_the_public_api(source):
    if source.suffix == ".ipynb":
        parts = {
            f"cell {i}": TransformerManager().transform_cell(code)
            for i, code in code_cells(source).items()
        }
    else:
        parts = {"script": source.read_text()}
    found = [f"{where}: {name}" for where, code in parts.items() for name in private_names(code)]
    assert found == [], (
        f"{source.relative_to(ROOT)} uses maas_nb names that are not public: {found}. "
        "Use the names in maas_nb.__all__ (and the %maas magics) instead."
    )


def test_the_public_api_check_finds_private_names():
    code = TransformerManager().transform_cell(
        "import maas_nb\n"
        "from maas_nb import deploy, registry\n"
        "from maas_nb.exceptions import MaasError\n"
        "from maas_nb.serving.server import read_server_file\n"
        "import maas_nb.serving\n"
        "from maas_nb import api\n"
        "maas_nb.serving.stop_server()\n"
        "maas_nb.stop_server()\n"
        "%maas deploy iris\n"
    )
    assert private_names(code) == [
        "maas_nb.serving.server.read_server_file",
        "maas_nb.serving",
        "maas_nb.api",
        "maas_nb.serving",
    ]


def private_names(code: str) -> list[str]:
    """The ``maas_nb`` names *code* imports or reads that are not in ``maas_nb.__all__``."""
    public = set(maas_nb.__all__)
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Import):
            found += [
                a.name
                for a in node.names
                if a.name.startswith("maas_nb.") and a.name.split(".")[1] not in public
            ]
        elif isinstance(node, ast.ImportFrom) and (node.module or "").startswith("maas_nb"):
            parts = node.module.split(".")
            if len(parts) > 1 and parts[1] not in public:
                found += [f"{node.module}.{a.name}" for a in node.names]
            elif len(parts) == 1:
                found += [f"maas_nb.{a.name}" for a in node.names if a.name not in public]
        elif (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id == "maas_nb"
            and node.attr not in public
        ):
            found.append(f"maas_nb.{node.attr}")
    return found


def code_cells(notebook):
    """The notebook's code cells by their index among all its cells (as Jupyter counts)."""
    cells = json.loads(notebook.read_text())["cells"]
    return {i: "".join(c["source"]) for i, c in enumerate(cells) if c["cell_type"] == "code"}
