"""The PostgreSQL database under the registry: a connection pool, transactions, the schema.

One pool per database and per process (connections must not cross a fork). A pooled
connection that a restart of the database broke fails its first statement, which changes
nothing; it is then replaced and the statement sent again, so a restart costs a reconnect,
not an error (and a healthy connection costs no check on every call). Writes run at READ
COMMITTED: the statements that must not race (the version counter, alias and deployment
upserts) are single atomic statements whose row locks last until the commit. Reads see
one snapshot (REPEATABLE READ, READ ONLY), or are one statement.

An empty database gets the schema when first opened. A database at an older schema is
not migrated behind its other users' backs: the client refuses, naming the command that
upgrades it (`upgrade`, under an advisory lock); a newer schema asks for a newer maas_nb.
The driver's errors become `maas_nb.exceptions` errors naming the database (password
hidden) and what to do.
"""

from __future__ import annotations

import contextlib
import os
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..config import REGISTRY_URI_ENV
from ..exceptions import (
    ConflictError,
    RegistryUnavailableError,
    SchemaVersionError,
)
from .postgres_connections import (
    _IN_USE,
    _POOLS,
    _POOLS_LOCK,
    CONNECT_TIMEOUT_S,
    POOL_SIZE,
    POOL_WAIT_S,
    Connection,
    _conninfo,
    _release,
    _rollback,
    _rows,
    psycopg_modules,
)
from .postgres_migrations import found_version, migrate
from .postgres_schema import SCHEMA_VERSION
from .stores import redact

#: The command that upgrades an older schema (told in the refusal).
UPGRADE_COMMAND = "maas registry upgrade"


