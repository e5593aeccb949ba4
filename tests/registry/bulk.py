"""Many runs and versions written straight into a registry database, for the tests of query
plans and for bench/listing.py: bulk SQL (COPY on PostgreSQL, executemany on SQLite), not
the API one record at a time, which would take hours for 100,000 runs.

The rows are deterministic: run *i* belongs to model ``model-{i % MODELS}`` and user
``user-{i % USERS}``, starts at second ``i // 2`` (so every two runs tie on started_at and
only the id orders them), and has an accuracy drawn from a seeded generator (about a tenth
above 0.9). Versions are spread the same way over the first `VERSION_MODELS` models.
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


def version_rows(count: int, seed: int = 1) -> Iterator[tuple]:
    draw = random.Random(seed)
    for i in range(count):
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
            "{}",
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


def fill_postgres(uri: str, *, runs: int, versions: int) -> None:
    """Add *runs* runs and *versions* versions to the (migrated) database *uri*."""
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
                for row in version_rows(versions):
                    copy.write_row(row)
        conn.execute("ANALYZE")


def fill_sqlite(path: str, *, runs: int, versions: int) -> None:
    """Add *runs* runs and *versions* versions to the (migrated) SQLite database *path*."""
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
            version_rows(versions),
        )
    conn.execute("ANALYZE")
    conn.close()
