"""Many runs and versions written straight into a registry database, for the tests of query
plans and for bench/listing.py: bulk SQL (COPY on PostgreSQL, executemany on SQLite), not
the API one record at a time, which would take hours for 100,000 runs.

The rows are deterministic: run *i* belongs to model ``model-{i % MODELS}`` and user
``user-{i % USERS}``, starts at second ``i // 2`` (so every two runs tie on started_at and
only the id orders them), and has an accuracy drawn from a seeded generator (about a tenth
above 0.9). Versions are spread the same way over the first `VERSION_MODELS` models.
Pipeline runs, if asked for, are named ``pipeline-{j % MODELS}``; version *i* is then made
in pipeline run ``i % pipeline_runs`` (its id in the version's lineage).
"""

from __future__ import annotations

import json
import random
import sqlite3
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone

MODELS = 100
USERS = 20
VERSION_MODELS = 10
START = datetime(2026, 1, 1, tzinfo=timezone.utc)

RUN_COLUMNS = ("id", "name", "status", "params", "metrics", "started_at", "ended_at", "source")
RUN_COLUMNS += ("lineage", "created_by")
VERSION_COLUMNS = ("name", "version", "flavor", "digest", "size", "params", "metrics", "tags")
VERSION_COLUMNS += ("description", "lineage", "created_at", "trust", "created_by")
PIPELINE_COLUMNS = ("id", "name", "notebook", "notebook_digest", "parameters", "status")
PIPELINE_COLUMNS += ("started_at", "ended_at", "duration_s", "error", "created_by")


def _stamp(second: int) -> str:
    return (START + timedelta(seconds=second)).isoformat()


def run_rows(count: int, seed: int = 0) -> Iterator[tuple]:
    draw = random.Random(seed)
    for i in range(count):
        metrics = json.dumps({"accuracy": round(draw.random(), 4)})
        started = _stamp(i // 2)
        yield (
            uuid.UUID(int=draw.getrandbits(128)).hex,
            f"model-{i % MODELS:02d}",
            "finished",
            "{}",
            metrics,
            started,
            started,
            "",
            "{}",
            f"user-{i % USERS:02d}",
        )


def pipeline_run_id(j: int) -> str:
    return f"p{j:031x}"


def pipeline_run_rows(count: int) -> Iterator[tuple]:
    for j in range(count):
        started = _stamp(j)
        yield (
            pipeline_run_id(j),
            f"pipeline-{j % MODELS:02d}",
            "train.ipynb",
            "0" * 64,
            json.dumps({"C": j % 7}),
            "finished",
            started,
            started,
            1.0,
            "{}",
            f"user-{j % USERS:02d}",
        )


def version_rows(count: int, seed: int = 1, pipeline_runs: int = 0) -> Iterator[tuple]:
    draw = random.Random(seed)
    for i in range(count):
        made_in = {"pipeline_run": pipeline_run_id(i % pipeline_runs)} if pipeline_runs else {}
        metrics = json.dumps({"accuracy": round(draw.random(), 4)})
        yield (
            f"model-{i % VERSION_MODELS:02d}",
            i // VERSION_MODELS + 1,
            "sklearn",
            f"{i:064x}",
            1000,
            "{}",
            metrics,
            "{}",
            "",
            json.dumps(made_in),
            _stamp(i),
            "{}",
            f"user-{i % USERS:02d}",
        )


def _models(versions: int) -> list[tuple]:
    made = min(versions, VERSION_MODELS)
    return [(f"model-{m:02d}", _stamp(0)) for m in range(made)]


def _counters(versions: int) -> list[tuple]:
    last: dict[str, int] = {}
    for row in version_rows(versions):
        last[row[0]] = row[1]
    return sorted(last.items())


def fill_postgres(uri: str, *, runs: int, versions: int, pipeline_runs: int = 0) -> None:
    """Add *runs* runs, *versions* versions and *pipeline_runs* pipeline runs to the
    (migrated) database *uri*."""
    import psycopg

    with psycopg.connect(uri) as conn:
        with conn.cursor() as cur:
            cur.executemany(
                "INSERT INTO models (name, created_at) VALUES (%s, %s) ON CONFLICT DO NOTHING",
                _models(versions),
            )
            cur.executemany(
                "INSERT INTO version_counters (name, last) VALUES (%s, %s)", _counters(versions)
            )
            with cur.copy(f"COPY runs ({', '.join(RUN_COLUMNS)}) FROM STDIN") as copy:
                for row in run_rows(runs):
                    copy.write_row(row)
            with cur.copy(f"COPY versions ({', '.join(VERSION_COLUMNS)}) FROM STDIN") as copy:
                for row in version_rows(versions, pipeline_runs=pipeline_runs):
                    copy.write_row(row)
            columns = ", ".join(PIPELINE_COLUMNS)
            with cur.copy(f"COPY pipeline_runs ({columns}) FROM STDIN") as copy:
                for row in pipeline_run_rows(pipeline_runs):
                    copy.write_row(row)
        conn.execute("ANALYZE")


def fill_sqlite(path: str, *, runs: int, versions: int, pipeline_runs: int = 0) -> None:
    """Add *runs* runs, *versions* versions and *pipeline_runs* pipeline runs to the
    (migrated) SQLite database *path*."""
    conn = sqlite3.connect(path)
    with conn:
        conn.executemany(
            "INSERT OR IGNORE INTO models (name, created_at) VALUES (?, ?)", _models(versions)
        )
        conn.executemany(
            "INSERT INTO version_counters (name, last) VALUES (?, ?)", _counters(versions)
        )
        marks = ", ".join("?" for _ in RUN_COLUMNS)
        conn.executemany(
            f"INSERT INTO runs ({', '.join(RUN_COLUMNS)}) VALUES ({marks})", run_rows(runs)
        )
        marks = ", ".join("?" for _ in VERSION_COLUMNS)
        conn.executemany(
            f"INSERT INTO versions ({', '.join(VERSION_COLUMNS)}) VALUES ({marks})",
            version_rows(versions, pipeline_runs=pipeline_runs),
        )
        marks = ", ".join("?" for _ in PIPELINE_COLUMNS)
        conn.executemany(
            f"INSERT INTO pipeline_runs ({', '.join(PIPELINE_COLUMNS)}) VALUES ({marks})",
            pipeline_run_rows(pipeline_runs),
        )
    conn.execute("ANALYZE")
    conn.close()
