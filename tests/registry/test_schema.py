"""Schema versions and migrations: an older database is upgraded in place, data intact."""

import sqlite3

import pytest

from maas_nb.exceptions import UntrustedModelError
from maas_nb.registry import Registry
from maas_nb.registry.schema import MIGRATIONS, SCHEMA_VERSION
from tests.custom_models import ThresholdClassifier

#: The indexes schema 7 made (two of them replace schema 1's and 2's of the same name).
NEW_IN_7 = (
    "runs_by_name",
    "runs_by_started",
    "runs_by_user",
    "pipeline_runs_by_started",
    "pipeline_runs_by_name",
    "pipeline_runs_by_user",
    "versions_by_user",
)


def _downgrade(home, version):
    """Turn a current database back into exactly what schema *version* had."""
    conn = sqlite3.connect(home / "registry.db")
    if version < 8:
        conn.execute("DROP INDEX versions_by_pipeline_run")
        conn.execute("DROP INDEX versions_by_created")
    if version < 7:
        for index in NEW_IN_7:
            conn.execute(f"DROP INDEX {index}")
        conn.execute("CREATE INDEX runs_by_name ON runs (name, started_at)")
        conn.execute("CREATE INDEX pipeline_runs_by_started ON pipeline_runs (started_at)")
    if version < 6:
        for table in ("versions", "runs", "pipeline_runs", "deployments"):
            conn.execute(f"ALTER TABLE {table} DROP COLUMN created_by")
        conn.execute("ALTER TABLE deployments DROP COLUMN server")
    if version < 5:
        conn.execute("DROP INDEX versions_by_idempotency_key")
        conn.execute("ALTER TABLE versions DROP COLUMN idempotency_key")
    if version < 4:
        conn.execute("ALTER TABLE pipeline_runs DROP COLUMN rerun_of")
    if version < 3:
        conn.execute("ALTER TABLE versions DROP COLUMN trust")
    if version < 2:
        conn.execute("DROP TABLE pipeline_runs")
    conn.execute(f"PRAGMA user_version = {version}")
    conn.commit()
    conn.close()


def test_a_version_1_database_is_migrated_with_its_data(home, classifier):
    Registry(home).register(classifier, "iris", alias="production")
    _downgrade(home, 1)

    registry = Registry(home)
    assert registry.get("iris@production").version == 1
    assert registry.load("iris").predict([[1, 2, 3, 4]]).shape == (1,)
    assert registry.list_pipeline_runs() == []
    conn = sqlite3.connect(home / "registry.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    conn.close()


def test_a_version_2_database_gains_empty_trust_records(home, classifier, iris):
    from sklearn.ensemble import RandomForestClassifier

    X, y = iris
    forest = RandomForestClassifier(n_estimators=3, random_state=0).fit(X, y)
    custom = ThresholdClassifier().fit(X)
    registry = Registry(home)
    registry.register(classifier, "iris", alias="production")
    registry.register(forest, "forest")
    registry.register(
        custom, "threshold", trusted_types=["tests.custom_models.ThresholdClassifier"]
    )
    _downgrade(home, 2)

    registry = Registry(home)
    assert registry.get("iris@production").version == 1
    for uri in ("iris:1", "forest:1", "threshold:1"):
        assert registry.get(uri).trust == {}
    # Built-in types need no record; a version from before approvals were recorded
    # needs the loader's own opt-in again.
    assert registry.load("forest").predict(X[:2]).tolist() == forest.predict(X[:2]).tolist()
    with pytest.raises(
        UntrustedModelError, match=r"tests\.custom_models\.ThresholdClassifier\. Loading"
    ):
        registry.load("threshold")
    loaded = registry.load("threshold", trusted_types=["tests.custom_models.ThresholdClassifier"])
    assert loaded.threshold_ == custom.threshold_
    conn = sqlite3.connect(home / "registry.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == 8
    conn.close()


def test_a_version_3_database_keeps_its_pipeline_runs_which_repeat_none(home):
    registry = Registry(home)
    first = registry.start_pipeline_run("train", notebook="train.ipynb", source=b"{}")
    registry.end_pipeline_run(first.id, status="finished", output=b"[]")
    _downgrade(home, 3)

    registry = Registry(home)
    (migrated,) = registry.list_pipeline_runs()
    assert (migrated.id, migrated.status, migrated.rerun_of) == (first.id, "finished", None)
    again = registry.start_pipeline_run(
        "train", notebook="train.ipynb", source=b"{}", rerun_of=first.id[:8]
    )
    assert registry.get_pipeline_run(again.id).rerun_of == first.id


def test_a_version_4_database_keeps_its_versions_and_takes_idempotency_keys(home, classifier):
    Registry(home).register(classifier, "iris", alias="production")
    _downgrade(home, 4)

    registry = Registry(home)
    assert registry.get("iris@production").version == 1
    made = registry.register(classifier, "iris", idempotency_key="job-1")
    assert registry.register(classifier, "iris", idempotency_key="job-1") == made
    assert [v.version for v in registry.list_versions("iris")] == [1, 2]


def test_a_version_5_database_keeps_its_records_made_by_nobody_known(home, classifier, monkeypatch):
    monkeypatch.setenv("MAAS_USER", "ada")
    registry = Registry(home)
    registry.register(classifier, "iris", alias="production")
    run = registry.start_run("train")
    registry.put_deployment("iris", "iris@production")
    _downgrade(home, 5)

    registry = Registry(home)
    assert registry.get("iris@production").created_by == ""
    assert registry.get_run(run.id).created_by == ""
    migrated = registry.get_deployment("iris")
    assert (migrated.created_by, migrated.server) == ("", None)
    monkeypatch.setenv("MAAS_USER", "grace")
    assert registry.register(classifier, "iris").created_by == "grace"


def test_a_version_6_database_gains_the_listing_indexes(home, classifier):
    registry = Registry(home)
    registry.register(classifier, "iris")
    run = registry.start_run("train")
    _downgrade(home, 6)

    registry = Registry(home)
    conn = sqlite3.connect(home / "registry.db")
    plan = " ".join(
        row[-1]
        for row in conn.execute(
            "EXPLAIN QUERY PLAN SELECT * FROM runs WHERE created_by = 'ada' "
            "ORDER BY started_at, id LIMIT 5"
        )
    )
    columns = [r[2] for r in conn.execute("PRAGMA index_info(runs_by_name)")]
    conn.close()
    assert "USING INDEX runs_by_user" in plan
    assert columns == ["name", "started_at", "id"]
    assert registry.list_runs("train", limit=1) == [registry.get_run(run.id)]
