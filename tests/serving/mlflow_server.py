"""One MLflow-protocol server for a test module: 'iris' (an array model), 'frame' (a
DataFrame model), 'reviews' (text) and 'counts' (an array model taking int64)."""

from __future__ import annotations

import pytest

from maas_nb.registry import Registry
from tests.serving.conftest import spawn_server, stop

ROWS = [[5.1, 3.5, 1.4, 0.2], [6.7, 3.0, 5.2, 2.3]]
IRIS, FRAME = "/models/iris/invocations", "/models/frame/invocations"


@pytest.fixture(scope="module", name="frame_model")
def frame_model_fixture(iris):
    """A DataFrame model fitted on columns sl, sw, pl, pw, and that frame."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    return LogisticRegression(max_iter=1000).fit(frame, y), frame


@pytest.fixture(scope="module", name="server")
def server_fixture(tmp_path_factory, classifier, iris, frame_model, text_pipeline):
    """One server for the module: 'iris' (an array model), 'frame' and 'reviews' (text)."""
    home = tmp_path_factory.mktemp("mlflow")
    registry = Registry(home)
    X, _ = iris
    model, frame = frame_model
    registry.register(classifier, "iris", sample=X[:5])
    registry.register(model, "frame", sample=frame[:5])
    registry.register(text_pipeline, "reviews", sample=["a fine film", "a dull film"])
    registry.register(classifier, "counts", sample=(X[:5] * 10).astype("int64"))  # int64 input
    for name in ("iris", "frame", "reviews", "counts"):
        registry.put_deployment(name, name, {})
    server = spawn_server(home)
    assert [s["status"] for s in server.reconcile()] == ["ready"] * 4
    yield server
    stop(server)
