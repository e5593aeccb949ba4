"""``--executor ray``: sweep points as Ray tasks on a real single-node Ray cluster
(tests/ray_cluster.py), recorded like the local executor's, with a pre-flight import check."""

from __future__ import annotations

import shutil
import sys

import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.exceptions import MissingDependencyError, WorkerEnvironmentError
from maas_nb.pipelines import sweep
from tests.helpers import ROOT, write_notebook

GRID = {"C": [0.01, 1.0, -1.0, 10.0]}  # C=-1: LogisticRegression refuses it in the train cell


@pytest.fixture
def sweep_nb(tmp_path):
    """notebooks/sweep.ipynb alone in a directory (the working_dir shipped to the workers)."""
    (tmp_path / "nb").mkdir()
    return shutil.copy(ROOT / "notebooks" / "sweep.ipynb", tmp_path / "nb" / "sweep.ipynb")


def shape(reg, run):
    """What a sweep point recorded, without ids and times: run, versions and their lineage."""
    versions = [v for m in reg.list_models() for v in reg.list_versions(m.name)]
    made = [v for v in versions if v.lineage.get("pipeline_run") == run.id]
    tracked = [r for r in reg.list_runs() if r.lineage.get("pipeline_run") == run.id]
    return {
        "name": run.name,
        "notebook": run.notebook,
        "parameters": run.parameters,
        "status": run.status,
        "created_by": run.created_by,
        "error": {k: run.error.get(k) for k in ("cell", "exception")} if run.error else {},
        "versions": [(v.name, sorted(v.lineage), sorted(v.metrics)) for v in made],
        "tracked": [sorted(r.lineage) for r in tracked],
        "executed": reg.pipeline_notebook(run, executed=True) is not None,
    }


@pytest.mark.slow
def test_ray_sweep_records_every_point_like_the_local_executor(
    ray_cluster, sweep_nb, monkeypatch, capsys
):
    monkeypatch.setenv("MAAS_RAY_ADDRESS", ray_cluster.address)
    grid = ["-p", "C", "0.01,1.0,-1.0,10.0"]
    best = ["--best", "accuracy", "--alias-best", "candidate"]
    code = main(["sweep", str(sweep_nb), *grid, "--executor", "ray", *best, "--json"])
    out, err = capsys.readouterr()
    assert code == 0, out + err
    reg = maas_nb.registry()
    by_c = {r.parameters["C"]: r for r in reg.list_pipeline_runs()}
    assert sorted(by_c) == [-1.0, 0.01, 1.0, 10.0]
    assert {c: r.status for c, r in by_c.items()} == {
        -1.0: "failed",
        0.01: "finished",
        1.0: "finished",
        10.0: "finished",
    }
    failed = by_c[-1.0]
    assert failed.error["cell"] == 3 and failed.error["exception"] == "InvalidParameterError"
    best = maas_nb.get("iris-sweep@candidate")
    assert best.lineage["pipeline_run"] in {by_c[c].id for c in (0.01, 1.0, 10.0)}
    assert best.metrics["accuracy"] == max(
        v.metrics["accuracy"] for v in maas_nb.list_versions("iris-sweep")
    )

    # The local executor records the same things for a finished and for the failed point.
    ray_shapes = {c: shape(reg, r) for c, r in by_c.items()}
    local = sweep(sweep_nb, {"C": [1.0, -1.0]}, parallel=2, progress=False)
    local_shapes = {r.parameters["C"]: shape(reg, r) for r in local.runs}
    assert {c: ray_shapes[c] for c in local_shapes} == local_shapes
    assert ray_shapes[1.0]["versions"] and ray_shapes[1.0]["tracked"]


@pytest.mark.slow
def test_a_module_only_the_driver_can_import_fails_the_ray_sweep_before_any_point(
    ray_cluster, tmp_path, monkeypatch
):
    """The Ray user's most common sweep failure: code importable where the sweep was
    started (here through PYTHONPATH) but not on the workers."""
    lib = tmp_path / "driver_lib"
    lib.mkdir()
    (lib / "feature_code.py").write_text("def scale(x):\n    return 2 * x\n")
    monkeypatch.setenv("PYTHONPATH", f"{lib}:{ROOT}")
    notebook = tmp_path / "nb" / "uses_module.ipynb"
    notebook.parent.mkdir()
    write_notebook(
        notebook,
        "%load_ext maas_nb\nimport feature_code\nfrom sklearn.dummy import DummyClassifier",
        "assert feature_code.scale(x) == 2 * x",
        parameters="x = 1",
    )
    # The local executor's kernels see the driver's PYTHONPATH: the point runs there.
    assert sweep(notebook, {"x": [1]}, progress=False).runs[0].status == "finished"
    before = len(maas_nb.registry().list_pipeline_runs())

    with pytest.raises(WorkerEnvironmentError) as caught:
        sweep(notebook, {"x": [1, 2]}, progress=False, executor=ray_cluster.client_address)
    message = str(caught.value)
    assert "Ray workers cannot import 'feature_code', needed by" in message
    assert "sklearn" not in message and "maas_nb" not in message.split("Fix:")[0]
    assert f"put the module(s) next to the notebook (its directory {notebook.parent}" in message
    assert len(maas_nb.registry().list_pipeline_runs()) == before  # no point ran

    # Next to the notebook, the module travels with the tasks (runtime_env working_dir).
    shutil.copy(lib / "feature_code.py", notebook.parent)
    result = sweep(notebook, {"x": [3]}, progress=False, executor=ray_cluster.client_address)
    assert list(result.table["status"]) == ["finished"]


def test_without_ray_the_executor_says_how_to_install_it(sweep_nb, monkeypatch):
    monkeypatch.setitem(sys.modules, "ray", None)  # what `import ray` sees when not installed
    with pytest.raises(MissingDependencyError, match=r"pip install 'maas_nb\[ray\]'"):
        sweep(sweep_nb, GRID, progress=False, executor="ray")
    assert maas_nb.registry().list_pipeline_runs() == []


def test_unknown_executor_is_refused(sweep_nb):
    with pytest.raises(ValueError, match="Unknown sweep executor 'dask'"):
        sweep(sweep_nb, GRID, progress=False, executor="dask")


def test_doctor_names_the_ray_cluster_without_connecting(monkeypatch, capsys):
    import json

    monkeypatch.setenv("MAAS_RAY_ADDRESS", "127.0.0.1:1")  # nothing listens there
    assert main(["doctor", "--json"]) == 0
    facts = json.loads(capsys.readouterr().out)
    assert facts["ray cluster"].endswith("cluster 127.0.0.1:1 ($MAAS_RAY_ADDRESS)")
    monkeypatch.delenv("MAAS_RAY_ADDRESS")
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    assert main(["doctor", "--json"]) == 0
    assert "a local cluster started on demand" in json.loads(capsys.readouterr().out)["ray cluster"]
    monkeypatch.setitem(sys.modules, "ray", None)
