"""Records copied verbatim from another registry (a part of `SqliteStore`), for
``maas registry copy``.

`export_rows` reads the rows of every copied table in one snapshot, as stored (JSON and
ISO 8601 times as text, in both databases), and the ``import_*`` methods write such rows
into this store unchanged: same version numbers, same ids, same times and authors. Each
import is one transaction that checks, under the write lock, what this store already
holds: the same record is left alone (so a copy can run again), a different one is a
conflict (`ConflictError`, nothing written). The conflict rules are the functions at the
bottom, which `copying` also applies to a whole registry before it writes anything.

The statements are ones SQLite and PostgreSQL both run (``ON CONFLICT`` upserts), so
`PostgresStore` inherits them through its ``?`` placeholder adapter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ..exceptions import ConflictError
from . import crash_points
from .sqlite_database import SqliteDatabase

Row = dict[str, Any]

#: The columns copied, per table, in the order of `export_rows`'s keys.
TABLES: dict[str, tuple[str, ...]] = {
    "models": ("name", "description", "tags", "created_at"),
    "version_counters": ("name", "last"),
    "versions": (
        "name",
        "version",
        "flavor",
        "digest",
        "size",
        "signature",
        "params",
        "metrics",
        "tags",
        "description",
        "lineage",
        "run_id",
        "created_at",
        "trust",
        "idempotency_key",
        "created_by",
    ),
    "aliases": ("name", "alias", "version"),
    "runs": (
        "id",
        "name",
        "status",
        "params",
        "metrics",
        "started_at",
        "ended_at",
        "source",
        "lineage",
        "created_by",
    ),
    "pipeline_runs": (
        "id",
        "name",
        "notebook",
        "notebook_digest",
        "parameters",
        "status",
        "started_at",
        "ended_at",
        "duration_s",
        "output_digest",
        "error",
        "rerun_of",
        "created_by",
    ),
}
_ORDER = {
    "models": "name",
    "version_counters": "name",
    "versions": "name, version",
    "aliases": "name, alias",
    "runs": "started_at, id",
    "pipeline_runs": "started_at, id",
}


class ImportTables(SqliteDatabase):
    """Whole rows out of (`export_rows`) and into (``import_*``) the registry's tables."""

    def export_rows(self) -> dict[str, list[Row]]:
        """Every row of the copied tables (`TABLES`), read in one snapshot."""
        with self._read() as conn:
            return {
                table: [
                    dict(zip(columns, row, strict=True))
                    for row in conn.execute(
                        f"SELECT {', '.join(columns)} FROM {table} "  # noqa: S608 - our names
                        f"ORDER BY {_ORDER[table]}"
                    ).fetchall()
                ]
                for table, columns in TABLES.items()
            }

    def import_model(self, model: Row) -> bool:
        """Add the model *model* (a row) unless one of its name is here; whether it was."""
        with self._write() as conn:
            return _insert_model(conn, model)

    def import_version(self, model: Row, version: Row, *, inside: Callable[[], None]) -> bool:
        """Add *version* (a row) with its own number, and its model unless here; False if
        this store holds that version already. *inside* runs under the write lock before
        the commit (the registry checks there that the artifact is in place)."""
        name, number = version["name"], version["version"]
        with self._write() as conn:
            here = _select_one(conn, "versions", "name = ? AND version = ?", (name, number))
            key = version["idempotency_key"]
            owner = None
            if here is None and key is not None:
                found = conn.execute(
                    "SELECT version FROM versions WHERE name = ? AND idempotency_key = ?",
                    (name, key),
                ).fetchone()
                owner = found[0] if found else None
            problem = version_conflict(version, here, _counter(conn, name), owner)
            if problem:
                raise ConflictError(f"{problem} Nothing was written for it.")
            if here is not None:
                return False
            _insert_model(conn, model)
            _insert(conn, "versions", version)
            _raise_counter(conn, name, number)
            self._hold_artifact(conn, version["digest"])
            inside()
            crash_points.reached(crash_points.BEFORE_COMMIT)
            return True

    def import_counter(self, name: str, last: int) -> None:
        """Make sure model *name*'s next version number is above *last*."""
        with self._write() as conn:
            _raise_counter(conn, name, last)

    def import_alias(self, alias: Row) -> bool:
        """Point alias *alias* (a row) at its version unless it points there already."""
        with self._write() as conn:
            here = _select_one(
                conn, "aliases", "name = ? AND alias = ?", (alias["name"], alias["alias"])
            )
            problem = alias_conflict(alias, here)
            if problem:
                raise ConflictError(f"{problem} It was left as it is.")
            if here is not None:
                return False
            _insert(conn, "aliases", alias)
            return True

    def import_run(self, table: str, run: Row, *, inside: Callable[[], None]) -> str:
        """Add *run* (a row of ``runs`` or ``pipeline_runs``); 'new', 'same', or 'updated'
        (this store's copy was still running). *inside* runs before the commit."""
        with self._write() as conn:
            here = _select_one(conn, table, "id = ?", (run["id"],))
            outcome, problem = run_outcome(table, run, here)
            if problem:
                raise ConflictError(f"{problem} It was left as it is.")
            if outcome == "same":
                return outcome
            if outcome == "updated":
                conn.execute(f"DELETE FROM {table} WHERE id = ?", (run["id"],))  # noqa: S608
            _insert(conn, table, run)
            inside()
            return outcome


