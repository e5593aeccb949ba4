"""Schema versions and migrations: an older database is upgraded in place, data intact."""

import sqlite3

from maas_nb.registry import Registry
from maas_nb.registry.schema import MIGRATIONS, SCHEMA_VERSION


def test_a_version_1_database_is_migrated_with_its_data(home, classifier):
    Registry(home).register(classifier, "iris", alias="production")
    conn = sqlite3.connect(home / "registry.db")
    conn.execute("DROP TABLE pipeline_runs")  # back to exactly what version 1 had
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()

    registry = Registry(home)
    assert registry.get("iris@production").version == 1
    assert registry.load("iris").predict([[1, 2, 3, 4]]).shape == (1,)
    assert registry.store.list_pipeline_runs() == []
    conn = sqlite3.connect(home / "registry.db")
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION == len(MIGRATIONS)
    conn.close()
