"""The registry's schema in PostgreSQL's dialect: the same tables as `schema` (SQLite).

`MIGRATIONS[i]` upgrades a database from version ``i`` to ``i + 1``, exactly as
`schema.MIGRATIONS[i]` does for SQLite; the two tuples grow together (one entry each for
every schema change), which the import-time check below holds them to. Values are kept
as in SQLite (JSON and ISO 8601 times as text), so one row reader serves both; sizes are
``BIGINT`` here because an artifact may exceed 2 GiB. The version itself lives in the
one-row table ``maas_schema``, PostgreSQL having no ``PRAGMA user_version``.
"""

from __future__ import annotations

from . import schema

#: Held (``pg_advisory_xact_lock``) while a migration runs, so two clients never migrate
#: one database at once. "maas" in ASCII.
MIGRATION_LOCK = 0x6D616173

MIGRATIONS: tuple[str, ...] = (
    # 0 -> 1: the first schema.
    """
    CREATE TABLE maas_schema (version INTEGER NOT NULL);
    INSERT INTO maas_schema (version) VALUES (0);
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
        size        BIGINT NOT NULL,
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
        duration_s      DOUBLE PRECISION,
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
    # 7 -> 8: the versions a page of pipeline runs registered, by the run id in their
    # lineage (the expression must be the one `PostgresDatabase._MADE_IN` queries by);
    # and every model's versions in the order they were registered.
    """
    CREATE INDEX versions_by_created ON versions (created_at, name, version);
    CREATE INDEX versions_by_pipeline_run ON versions ((lineage::jsonb ->> 'pipeline_run'));
    """,
)

#: The schema version this maas_nb writes: the same number as SQLite's.
SCHEMA_VERSION = len(MIGRATIONS)

if SCHEMA_VERSION != schema.SCHEMA_VERSION:  # pragma: no cover - caught by any import
    raise RuntimeError(
        f"maas_nb/registry/postgres_schema.py has {SCHEMA_VERSION} migrations but "
        f"schema.py has {schema.SCHEMA_VERSION}: add the PostgreSQL form of each new one."
    )
