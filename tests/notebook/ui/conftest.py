"""A control panel over a registry with two iris versions; panels close (thread stopped) after."""

import numpy as np
import pytest

import maas_nb
from maas_nb.notebook.ui import Panel


@pytest.fixture
def versions(classifier, iris):
    X, _ = iris
    a = maas_nb.register(
        classifier,
        "iris",
        sample=X[:5],
        metrics={"accuracy": 0.9, "f1": 0.8},
        lineage={"notebook": "notebooks/train.ipynb"},
    )
    b = maas_nb.register(
        classifier, "iris", sample=X[:5], metrics={"accuracy": 0.95}, alias="production"
    )
    return a, b


@pytest.fixture
def make_panel():
    """Build panels; `live=False` ones are driven with .tick(). All are closed afterwards."""
    made = []

    def make(**kwargs):
        kwargs.setdefault("live", False)
        panel = Panel(**kwargs)
        made.append(panel)
        return panel

    yield make
    for panel in made:
        panel.deploy.wait(timeout=90)
        panel.close()


def fill(panel, values):
    for field, value in zip(panel.predict.fields, values, strict=True):
        field.value = str(value)


def rows_of(values):
    return np.asarray(values, dtype=float).reshape(1, -1)
