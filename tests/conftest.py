"""Shared fixtures: every test gets its own registry home and fitted models."""

from __future__ import annotations

import os
import signal

import numpy as np
import pytest

import maas_nb.api
from maas_nb.serving.server import read_server_file
from tests.helpers import wait_for
from tests.s3 import artifacts_uri, s3_server, s3_uri  # noqa: F401  (fixtures)

# The session's PostgreSQL server and Ray cluster (each started only when a test asks for it).
pytest_plugins = ["tests.postgres", "tests.ray_cluster"]


@pytest.fixture(autouse=True)
def home(tmp_path, monkeypatch):
    """Point the registry at a fresh directory; nothing touches ~/.maas."""
    path = tmp_path / "maas-home"
    monkeypatch.setenv("MAAS_HOME", str(path))
    monkeypatch.delenv("MAAS_TRUSTED_TYPES", raising=False)
    monkeypatch.delenv("MAAS_REGISTRY_URI", raising=False)
    monkeypatch.delenv("MAAS_ARTIFACTS_URI", raising=False)
    monkeypatch.setattr(maas_nb.api, "_registries", {})
    return path


@pytest.fixture(autouse=True)
def ephemeral_port(monkeypatch):
    """Servers spawned by deploy() pick a free port; no test depends on 8765."""
    monkeypatch.setenv("MAAS_PORT", "0")
    monkeypatch.delenv("MAAS_TOKEN", raising=False)


@pytest.fixture(autouse=True)
def stop_spawned_server(home):
    """Stop a server that deploy() spawned for this test's home, by its recorded PID."""
    yield
    info = read_server_file(home)
    if info is not None:
        os.kill(int(info["pid"]), signal.SIGTERM)
        wait_for(
            lambda: read_server_file(home) is None,
            timeout=60,
            interval=0.02,
            what="the server to stop",
        )


@pytest.fixture
def registry(home):
    return maas_nb.api.registry()


@pytest.fixture(scope="session")
def iris():
    from sklearn.datasets import load_iris

    X, y = load_iris(return_X_y=True)
    return X, y


@pytest.fixture(scope="session")
def classifier(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    return LogisticRegression(max_iter=1000).fit(X, y)


@pytest.fixture(scope="session")
def regressor(iris):
    from sklearn.linear_model import Ridge

    X, _ = iris
    return Ridge().fit(X[:, :3], X[:, 3])


CORPUS = [
    ("a wonderful film with great acting", "pos"),
    ("great story and a wonderful cast", "pos"),
    ("I loved this movie, truly great", "pos"),
    ("an excellent and moving film", "pos"),
    ("terrible plot and awful acting", "neg"),
    ("a boring, awful movie", "neg"),
    ("I hated this terrible film", "neg"),
    ("bad script, boring and dull", "neg"),
]


@pytest.fixture(scope="session")
def strict_frame_model(iris):
    """A DataFrame model (number + text column) whose encoder rejects unseen categories."""
    import pandas as pd
    from sklearn.compose import make_column_transformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import OneHotEncoder

    X, y = iris
    frame = pd.DataFrame({"petal_length": X[:, 2], "colour": np.where(y == 0, "red", "blue")})
    model = make_pipeline(
        make_column_transformer((OneHotEncoder(), ["colour"]), remainder="passthrough"),
        LogisticRegression(max_iter=1000),
    ).fit(frame, y)
    return model, frame


@pytest.fixture(scope="session")
def text_pipeline():
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.naive_bayes import MultinomialNB
    from sklearn.pipeline import make_pipeline

    docs, labels = zip(*CORPUS, strict=True)
    return make_pipeline(TfidfVectorizer(), MultinomialNB()).fit(list(docs), list(labels))


@pytest.fixture(scope="session")
def keras_mlp():
    import keras

    rng = np.random.default_rng(0)
    X = rng.normal(size=(64, 4)).astype("float32")
    y = (X.sum(axis=1) > 0).astype("float32")
    keras.utils.set_random_seed(0)
    model = keras.Sequential(
        [
            keras.Input(shape=(4,)),
            keras.layers.Dense(8, activation="relu"),
            keras.layers.Dense(1, activation="sigmoid"),
        ]
    )
    model.compile(optimizer="adam", loss="binary_crossentropy")
    model.fit(X, y, epochs=2, verbose=0)
    return model, X
