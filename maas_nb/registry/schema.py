"""The registry's SQLite schema and its migrations.

The schema version lives in ``PRAGMA user_version``. `MIGRATIONS[i]` upgrades a
database from version ``i`` to ``i + 1``; add a new entry at the end to change the
schema, never edit an old one, and add its PostgreSQL form to `postgres_schema`.
"""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema.
    """
    CREATE TABLE models (
        name        TEXT PRIMARY KEY,
        description TEXT NOT NULL DEFAULT '',
        tags        TEXT NOT NULL DEFAULT '{}',
        created_at  TEXT NOT NULL
    );
    -- Outlives its model, so that a version number is never given out twice.
    CREATE TABLE version_counters (
        name TEXT PRIMARY KEY,
        last INTEGER NOT NULL
    );
    CREATE TABLE versions (
        name        TEXT NOT NULL REFERENCES models (name) ON DELETE CASCADE,
        version     INTEGER NOT NULL,
        flavor      TEXT NOT NULL,
        digest      TEXT NOT NULL,
        size        INTEGER NOT NULL,
        signature   TEXT,
        params      TEXT NOT NULL DEFAULT '{}',
        metrics     TEXT NOT NULL DEFAULT '{}',
        tags        TEXT NOT NULL DEFAULT '{}',
        description TEXT NOT NULL DEFAULT '',
        lineage     TEXT NOT NULL DEFAULT '{}',
        run_id      TEXT,
        created_at  TEXT NOT NULL,
        PRIMARY KEY (name, version)
    );
    CREATE INDEX versions_by_digest ON versions (digest);
    CREATE TABLE aliases (
        name    TEXT NOT NULL,
        alias   TEXT NOT NULL,
        version INTEGER NOT NULL,
        PRIMARY KEY (name, alias),
        FOREIGN KEY (name, version) REFERENCES versions (name, version) ON DELETE CASCADE
    );
    CREATE TABLE runs (
        id         TEXT PRIMARY KEY,
        name       TEXT NOT NULL,
        status     TEXT NOT NULL,
        params     TEXT NOT NULL DEFAULT '{}',
        metrics    TEXT NOT NULL DEFAULT '{}',
        started_at TEXT NOT NULL,
        ended_at   TEXT,
        source     TEXT NOT NULL DEFAULT '',
        lineage    TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX runs_by_name ON runs (name, started_at);
    CREATE TABLE deployments (
        name       TEXT PRIMARY KEY,
        target     TEXT NOT NULL,
        config     TEXT NOT NULL DEFAULT '{}',
        created_at TEXT NOT NULL
    );
    """,
    # 1 -> 2: papermill-run notebooks (pipelines) and their executed-notebook artifacts.
    """
    CREATE TABLE pipeline_runs (
        id              TEXT PRIMARY KEY,
        name            TEXT NOT NULL,
        notebook        TEXT NOT NULL,
        notebook_digest TEXT NOT NULL,
        parameters      TEXT NOT NULL DEFAULT '{}',
        status          TEXT NOT NULL,
        started_at      TEXT NOT NULL,
        ended_at        TEXT,
        duration_s      REAL,
        output_digest   TEXT,
        error           TEXT NOT NULL DEFAULT '{}'
    );
    CREATE INDEX pipeline_runs_by_started ON pipeline_runs (started_at);
    """,
    # 2 -> 3: each version's trust record (types it needs, who approved them).
    """
    ALTER TABLE versions ADD COLUMN trust TEXT NOT NULL DEFAULT '{}';
    """,
    # 3 -> 4: a rerun names the pipeline run it repeats.
    """
    ALTER TABLE pipeline_runs ADD COLUMN rerun_of TEXT;
    """,
    # 4 -> 5: the key a registration was made with, so that a retry finds its version.
    """
    ALTER TABLE versions ADD COLUMN idempotency_key TEXT;
    CREATE UNIQUE INDEX versions_by_idempotency_key ON versions (name, idempotency_key);
    """,
    # 5 -> 6: who made each record (the OS user or $MAAS_USER), and the server a
    # deployment is for (NULL: any server reading this registry, as before).
    """
    ALTER TABLE versions ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
    ALTER TABLE runs ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
    ALTER TABLE pipeline_runs ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
    ALTER TABLE deployments ADD COLUMN created_by TEXT NOT NULL DEFAULT '';
    ALTER TABLE deployments ADD COLUMN server TEXT;
    """,
    # 6 -> 7: indexes that serve a page of a listing (`pages`): each starts with what a
    # listing filters by (the model, the user) and ends with the key it is ordered by.
    """
    DROP INDEX runs_by_name;
    CREATE INDEX runs_by_name ON runs (name, started_at, id);
    CREATE INDEX runs_by_started ON runs (started_at, id);
    CREATE INDEX runs_by_user ON runs (created_by, started_at, id);
    DROP INDEX pipeline_runs_by_started;
    CREATE INDEX pipeline_runs_by_started ON pipeline_runs (started_at, id);
    CREATE INDEX pipeline_runs_by_name ON pipeline_runs (name, started_at, id);
    CREATE INDEX pipeline_runs_by_user ON pipeline_runs (created_by, started_at, id);
    CREATE INDEX versions_by_user ON versions (name, created_by, version);
    """,
    # 7 -> 8: the versions a page of pipeline runs registered (the REGISTERED column of
    # `maas runs` and the panel), found by the run id in their lineage, not by a scan;
    # and every model's versions in the order they were registered (the panel's Models).
    """
    CREATE INDEX versions_by_created ON versions (created_at, name, version);
    CREATE INDEX versions_by_pipeline_run
        ON versions (json_extract(lineage, '$.pipeline_run'));
    """,
)

#: The schema version this maas_nb writes.
SCHEMA_VERSION = len(MIGRATIONS)
