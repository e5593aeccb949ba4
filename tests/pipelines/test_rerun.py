"""``maas rerun``: the recorded notebook bytes, the recorded parameters, this run's metrics.

One run and one rerun on real kernels. Between them both the notebook on disk and the data
file it reads change: the data change must show as differing metrics (so a rerun that
compared a run with itself fails), and the notebook change must not show at all (so a
rerun that executed today's file fails).
"""

import nbformat
import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.pipelines import run
from tests.helpers import write_notebook

PROBE = """import pathlib
import maas_nb
from sklearn.dummy import DummyRegressor

value = float(pathlib.Path("data.txt").read_text())
with maas_nb.training_run("probe") as training:
    training.complete(
        DummyRegressor().fit([[0.0]], [0.0]),
        metrics={{"data": value * scale, "code": {code}}},
    )"""


def probe_notebook(path, code):
    """A notebook whose metric ``code`` says which source ran and ``data`` what it read."""
    return write_notebook(path, PROBE.format(code=code), parameters="scale = 1.0")


def training_metrics(pipeline_run_id):
    """The metrics of the training run made inside *pipeline_run_id*, read from the registry."""
    (training,) = [
        r for r in maas_nb.list_runs("probe") if r.lineage.get("pipeline_run") == pipeline_run_id
    ]
    return dict(training.metrics)


@pytest.mark.slow
def test_rerun_runs_the_recorded_bytes_and_reports_each_differing_metric(tmp_path, capsys):
    nb = probe_notebook(tmp_path / "probe.ipynb", code=1.0)
    (tmp_path / "data.txt").write_text("0.5")
    original = run(nb, {"scale": 2.0})
    assert original.status == "finished", original.error
    assert training_metrics(original.id) == {"code": 1.0, "data": 1.0}

    # Today's file would log code 2.0 and, without the recorded scale, data 0.75.
    probe_notebook(nb, code=2.0)
    (tmp_path / "data.txt").write_text("0.75")

    # A rerun is a reproducibility check: differing metrics fail it, after the table.
    assert main(["rerun", original.id[:12]]) == 1
    out, err = capsys.readouterr()
    again = next(r for r in maas_nb.registry().list_pipeline_runs() if r.id != original.id)
    assert out == (
        f"Rerun of {nb}\n"
        "  metrics      DIFFER\n"
        "  status       finished\n"
        f"  run          {again.id}\n"
        f"  rerun of     {original.id}\n"
        "  metric code  1.0 -> 1.0\n"
        "  metric data  1.0 -> 1.5\n"
    )
    assert err == (
        f"maas: error: Run {again.id[:12]} did not reproduce the metrics of run "
        f"{original.id[:12]} (the metrics are above); see each run with: "
        f"maas runs show {again.id[:12]} and maas runs show {original.id[:12]}\n"
    )
    assert training_metrics(again.id) == {"code": 1.0, "data": 1.5}
    assert again.notebook_digest == original.notebook_digest
    assert dict(again.parameters) == {"scale": 2.0}
    assert again.name == original.name == "probe"
    # The original notebook's path (not a deleted temporary copy) and the run it repeats.
    assert (again.notebook, again.rerun_of) == (str(nb), original.id)
    executed = nbformat.reads(
        maas_nb.registry().pipeline_notebook(again, executed=True).decode(), 4
    )
    assert '"code": 1.0' in executed.cells[-1].source
