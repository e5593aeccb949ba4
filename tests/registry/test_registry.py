"""The registry through the public Python API, on each pair of stores (the `stores`
fixture): a real SQLite file with the local artifact store, and a real PostgreSQL
database with a real S3 server (moto)."""

import dataclasses
import pickle

import numpy as np
import pytest

import maas_nb
from maas_nb.exceptions import (
    AliasNotFoundError,
    InvalidMetadataError,
    InvalidNameError,
    ModelNotFoundError,
    VersionInUseError,
    VersionNotFoundError,
)
from maas_nb.registry import Registry, reference
from maas_nb.registry.reference import KEY

pytestmark = pytest.mark.usefixtures("stores")


def test_register_returns_an_immutable_version_record(classifier, iris):
    X, _ = iris
    v = maas_nb.register(
        classifier,
        "iris",
        sample=X[:5],
        metrics={"accuracy": 0.97},
        params={"C": 1.0},
        tags={"team": "ml"},
        description="first",
        alias="production",
        lineage={"notebook": "train.ipynb"},
    )
    assert (v.name, v.version, v.uri, v.flavor) == ("iris", 1, "iris:1", "sklearn")
    assert v.digest.startswith("sha256:") and len(v.digest) == 71
    assert v.size > 0
    assert dict(v.metrics) == {"accuracy": 0.97}
    assert dict(v.params) == {"C": 1.0}
    assert dict(v.tags) == {"team": "ml"}
    # The sample's statistics join the lineage (the reference `maas_nb.drift` uses).
    assert dict(v.lineage) == {"notebook": "train.ipynb", KEY: reference.statistics(X[:5])}
    assert v.aliases == ("production",)
    assert v.description == "first"
    assert v.created_at.tzinfo is not None
    with pytest.raises(dataclasses.FrozenInstanceError):
        v.version = 2
    with pytest.raises(TypeError, match="immutable"):
        v.metrics["accuracy"] = 1.0
    assert pickle.loads(pickle.dumps(v)) == v


def test_params_default_to_the_estimators_own(classifier):
    v = maas_nb.register(classifier, "iris")
    assert v.params["max_iter"] == 1000
    assert v.params["solver"] == "lbfgs"


def test_versions_count_up_and_uris_resolve(classifier, regressor):
    for _ in range(3):
        maas_nb.register(classifier, "iris")
    maas_nb.set_alias("iris:2", "production")
    assert maas_nb.get("iris").version == 3
    assert maas_nb.get("iris@latest").version == 3
    assert maas_nb.get("iris:latest").version == 3
    assert maas_nb.get("iris:1").version == 1
    assert maas_nb.get("iris@production").version == 2
    assert [v.version for v in maas_nb.list_versions("iris")] == [1, 2, 3]
    assert maas_nb.list_versions("iris")[1].aliases == ("production",)


def test_load_round_trips_predictions(classifier, iris):
    X, _ = iris
    maas_nb.register(classifier, "iris")
    loaded = maas_nb.load("iris:1")
    assert loaded is not classifier
    np.testing.assert_array_equal(loaded.predict(X), classifier.predict(X))
    np.testing.assert_allclose(loaded.predict_proba(X), classifier.predict_proba(X))


def test_list_models(classifier, regressor):
    assert maas_nb.list_models() == []
    maas_nb.register(classifier, "iris", alias="production")
    maas_nb.register(classifier, "iris")
    maas_nb.register(regressor, "petal-width")
    models = maas_nb.list_models()
    assert [m.name for m in models] == ["iris", "petal-width"]
    assert models[0].latest_version == 2
    assert models[0].version_count == 2
    assert dict(models[0].aliases) == {"production": 1}


def test_moving_an_alias(classifier):
    maas_nb.register(classifier, "iris", alias="production")
    maas_nb.register(classifier, "iris")
    moved = maas_nb.set_alias("iris:2", "production")
    assert moved.uri == "iris:2" and moved.aliases == ("production",)
    assert maas_nb.get("iris@production").version == 2
    assert maas_nb.get("iris:1").aliases == ()


def test_set_alias_through_another_alias(classifier):
    maas_nb.register(classifier, "iris", alias="candidate")
    maas_nb.register(classifier, "iris")
    maas_nb.set_alias("iris@candidate", "production")
    assert maas_nb.get("iris@production").version == 1


def test_remove_alias(classifier):
    maas_nb.register(classifier, "iris", alias="production")
    assert maas_nb.remove_alias("iris", "production") == 1
    with pytest.raises(
        AliasNotFoundError, match=r"Model 'iris' has no alias 'production'; it has no aliases\."
    ):
        maas_nb.get("iris@production")
    with pytest.raises(AliasNotFoundError):
        maas_nb.remove_alias("iris", "production")


def test_update_a_version_and_a_model(classifier):
    maas_nb.register(classifier, "iris", tags={"a": "1"})
    v = maas_nb.update("iris:1", description="retrained", tags={"b": 2})
    assert v.description == "retrained" and dict(v.tags) == {"b": "2"}
    m = maas_nb.update("iris", description="Iris classifiers")
    assert m.description == "Iris classifiers"
    assert maas_nb.list_models()[0].description == "Iris classifiers"
    assert maas_nb.get("iris:1").description == "retrained"


def test_deleted_version_numbers_are_never_reused(classifier):
    for _ in range(3):
        maas_nb.register(classifier, "iris")
    maas_nb.delete_version("iris:3")
    assert maas_nb.register(classifier, "iris").version == 4
    maas_nb.delete_model("iris")
    with pytest.raises(ModelNotFoundError):
        maas_nb.get("iris")
    assert maas_nb.register(classifier, "iris").version == 5


