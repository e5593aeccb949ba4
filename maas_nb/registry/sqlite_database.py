"""The SQLite database under the registry: per-thread connections, transactions, schema.

Writes take the database's write lock from their start (``BEGIN IMMEDIATE``) and retry
while another process holds it; reads see one snapshot. Opening a database migrates its
schema, or refuses one newer than this maas_nb understands.
"""

from __future__ import annotations

import contextlib
import os
import random
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from ..exceptions import RegistryUnavailableError, SchemaVersionError
from .schema import MIGRATIONS, SCHEMA_VERSION

#: How long one statement waits for another process's write lock.
BUSY_TIMEOUT_S = 30.0
#: How long a write keeps retrying before it gives up with a clear error.
WRITE_DEADLINE_S = 120.0


class SqliteDatabase:
    """One SQLite file: the connections and transactions every table module uses."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._local = threading.local()
        with self._write():
            pass  # creates or migrates the schema, or refuses a newer one

    @property
    def uri(self) -> str:
        """The URI that opens this database from any process and directory."""
        return f"sqlite:///{self.path}"

    #: The SQL reading the pipeline run a row was made in from its ``lineage`` JSON (the
    #: expression of the index ``versions_by_pipeline_run``, which a query must repeat).
    _MADE_IN = "json_extract(lineage, '$.pipeline_run')"

    @staticmethod
    def _metric_value(name: str) -> tuple[str, Any]:
        """The SQL reading metric *name* from a row's ``metrics`` JSON (`pages.MetricValue`)."""
        return "json_extract(metrics, ?)", f'$."{name}"'

    # -- connections and transactions -------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_S, isolation_level=None, check_same_thread=False
            )
            conn.execute("PRAGMA foreign_keys = ON")
            if conn.execute("PRAGMA journal_mode").fetchone()[0] != "wal":
                self._retry(lambda: conn.execute("PRAGMA journal_mode = WAL"))
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.DatabaseError as exc:
            raise self._unavailable(exc) from exc
        conn.row_factory = sqlite3.Row
        return conn

    def _conn(self) -> sqlite3.Connection:
        # One connection per thread and per process: connections must not cross a fork.
        key = (os.getpid(), threading.get_ident())
        if getattr(self._local, "key", None) != key:
            self._local.conn = self._connect()
            self._local.key = key
            self._check_schema(self._local.conn)
        return self._local.conn

    def _unavailable(self, exc: BaseException) -> RegistryUnavailableError:
        return RegistryUnavailableError(
            f"Cannot open the registry database '{self.path}': {exc}. Check that MAAS_HOME "
            "(or MAAS_REGISTRY_URI) points at a place you can read and write and that this "
            "file is a maas_nb registry database."
        )

    def _retry(self, op: Callable[[], Any]) -> Any:
        deadline = time.monotonic() + WRITE_DEADLINE_S
        delay = 0.005
        while True:
            try:
                return op()
            except sqlite3.OperationalError as exc:
                busy = "locked" in str(exc) or "busy" in str(exc)
                if not busy:
                    raise self._unavailable(exc) from exc
                if time.monotonic() > deadline:
                    raise RegistryUnavailableError(
                        f"The registry database '{self.path}' stayed locked by another process "
                        f"for {WRITE_DEADLINE_S:.0f} s. Retry, or find the process holding it."
                    ) from exc
                time.sleep(delay * (1 + random.random()))  # noqa: S311 - jitter, not crypto
                delay = min(delay * 2, 0.2)

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction holding the database's write lock from its start."""
        conn = self._conn()
        self._retry(lambda: conn.execute("BEGIN IMMEDIATE"))
        try:
            self._migrate(conn)
            yield conn
            self._retry(lambda: conn.execute("COMMIT"))
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        """A read transaction: one consistent snapshot across several queries."""
        conn = self._conn()
        try:
            conn.execute("BEGIN")
        except sqlite3.DatabaseError as exc:
            raise self._unavailable(exc) from exc
        try:
            yield conn
        finally:
            if conn.in_transaction:
                conn.execute("COMMIT")

    def _check_schema(self, conn: sqlite3.Connection) -> int:
        try:
            found = conn.execute("PRAGMA user_version").fetchone()[0]
        except sqlite3.DatabaseError as exc:
            raise self._unavailable(exc) from exc
        if found > SCHEMA_VERSION:
            from ..version import __version__

            raise SchemaVersionError(
                f"The registry database '{self.path}' has schema version {found}, but this "
                f"maas_nb ({__version__}) understands versions up to {SCHEMA_VERSION}. Upgrade "
                "with: pip install -U maas_nb, or point MAAS_HOME at another directory."
            )
        return found

    def _migrate(self, conn: sqlite3.Connection) -> None:
        found = self._check_schema(conn)
        for version in range(found, SCHEMA_VERSION):
            for statement in MIGRATIONS[version].split(";"):
                if statement.strip():
                    conn.execute(statement)
            conn.execute(f"PRAGMA user_version = {version + 1:d}")

    def _hold_artifact(self, conn: Any, digest: str) -> None:
        """Keep registrations and deletes of artifact *digest* apart until the commit.

        SQLite's write lock (``BEGIN IMMEDIATE``) already serialises every write; a store
        whose writers run side by side (PostgreSQL) takes a lock on the digest here.
        """
