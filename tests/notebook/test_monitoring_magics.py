"""``%maas register --reference``, ``%%maas train`` recording the training rows'
statistics, and ``%maas predictions`` / ``%maas drift`` in a notebook."""

from __future__ import annotations

import numpy as np

from maas_nb.registry.reference import KEY
from maas_nb.serving.outcomes import Outcome
from maas_nb.serving.prediction_log import PredictionLog
from tests.helpers import offer
from tests.notebook.conftest import out

TRAIN = """
from sklearn.linear_model import LogisticRegression
model = LogisticRegression(max_iter=500).fit(X_train, y_train)
"""


def test_register_records_the_reference_rows_given(ip):
    ip.run_cell(TRAIN)
    ip.run_line_magic("maas", "register model iris --sample X_train[:5] --reference X_train")
    ip.run_line_magic("maas", "register model iris --sample X_train[:5]")
    v1, v2 = (ip.run_line_magic("maas", f"show iris:{n}").value for n in (1, 2))
    assert (v1.lineage[KEY]["rows"], v2.lineage[KEY]["rows"]) == (75, 5)


def test_a_train_cell_records_its_training_rows(ip):
    result = ip.run_cell_magic("maas", "train iris --register", TRAIN)
    assert result.value.version.lineage[KEY]["rows"] == 75


def test_drift_and_predictions_in_a_notebook(ip, home):
    ip.run_cell(TRAIN)
    ip.run_line_magic("maas", "register model iris --sample X_train[:5] --reference X_train")
    log = PredictionLog(home, lambda name: {"sample": 1.0})
    X = ip.user_ns["X_test"] + np.array([0.0, 0.0, 3.0, 0.0])  # petal length moved a lot
    outputs = {"predictions": np.zeros(len(X), dtype=int)}
    offer(log, Outcome("iris", "iris", 1, "r", 0.001, len(X), X, outputs, False, 0.0))
    log.close()
    lines = out(ip, "drift iris").splitlines()
    assert [(line.split()[0], line.split()[-1]) for line in lines[1:]] == [
        ("x0", "-"),
        ("x1", "-"),
        ("x2", "DRIFT"),
        ("x3", "-"),
    ]
    shown = ip.run_line_magic("maas", "predictions iris --limit 2")
    assert repr(shown).splitlines()[0].split() == [
        "model",
        "version",
        "shadow",
        "x0",
        "x1",
        "x2",
        "x3",
        "predictions",
    ]  # the time, id, latency and row are details (feedback level 2)
    assert shown.value["x2"].tolist() == X[-2:, 2].tolist()
