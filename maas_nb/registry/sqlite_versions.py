"""Versions across models in the SQLite store (a part of `SqliteStore`): every model's
versions in the order they were registered, a page at a time, and the versions a page of
pipeline runs registered; and the one way a version row becomes a `ModelVersion`."""

from __future__ import annotations

import json
import sqlite3

from .columns import signature as _signature
from .columns import time as _time
from .pages import EVERYTHING, Listing, Page
from .records import ModelVersion, frozen
from .sqlite_database import SqliteDatabase

#: The key of the listing of every model's versions: when each was registered (schema 8's
#: index ``versions_by_created``), then the name and number to break ties.
REGISTERED = ("created_at", "name", "version")
#: The most run ids one statement names (well under either database's parameter limit).
CHUNK = 500


class VersionTables(SqliteDatabase):
    """Reads of the ``versions`` table that span models."""

    def list_all_versions(self, *, listing: Listing = EVERYTHING) -> Page[ModelVersion]:
        """Every model's versions by (created_at, name, version), a page at a time."""
        sql, params = listing.select(
            "versions", REGISTERED, name=None, metric_value=self._metric_value
        )
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
            aliases = {n: self._aliases_by_version(conn, n) for n in {r["name"] for r in rows}}
        return listing.page(
            rows,
            lambda r: self._version_record(r, aliases[r["name"]].get(r["version"], ())),
            table="versions",
            name=None,
            keys=REGISTERED,
        )

    def versions_made_in(self, pipeline_runs: list[str]) -> list[ModelVersion]:
        """The versions whose lineage names one of *pipeline_runs*, by name and number: one
        statement over ``versions_by_pipeline_run`` (schema 8), however many versions."""
        out: list[ModelVersion] = []
        with self._read() as conn:
            for start in range(0, len(pipeline_runs), CHUNK):
                chunk = pipeline_runs[start : start + CHUNK]
                marks = ", ".join("?" for _ in chunk)
                rows = conn.execute(
                    f"SELECT * FROM versions WHERE {self._MADE_IN} IN ({marks})",  # noqa: S608
                    chunk,
                ).fetchall()
                aliases = {n: self._aliases_by_version(conn, n) for n in {r["name"] for r in rows}}
                out += (
                    self._version_record(r, aliases[r["name"]].get(r["version"], ())) for r in rows
                )
        return sorted(out, key=lambda v: (v.name, v.version))

    def _aliases_by_version(
        self, conn: sqlite3.Connection, name: str
    ) -> dict[int, tuple[str, ...]]:
        by_version: dict[int, list[str]] = {}
        for alias, version in conn.execute(
            "SELECT alias, version FROM aliases WHERE name = ? ORDER BY alias", (name,)
        ):
            by_version.setdefault(version, []).append(alias)
        return {v: tuple(a) for v, a in by_version.items()}

    @staticmethod
    def _version_record(row: sqlite3.Row, aliases: tuple[str, ...]) -> ModelVersion:
        signature = row["signature"]
        return ModelVersion(
            name=row["name"],
            version=row["version"],
            flavor=row["flavor"],
            digest=row["digest"],
            size=row["size"],
            signature=_signature(signature) if signature else None,
            params=frozen(json.loads(row["params"])),
            metrics=frozen(json.loads(row["metrics"])),
            tags=frozen(json.loads(row["tags"])),
            description=row["description"],
            lineage=frozen(json.loads(row["lineage"])),
            created_at=_time(row["created_at"]),
            run_id=row["run_id"],
            aliases=aliases,
            trust=frozen(json.loads(row["trust"])),
            created_by=row["created_by"],
        )
