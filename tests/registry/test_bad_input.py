"""Each bad input gets a clear error whose message is asserted, and nothing stored is harmed."""

import os
import sqlite3
import sys

import numpy as np
import pytest

import maas_nb
from maas_nb.exceptions import (
    AliasNotFoundError,
    ArtifactCorruptedError,
    ArtifactMissingError,
    ConfigurationError,
    InvalidMetadataError,
    InvalidNameError,
    ModelNotFittedError,
    ModelNotFoundError,
    RegistryUnavailableError,
    SchemaVersionError,
    SignatureError,
    UnsupportedModelError,
    UntrustedModelError,
    VersionNotFoundError,
)
from maas_nb.registry import Registry
from maas_nb.registry.schema import SCHEMA_VERSION
from tests.custom_models import PlainPredictor, ThresholdClassifier


@pytest.fixture
def stored(classifier):
    maas_nb.register(classifier, "iris", alias="production")
    maas_nb.register(classifier, "iris")
    return classifier


@pytest.mark.parametrize(
    ("uri", "error", "message"),
    [
        ("nope", ModelNotFoundError, "No model named 'nope'. Registered models: iris."),
        ("iris:9", VersionNotFoundError, "Model 'iris' has no version 9; its versions are: 1, 2."),
        (
            "iris@staging",
            AliasNotFoundError,
            "Model 'iris' has no alias 'staging'; its aliases are: production. "
            "Set one with set_alias('iris:VERSION', 'staging').",
        ),
    ],
)
def test_unknown_model_version_or_alias(stored, uri, error, message):
    for call in (maas_nb.get, maas_nb.load):
        with pytest.raises(error) as info:
            call(uri)
        assert str(info.value) == message


def test_unknown_model_in_an_empty_registry():
    with pytest.raises(
        ModelNotFoundError, match=r"^No model named 'iris'. No models are registered yet.$"
    ):
        maas_nb.get("iris")


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (
            {"name": "bad name"},
            InvalidNameError,
            "Invalid model name 'bad name': use letters, digits",
        ),
        ({"name": "iris:2"}, InvalidNameError, "Invalid model name 'iris:2'"),
        ({"alias": "latest"}, InvalidNameError, "Alias 'latest' is reserved"),
        ({"alias": "-x"}, InvalidNameError, "Invalid alias '-x'"),
        (
            {"metrics": {"accuracy": "high"}},
            InvalidMetadataError,
            "Metric 'accuracy' must be a number, got str: 'high'.",
        ),
        (
            {"metrics": {"loss": float("nan")}},
            InvalidMetadataError,
            "Metric 'loss' is nan; metrics must be finite numbers.",
        ),
        ({"tags": ["a"]}, InvalidMetadataError, "tags must be a dict, got list: ['a']."),
    ],
)
def test_bad_register_arguments(classifier, kwargs, error, message):
    kwargs = {"name": "iris", **kwargs}
    with pytest.raises(error) as info:
        maas_nb.register(classifier, **kwargs)
    assert message in str(info.value)
    assert maas_nb.list_models() == []


def test_registering_an_unfitted_estimator():
    from sklearn.linear_model import LogisticRegression

    with pytest.raises(ModelNotFittedError) as info:
        maas_nb.register(LogisticRegression(), "iris")
    assert str(info.value) == (
        "This LogisticRegression is not fitted yet: call fit() before registering it."
    )
    assert maas_nb.list_models() == []


def test_registering_an_object_no_flavor_knows():
    with pytest.raises(UnsupportedModelError) as info:
        maas_nb.register(PlainPredictor(), "plain")
    assert "No flavor can store a tests.custom_models.PlainPredictor" in str(info.value)
    assert "pass allow_pickle=True" in str(info.value)


@pytest.mark.parametrize(
    ("sample", "message"),
    [
        (
            np.zeros((5, 3)),
            "The sample has 3 features, but model 'iris' was fitted with 4. Pass a few rows "
            "of the training data as sample=, e.g. sample=X_train[:5].",
        ),
        (np.zeros(4), "Expected a 2-D numpy array (rows x features), a pandas DataFrame"),
        (
            {"a": 1},
            "Expected a 2-D numpy array (rows x features), a pandas DataFrame with named columns, or a list of strings, got dict.",
        ),
    ],
)
def test_sample_that_disagrees_with_the_model(classifier, sample, message):
    with pytest.raises(SignatureError) as info:
        maas_nb.register(classifier, "iris", sample=sample)
    assert message in str(info.value)
    assert maas_nb.list_models() == []


def test_sample_the_model_cannot_predict_on(text_pipeline):
    with pytest.raises(SignatureError, match=r"Model 'spam' failed to predict on the sample"):
        maas_nb.register(text_pipeline, "spam", sample=np.ones((2, 2)))


def test_corrupted_artifact_is_detected_on_load(registry, classifier):
    v = registry.register(classifier, "iris")
    path = registry.artifacts.path(v.digest)
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(ArtifactCorruptedError) as info:
        registry.load("iris:1")
    assert str(info.value).startswith(
        f"The artifact at '{path}' is corrupted: its sha256 is sha256:"
    )
    assert f"but {v.digest} was recorded when it was registered" in str(info.value)
    # The record is untouched and re-registering the same model repairs nothing silently.
    assert registry.get("iris:1") == v


def test_missing_artifact_is_reported(registry, classifier):
    v = registry.register(classifier, "iris")
    registry.artifacts.path(v.digest).unlink()
    with pytest.raises(ArtifactMissingError, match=f"The artifact {v.digest} is missing"):
        registry.load("iris")