class PostgresDatabase:
    """One PostgreSQL database: the pool and transactions every table module uses."""

    def __init__(self, uri: str, *, open_schema: bool = True) -> None:
        self._uri = uri
        self._conninfo = _conninfo(uri)
        psycopg, _ = psycopg_modules()
        try:
            params = psycopg.conninfo.conninfo_to_dict(self._conninfo)
            # The URI's own ``?connect_timeout=`` also bounds the wait for a pooled one.
            self._timeout = float(params.get("connect_timeout") or CONNECT_TIMEOUT_S)
        except (psycopg.Error, ValueError) as exc:
            raise RegistryUnavailableError(
                f"The registry URI {redact(uri)!r} is not a PostgreSQL connection URI: {exc}. "
                f"Set {REGISTRY_URI_ENV} (or registry_uri=) to one such as "
                "'postgresql://USER:PASSWORD@HOST:5432/DATABASE'."
            ) from exc
        self._password = str(params.get("password") or "")
        if not open_schema:
            return
        with self._direct() as conn:
            found = found_version(conn)
            if found == 0:
                migrate(conn)  # an empty database: create the schema
                found = found_version(conn)
        self._refuse_mismatch(found)

    @property
    def uri(self) -> str:
        """The URI that opens this database from any process."""
        return self._uri

    #: The SQL reading the pipeline run a row was made in from its ``lineage`` JSON (the
    #: expression of the index ``versions_by_pipeline_run``, which a query must repeat).
    _MADE_IN = "(lineage::jsonb ->> 'pipeline_run')"

    @staticmethod
    def _metric_value(name: str) -> tuple[str, Any]:
        """The SQL reading metric *name* from a row's ``metrics`` JSON (`pages.MetricValue`)."""
        return "(metrics::jsonb ->> ?)::double precision", name

    # -- connections and transactions -------------------------------------------------

    @contextlib.contextmanager
    def _direct(self) -> Iterator[Connection]:
        """A connection of its own, outside the pool (opening, migrating)."""
        psycopg, _ = psycopg_modules()
        try:
            raw = psycopg.connect(
                self._conninfo,
                autocommit=True,
                connect_timeout=round(self._timeout),
                row_factory=_rows,
            )
        except psycopg.Error as exc:
            raise self._unavailable(exc) from exc
        try:
            yield Connection(raw)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from exc
        finally:
            raw.close()

    def _pool(self, stale: Any = None) -> Any:
        """This process's pool for the database; a new one instead of *stale*."""
        key = (os.getpid(), self._conninfo)
        retired = None
        with _POOLS_LOCK:
            pool = _POOLS.get(key)
            if pool is not None and pool is stale:
                retired, pool = _POOLS.pop(key), None
            if pool is None:
                _, psycopg_pool = psycopg_modules()
                pool = psycopg_pool.ConnectionPool(
                    self._conninfo,
                    min_size=1,
                    max_size=POOL_SIZE,
                    kwargs={
                        "autocommit": True,
                        "connect_timeout": round(self._timeout),
                        "row_factory": _rows,
                    },
                    timeout=self._timeout,
                    num_workers=1,
                    name=self._shown(),
                    open=True,
                )
                _POOLS[key] = pool
        if retired is not None:
            # Its clients waiting for a connection get PoolClosed, and take the new pool.
            retired.close(timeout=1.0)
        return pool

    def _first(self, sql: str, params: Sequence[Any]) -> tuple[Any, Connection, Any]:
        """A pooled connection, taken from the pool, and the cursor of *sql* (a statement
        that changes nothing, such as BEGIN) run on it; give it back with `_release`.

        A connection is not checked when handed out (a round trip on every call): one that
        the database dropped, in a restart, fails its first statement instead. Nothing ran
        on it, so the pool checks its other idle connections and *sql* goes once more, on
        a fresh one.
        """
        psycopg, _ = psycopg_modules()
        for last_try in (False, True):
            pool, raw = self._checkout()
            conn = Connection(raw)
            try:
                return pool, conn, conn.execute(sql, params)
            except psycopg.OperationalError:
                _release(pool, raw)  # a broken connection is discarded by the pool
                if last_try or not raw.closed:
                    raise
                pool.check()
            except BaseException:
                _release(pool, raw)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def _connection(self, first: str) -> Iterator[Connection]:
        """A pooled connection, with *first* run on it (see `_first`)."""
        pool, conn, _ = self._first(first, ())
        try:
            yield conn
        finally:
            _release(pool, conn.raw)

    def _checkout(self) -> tuple[Any, Any]:
        """A pooled connection, or an error saying at once that the database is down.

        After a restart the pool reconnects on its own, but with a backoff that doubles
        at every failure: a database down for a minute would be used again only a minute
        after it is back. So when the pool has no connection to give while the database
        accepts one and not every connection is in use, the pool is replaced.
        """
        _, psycopg_pool = psycopg_modules()
        deadline = time.monotonic() + self._timeout
        pool = self._pool()
        while True:
            wait = max(min(POOL_WAIT_S, deadline - time.monotonic()), 0.01)
            try:
                raw = pool.getconn(timeout=wait)
            except psycopg_pool.PoolClosed as exc:  # replaced by another thread meanwhile
                if time.monotonic() >= deadline:
                    raise self._unavailable(exc) from exc
                pool = self._pool()
                continue
            except psycopg_pool.PoolTimeout as exc:
                with self._direct():  # unreachable: raises, naming the database
                    pass
                with _POOLS_LOCK:
                    busy = _IN_USE.get(id(pool), 0) >= POOL_SIZE
                if time.monotonic() >= deadline:
                    what = f"no pooled connection came within {self._timeout:g} s"
                    if busy:
                        what = f"all {POOL_SIZE} pooled connections stayed busy that long"
                    raise self._unavailable(exc, what) from exc
                if not busy:
                    pool = self._pool(stale=pool)
                continue
            with _POOLS_LOCK:
                _IN_USE[id(pool)] = _IN_USE.get(id(pool), 0) + 1
            return pool, raw

    @contextlib.contextmanager
    def _write(self) -> Iterator[Any]:
        """A write transaction, refused if another maas_nb changed the schema meanwhile."""
        psycopg, _ = psycopg_modules()
        committing = False
        try:
            with self._connection("BEGIN") as conn:
                try:
                    self._refuse_mismatch(self._schema_in_use(conn))
                    yield conn
                    committing = True
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
        except psycopg.Error as exc:
            raise self._write_failed(exc, committing) from exc

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        """A read transaction: one consistent snapshot across several queries."""
        psycopg, _ = psycopg_modules()
        try:
            with self._connection("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY") as conn:
                try:
                    yield conn
                    conn.execute("COMMIT")
                except BaseException:
                    _rollback(conn)
                    raise
        except psycopg.Error as exc:
            raise self._unavailable(exc) from exc

    def _one(self, sql: str, params: Sequence[Any]) -> Any:
        """The first row of one read statement (its own snapshot, no transaction), or None."""
        psycopg, _ = psycopg_modules()
        try:
            pool, conn, cursor = self._first(sql, params)
            try:
                return cursor.fetchone()
            finally:
                _release(pool, conn.raw)
        except psycopg.Error as exc:
            raise self._unavailable(exc) from exc

    # -- the schema -------------------------------------------------------------------

    @staticmethod
    def _schema_in_use(conn: Connection) -> int:
        """The schema version, read in a write transaction (one statement, not two)."""
        psycopg, _ = psycopg_modules()
        try:
            return conn.execute("SELECT version FROM maas_schema").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return 0  # dropped meanwhile: the write is refused and rolled back

    def _refuse_mismatch(self, found: int) -> None:
        if found == SCHEMA_VERSION:
            return
        from ..version import __version__

        where = f"The registry database {self._shown()!r} has schema version {found}"
        if found > SCHEMA_VERSION:
            raise SchemaVersionError(
                f"{where}, but this maas_nb ({__version__}) understands versions up to "
                f"{SCHEMA_VERSION}. Upgrade maas_nb: pip install -U maas_nb (every client "
                "of a shared registry needs a maas_nb that knows its schema)."
            )
        raise SchemaVersionError(
            f"{where}, older than this maas_nb's ({__version__}: version {SCHEMA_VERSION}); a "
            "shared database is not upgraded behind its other users' backs. Once every "
            f"client can move to maas_nb {__version__}, upgrade it with: {UPGRADE_COMMAND} "
            f"(the URI in {REGISTRY_URI_ENV} or given as --registry-uri URI; in a notebook: "
            f"%{UPGRADE_COMMAND})."
        )

    # -- errors -----------------------------------------------------------------------

    def _shown(self) -> str:
        """The URI with its password hidden (``?password=`` too)."""
        shown = redact(self._uri)
        return shown.replace(self._password, "***") if self._password else shown

    def _message(self, exc: BaseException) -> str:
        text = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
        return text.replace(self._password, "***") if self._password else text

    def _unavailable(self, exc: BaseException, what: str = "") -> RegistryUnavailableError:
        return RegistryUnavailableError(
            f"Cannot use the registry database {self._shown()!r}: "
            f"{what or self._message(exc)}. Check that PostgreSQL is running and reachable "
            "at that host and port, and that the URI's user, password and database are right "
            f"({REGISTRY_URI_ENV} or registry_uri=)."
        )

    def _write_failed(self, exc: BaseException, committing: bool) -> Exception:
        psycopg, _ = psycopg_modules()
        where = f"registry database {self._shown()!r}"
        if isinstance(exc, psycopg.errors.IntegrityError | psycopg.errors.TransactionRollback):
            return ConflictError(
                f"The {where} refused a change that raced another client's "
                f"({self._message(exc)}); nothing was changed. Retry."
            )
        if committing:
            return RegistryUnavailableError(
                f"The connection to the {where} broke while committing a change "
                f"({self._message(exc)}): it may or may not have been made. Look (for "
                "example: maas versions NAME) before you retry."
            )
        return RegistryUnavailableError(
            f"A change to the {where} could not be made ({self._message(exc)}); PostgreSQL "
            "rolled it back, so nothing was changed. Retry once the database is reachable."
        )


def upgrade(uri: str) -> tuple[int, int]:
    """Upgrade the schema of the database *uri*; the versions (before, after)."""
    database = PostgresDatabase(uri, open_schema=False)
    with database._direct() as conn:
        before, after = migrate(conn)
    database._refuse_mismatch(after)
    return before, after