def test_a_retried_registration_returns_the_version_it_made(registry, classifier):
    first = registry.register(classifier, "iris", idempotency_key="job-42", alias="production")
    assert registry.register(classifier, "iris", idempotency_key="job-42") == first
    assert [v.version for v in registry.list_versions("iris")] == [1]
    assert registry.register(classifier, "iris", idempotency_key="job-43").version == 2
    assert registry.register(classifier, "iris").version == 3  # no key: a new version each time
    assert registry.register(classifier, "other", idempotency_key="job-42").version == 1
    with pytest.raises(
        InvalidMetadataError,
        match=r"idempotency_key must be a non-empty string of at most 200 characters \(such as a job's id\), got int: 42\.",
    ):
        registry.register(classifier, "iris", idempotency_key=42)


def test_deleting_a_version_removes_its_aliases(classifier):
    maas_nb.register(classifier, "iris", alias="production")
    maas_nb.register(classifier, "iris")
    maas_nb.delete_version("iris@production")
    with pytest.raises(AliasNotFoundError):
        maas_nb.get("iris@production")
    with pytest.raises(
        VersionNotFoundError, match=r"Model 'iris' has no version 1; its versions are: 2\."
    ):
        maas_nb.get("iris:1")


def test_delete_version_needs_an_explicit_version(classifier):
    maas_nb.register(classifier, "iris")
    with pytest.raises(
        InvalidNameError,
        match=r"delete_version needs an explicit version, such as 'iris:3'.*delete_model\('iris'\)",
    ):
        maas_nb.delete_version("iris")


def test_delete_is_refused_while_a_deployment_points_at_the_version(registry, classifier):
    registry.register(classifier, "iris", alias="production")
    registry.register(classifier, "iris")
    registry.put_deployment("iris-prod", "iris@production")
    message = (
        "Cannot delete version iris:1: deployment 'iris-prod' serves 'iris@production'. "
        "Undeploy it first (maas undeploy iris-prod; in a notebook: %maas undeploy iris-prod) "
        "or point it at another version."
    )
    with pytest.raises(VersionInUseError) as info:
        registry.delete_version("iris:1")
    assert str(info.value) == message
    with pytest.raises(VersionInUseError, match="Cannot delete model 'iris'"):
        registry.delete_model("iris")
    registry.delete_version("iris:2")  # not served: allowed
    registry.delete_deployment("iris-prod")
    registry.delete_version("iris:1")
    assert registry.list_versions("iris") == []


def test_identical_bytes_are_stored_once(registry, classifier):
    data = registry.artifacts.put(b"same bytes")
    again = registry.artifacts.put(b"same bytes")
    assert data == again
    assert [stored.digest for stored in registry.artifacts.stored()] == [data]


def test_artifact_shared_by_versions_survives_deleting_one(registry, classifier, monkeypatch):
    # Pin the serialised bytes so both versions share one artifact.
    flavor = maas_nb.flavors.get("sklearn")
    data = flavor.save(classifier)
    monkeypatch.setattr(type(flavor), "save", lambda self, model: data)
    a = registry.register(classifier, "iris")
    b = registry.register(classifier, "iris")
    assert a.digest == b.digest
    registry.delete_version("iris:1")
    assert registry.load("iris:2").predict([[1, 2, 3, 4]]).shape == (1,)
    registry.delete_version("iris:2")
    assert not registry.artifacts.exists(a.digest)


def test_runs_are_recorded(registry):
    run = registry.start_run("train-iris", params={"C": 1.0}, source="model.fit(X, y)")
    assert run.status == "running" and run.ended_at is None
    done = registry.end_run(run.id, metrics={"accuracy": 0.9})
    assert done.status == "finished" and dict(done.metrics) == {"accuracy": 0.9}
    assert done.ended_at >= done.started_at
    assert [r.id for r in registry.list_runs("train-iris")] == [run.id]
    assert registry.get_run(run.id).source == "model.fit(X, y)"


def test_deployments_are_recorded(registry, classifier):
    registry.register(classifier, "iris")
    dep = registry.put_deployment("iris", "iris:1", {"max_batch_size": 32})
    assert (dep.name, dep.target, dict(dep.config)) == ("iris", "iris:1", {"max_batch_size": 32})
    assert [d.name for d in registry.list_deployments()] == ["iris"]
    with pytest.raises(ModelNotFoundError):
        registry.put_deployment("x", "nope:1")


def test_registry_instances_share_one_home(home, classifier):
    Registry(home).register(classifier, "iris")
    assert Registry(home).get("iris").version == 1
    assert Registry(str(home)).list_models()[0].name == "iris"


SQLITE_ONLY = pytest.mark.parametrize("stores", ["sqlite+file"], indirect=True)


@SQLITE_ONLY  # a shared database does not follow MAAS_HOME
def test_changing_maas_home_switches_registry(tmp_path, monkeypatch, classifier):
    maas_nb.register(classifier, "iris")
    monkeypatch.setenv("MAAS_HOME", str(tmp_path / "other"))
    assert maas_nb.list_models() == []


@SQLITE_ONLY  # WAL is SQLite's; test_postgres_schema.py checks PostgreSQL's version
def test_database_is_in_wal_mode_with_current_schema(registry):
    import sqlite3

    from maas_nb.registry.schema import SCHEMA_VERSION

    conn = sqlite3.connect(registry.home / "registry.db")
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    conn.close()
