"""Deployments in the SQLite store (a part of `SqliteStore`): what to serve under which
name, and which server is meant to serve it."""

from __future__ import annotations

import json
import sqlite3

from ..exceptions import DeploymentNotFoundError
from .columns import dumps as _dumps
from .columns import now
from .columns import time as _time
from .records import DeploymentRecord, frozen
from .sqlite_database import SqliteDatabase


class DeploymentTables(SqliteDatabase):
    """The ``deployments`` table."""

    #: What makes a SELECT lock the rows it reads until the commit (none in SQLite).
    _FOR_UPDATE = ""

    def put_deployment(
        self,
        name: str,
        target: str,
        config: dict,
        *,
        server: str | None = None,
        created_by: str = "",
    ) -> DeploymentRecord:
        """Create or change deployment *name*; a change keeps who created it and when."""
        with self._write() as conn:
            self._upsert_deployment(conn, name, target, config, server, created_by)
            return self._deployment(conn, name)

    def _upsert_deployment(
        self,
        conn: sqlite3.Connection,
        name: str,
        target: str,
        config: dict,
        server: str | None,
        created_by: str,
    ) -> None:
        conn.execute(
            "INSERT INTO deployments (name, target, config, created_at, created_by, server) "
            "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
            "target = excluded.target, config = excluded.config, server = excluded.server",
            (name, target, _dumps(config), now().isoformat(), created_by, server),
        )

    def delete_deployment(self, name: str) -> DeploymentRecord:
        with self._write() as conn:
            record = self._deployment(conn, name)
            conn.execute("DELETE FROM deployments WHERE name = ?", (name,))
            return record

    def get_deployment(self, name: str) -> DeploymentRecord:
        with self._read() as conn:
            return self._deployment(conn, name)

    def list_deployments(
        self, *, server: str | None = None, user: str | None = None
    ) -> list[DeploymentRecord]:
        """Every deployment, or with *server* those meant for it (its own and the ones
        meant for any server), or with *user* those that user made."""
        where, params = [], []
        if server is not None:
            where.append("(server = ? OR server IS NULL)")
            params.append(server)
        if user is not None:
            where.append("created_by = ?")
            params.append(user)
        sql = "SELECT * FROM deployments"
        if where:
            sql += " WHERE " + " AND ".join(where)
        with self._read() as conn:
            rows = conn.execute(sql + " ORDER BY name", params).fetchall()
            return [_record(row) for row in rows]

    def _deployment(
        self, conn: sqlite3.Connection, name: str, *, hold: bool = False
    ) -> DeploymentRecord:
        """Deployment *name*'s row; *hold*: no other write changes it until the commit
        (SQLite's write lock, ``BEGIN IMMEDIATE``, already keeps every other writer out;
        PostgreSQL locks the row)."""
        query = "SELECT * FROM deployments WHERE name = ?"
        row = conn.execute(query + (self._FOR_UPDATE if hold else ""), (name,)).fetchone()
        if row is None:
            raise DeploymentNotFoundError(
                f"No deployment named {name!r}. List them with: maas deployments "
                "(in a notebook: %maas deployments)"
            )
        return _record(row)


def _record(row: sqlite3.Row) -> DeploymentRecord:
    return DeploymentRecord(
        name=row["name"],
        target=row["target"],
        config=frozen(json.loads(row["config"])),
        created_at=_time(row["created_at"]),
        created_by=row["created_by"],
        server=row["server"],
    )