# -- the conflict rules (also applied to whole registries by `copying`) ----------------


def version_conflict(
    version: Row, here: Row | None, counter: int | None, key_owner: int | None
) -> str:
    """Why *version* cannot be copied into a store holding *here* at its number, whose
    counter for the model is at *counter*, and whose version *key_owner* has its
    idempotency key ('' if it can)."""
    uri = f"{version['name']}:{version['version']}"
    if here is not None:
        if here["digest"] == version["digest"]:
            return ""
        return (
            f"{uri} is in both registries with different artifacts (target {here['digest']}, "
            f"source {version['digest']})."
        )
    if counter is not None and counter >= version["version"]:
        return (
            f"{uri} was given out by the target registry and deleted there (its counter is at "
            f"{counter}); a copy would reuse the number."
        )
    if key_owner is not None:
        return (
            f"{uri} was registered with the same idempotency key as the target's "
            f"{version['name']}:{key_owner}."
        )
    return ""


def alias_conflict(alias: Row, here: Row | None) -> str:
    """Why *alias* cannot be set where *here* is the alias of that name ('' if it can)."""
    if here is None or here["version"] == alias["version"]:
        return ""
    name = alias["name"]
    return (
        f"{name}@{alias['alias']} points at {name}:{here['version']} in the target registry "
        f"and at {name}:{alias['version']} in the source."
    )


def run_outcome(table: str, run: Row, here: Row | None) -> tuple[str, str]:
    """What copying *run* over *here* (the target's row of that id) does: ('new' | 'same'
    | 'updated', '') or ('', why not)."""
    if here is None:
        return "new", ""
    if dict(here) == run:
        return "same", ""
    if here["status"] == "running":  # copied while it ran: the source knows how it ended
        return "updated", ""
    kind = "pipeline run" if table == "pipeline_runs" else "training run"
    return "", (
        f"The {kind} {run['id'][:12]} is in both registries with different records "
        f"(target {here['status']}, source {run['status']})."
    )


# -- statements (inside a transaction) -------------------------------------------------


def _select_one(conn: Any, table: str, where: str, params: tuple[Any, ...]) -> Row | None:
    columns = TABLES[table]
    row = conn.execute(
        f"SELECT {', '.join(columns)} FROM {table} WHERE {where}",  # noqa: S608 - our names
        params,
    ).fetchone()
    return None if row is None else dict(zip(columns, row, strict=True))


def _insert(conn: Any, table: str, row: Row) -> None:
    columns = TABLES[table]
    conn.execute(
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 - our names
        f"VALUES ({', '.join('?' for _ in columns)})",
        tuple(row[c] for c in columns),
    )


def _insert_model(conn: Any, model: Row) -> bool:
    if _select_one(conn, "models", "name = ?", (model["name"],)) is not None:
        return False
    _insert(conn, "models", model)
    return True


def _counter(conn: Any, name: str) -> int | None:
    row = conn.execute("SELECT last FROM version_counters WHERE name = ?", (name,)).fetchone()
    return None if row is None else row[0]


def _raise_counter(conn: Any, name: str, last: int) -> None:
    conn.execute(
        "INSERT INTO version_counters (name, last) VALUES (?, ?) ON CONFLICT (name) "
        "DO UPDATE SET last = excluded.last WHERE excluded.last > version_counters.last",
        (name, last),
    )
