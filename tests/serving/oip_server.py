"""One server for the OIP conformance tests, and the bodies they share.

It holds a tensor model (iris), a DataFrame model with a text column (frame), a text model
with a signature (reviews) and one without (notes). A test module imports the fixtures by
their function names; tests ask for them as ``server`` and ``people``.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from maas_nb.registry import Registry
from tests.conftest import CORPUS
from tests.serving.conftest import spawn_server, stop

ISSUE_BODY = {
    "inputs": [
        {"name": "age", "datatype": "INT64", "shape": [1], "data": [30]},
        {"name": "income", "datatype": "FP64", "shape": [1], "data": [1e4]},
        {"name": "city", "datatype": "BYTES", "shape": [1], "data": ["rome"]},
    ]
}
IRIS_ROW = {"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [5.1, 3.5, 1.4, 0.2]}


@pytest.fixture(scope="module", name="people")
def people_fixture():
    """A DataFrame model: two numeric columns and a one-hot encoded city, string classes."""
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder, StandardScaler

    rng = np.random.default_rng(0)
    n = 90
    frame = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "income": rng.normal(3e4, 1e4, n),
            "city": rng.choice(["rome", "oslo", "lima"], n),
        }
    )
    y = np.where(frame.income > 3.5e4, "rich", np.where(frame.city == "rome", "roman", "other"))
    model = make_pipeline(
        make_column_transformer(
            (OneHotEncoder(handle_unknown="ignore"), ["city"]),
            (StandardScaler(), ["age", "income"]),
        ),
        LogisticRegression(max_iter=1000),
    ).fit(frame, y)
    return model, frame


@pytest.fixture(scope="module", name="server")
def server_fixture(tmp_path_factory, classifier, iris, text_pipeline, people):
    X, _ = iris
    model, frame = people
    home = tmp_path_factory.mktemp("oip")
    registry = Registry(home)
    registry.register(classifier, "iris", sample=X[:5])
    registry.register(model, "frame", sample=frame.head())
    registry.register(text_pipeline, "reviews", sample=[d for d, _ in CORPUS][:2])
    registry.register(text_pipeline, "notes")  # no sample: no signature
    for name in ("iris", "frame", "reviews", "notes"):
        registry.put_deployment(name, name, {})
    server = spawn_server(home)
    try:
        states = server.reconcile()
        assert [s["status"] for s in states] == ["ready"] * 4, states
        yield server
    finally:
        stop(server)


def with_binary(header: dict, blob: bytes) -> tuple[bytes, dict[str, str]]:
    head = json.dumps(header).encode()
    return head + blob, {
        "Inference-Header-Content-Length": str(len(head)),
        "Content-Type": "application/octet-stream",
    }


def tensor(**fields) -> dict:
    return {"inputs": [{**IRIS_ROW, **fields}]}