def test_untrusted_type_is_refused_at_register_and_load(monkeypatch, iris):
    X, _ = iris
    model = ThresholdClassifier().fit(X)
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.register(model, "threshold")
    assert str(info.value) == (
        "Model 'threshold' contains types that maas_nb does not trust: "
        "tests.custom_models.ThresholdClassifier. Loading untrusted types can run arbitrary "
        "code. If you trust their source, pass "
        "trusted_types=['tests.custom_models.ThresholdClassifier'] or set "
        "MAAS_TRUSTED_TYPES=tests.custom_models.ThresholdClassifier (exact names, "
        "comma-separated)."
    )
    assert maas_nb.list_models() == []

    monkeypatch.setenv("MAAS_TRUSTED_TYPES", "tests.custom_models.ThresholdClassifier")
    v = maas_nb.register(model, "threshold")
    assert v.trust["needs"] == ["tests.custom_models.ThresholdClassifier"]
    (approval,) = v.trust["approved"]
    assert approval["type"] == "tests.custom_models.ThresholdClassifier"
    assert approval["via"] == "MAAS_TRUSTED_TYPES"
    assert maas_nb.load("threshold").predict(X[:3]).tolist() == model.predict(X[:3]).tolist()

    # The approval is the registry's record of that opt-in: later loads honour it.
    monkeypatch.delenv("MAAS_TRUSTED_TYPES")
    assert maas_nb.load("threshold").threshold_ == model.threshold_


def test_a_wildcard_is_refused(monkeypatch, iris):
    X, _ = iris
    model = ThresholdClassifier().fit(X)
    monkeypatch.setenv("MAAS_TRUSTED_TYPES", "tests.custom_models.*")
    with pytest.raises(ConfigurationError) as info:
        maas_nb.register(model, "threshold")
    assert str(info.value).startswith(
        "MAAS_TRUSTED_TYPES got 'tests.custom_models.*', which is not an exact type name. "
        "Wildcards are not accepted"
    )
    monkeypatch.delenv("MAAS_TRUSTED_TYPES")
    with pytest.raises(ConfigurationError, match=r"trusted_types got 'sklearn\.\*'"):
        maas_nb.register(model, "threshold", trusted_types=["sklearn.*"])
    assert maas_nb.list_models() == []


def test_pickle_needs_opt_in_at_register_and_load(iris):
    X, _ = iris
    v = maas_nb.register(PlainPredictor(), "plain", allow_pickle=True)
    assert v.flavor == "pickle"
    with pytest.raises(UntrustedModelError) as info:
        maas_nb.load("plain")
    assert str(info.value) == (
        "Model 'plain:1' is stored as a pickle, and loading a pickle can run arbitrary code. "
        "If you trust where it came from, load it with allow_pickle=True."
    )
    assert (
        maas_nb.load("plain", allow_pickle=True).predict(X[:2]).tolist()
        == X[:2].sum(axis=1).tolist()
    )


def test_home_that_is_a_file(tmp_path):
    home = tmp_path / "file"
    home.write_text("not a directory")
    with pytest.raises(RegistryUnavailableError) as info:
        Registry(home)
    assert str(info.value).startswith(f"Cannot use '{home}' as the registry home:")
    assert (
        "Set MAAS_HOME (maas --home DIR; home= in Python) to a directory you can read and write"
        in str(info.value)
    )


def _open_as_nobody(home, conn):
    try:
        os.setgid(65534)
        os.setuid(65534)
        Registry(home)
    except BaseException as exc:
        conn.send(exc)  # the error pickles, as it must to cross processes
    else:
        conn.send(None)


@pytest.mark.skipif(sys.platform == "win32", reason="POSIX permissions")
def test_unreadable_home_directory(tmp_path):
    home = tmp_path / "locked"
    home.mkdir()
    home.chmod(0)
    if os.geteuid() == 0:
        # root ignores permission bits, so open the registry as 'nobody' in a child.
        import multiprocessing

        ctx = multiprocessing.get_context("fork")
        parent, child = ctx.Pipe()
        proc = ctx.Process(target=_open_as_nobody, args=(home, child))
        proc.start()
        error = parent.recv()
        proc.join(30)
    else:
        with pytest.raises(RegistryUnavailableError) as info:
            Registry(home)
        error = info.value
    home.chmod(0o700)
    assert isinstance(error, RegistryUnavailableError)
    assert str(error) == (
        f"Cannot use '{home}' as the registry home: Permission denied. Set MAAS_HOME (maas "
        "--home DIR; home= in Python) to a directory you can read and write, or fix its "
        "permissions."
    )


def test_database_from_a_newer_schema(registry, classifier):
    registry.register(classifier, "iris")
    conn = sqlite3.connect(registry.home / "registry.db")
    conn.execute("PRAGMA user_version = 99")
    conn.close()
    with pytest.raises(SchemaVersionError) as info:
        Registry(registry.home)
    assert str(info.value) == (
        f"The registry database '{registry.home / 'registry.db'}' has schema version 99, but "
        f"this maas_nb ({maas_nb.__version__}) understands versions up to {SCHEMA_VERSION}. Upgrade with: "
        "pip install -U maas_nb, or point MAAS_HOME at another directory."
    )
    # Refusing did not touch the newer database.
    conn = sqlite3.connect(registry.home / "registry.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == 99
    assert conn.execute("SELECT count(*) FROM versions").fetchone()[0] == 1
    conn.close()


def test_database_file_that_is_not_sqlite(home):
    home.mkdir(parents=True)
    (home / "registry.db").write_bytes(b"this is not a database" * 100)
    with pytest.raises(
        RegistryUnavailableError,
        match=r"Cannot open the registry database '.*registry.db': file is not a database.",
    ):
        Registry(home)
