"""``maas --home X``: pipeline verbs record in X, and their kernels and workers open X.

``$MAAS_HOME`` points at an empty directory that must stay empty: a run, a rerun, a
gated alias and a sweep, each recorded under ``--home``, versions registered inside the
notebooks included.
"""

import pytest

from maas_nb.cli import main
from maas_nb.registry import Registry
from tests.helpers import ROOT, write_notebook

GATE = ROOT / "notebooks" / "gate.ipynb"

REGISTER = """import maas_nb
from sklearn.dummy import DummyClassifier

maas_nb.register(DummyClassifier().fit([[0.0], [1.0]], [0, 1]), "tiny", params={"C": C})"""


@pytest.fixture
def tiny_nb(tmp_path):
    return write_notebook(tmp_path / "tiny.ipynb", REGISTER, parameters="C = 1.0")


@pytest.mark.slow
def test_pipeline_verbs_record_under_home_and_leave_maas_home_untouched(
    tmp_path, monkeypatch, tiny_nb, classifier, capsys
):
    env_home = tmp_path / "env-home"
    env_home.mkdir()
    monkeypatch.setenv("MAAS_HOME", str(env_home))
    other = tmp_path / "elsewhere"
    Registry(other).register(classifier, "iris")
    home = ["--home", str(other)]

    assert main([*home, "run", str(tiny_nb), "-p", "C", "2"]) == 0
    (first,) = Registry(other).list_pipeline_runs()
    assert main([*home, "rerun", first.id]) == 0
    assert main([*home, "alias", "iris:1", "production", "--gate", str(GATE)]) == 0
    assert main([*home, "sweep", str(tiny_nb), "-p", "C", "3", "--parallel", "1"]) == 0
    capsys.readouterr()

    assert sorted(env_home.iterdir()) == []
    registry = Registry(other)
    runs = registry.list_pipeline_runs()
    assert [(r.name, r.status) for r in runs] == [
        ("tiny", "finished"),
        ("tiny", "finished"),
        ("gate-production", "finished"),
        ("tiny", "finished"),
    ]
    made = [
        (v.uri, v.params["C"], v.lineage["pipeline_run"]) for v in registry.list_versions("tiny")
    ]
    assert made == [("tiny:1", 2, runs[0].id), ("tiny:2", 2, runs[1].id), ("tiny:3", 3, runs[3].id)]
    assert registry.get("iris@production").tags["gate.production"] == f"passed {runs[2].id}"
