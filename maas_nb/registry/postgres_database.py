"""The PostgreSQL database under the registry: a connection pool, transactions, the schema.

One pool per database and per process (connections must not cross a fork). A pooled
connection is checked before it is handed out, so a database that restarted costs a
reconnect, not an error. Writes run at READ COMMITTED: the statements that must not race
(the version counter, alias and deployment upserts) are single atomic statements whose
row locks last until the commit. Reads see one snapshot (REPEATABLE READ, READ ONLY).

An empty database gets the schema when first opened. A database at an older schema is
not migrated behind its other users' backs: the client refuses, naming the command that
upgrades it (`upgrade`, under an advisory lock); a newer schema asks for a newer maas_nb.
The driver's errors become `maas_nb.exceptions` errors naming the database (password
hidden) and what to do.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
import time
from collections.abc import Iterator, Sequence
from typing import Any

from ..config import REGISTRY_URI_ENV
from ..exceptions import (
    ConflictError,
    MissingDependencyError,
    RegistryUnavailableError,
    SchemaVersionError,
)
from .postgres_schema import MIGRATION_LOCK, MIGRATIONS, SCHEMA_VERSION
from .stores import redact

#: How long opening a connection (or waiting for a free pooled one) may take.
CONNECT_TIMEOUT_S = 10
#: Connections per process and database: a server's threads and a notebook's share them.
POOL_SIZE = 8
#: How long to wait for a pooled connection before asking the database directly why none
#: came: a database that stopped is then reported within seconds, not CONNECT_TIMEOUT_S.
POOL_WAIT_S = 1.0
#: The command that upgrades an older schema (told in the refusal).
UPGRADE_COMMAND = "python -m maas_nb.registry.upgrade"

_POOLS: dict[tuple[int, str], Any] = {}
#: Connections handed out and not yet returned, by pool (its id).
_IN_USE: dict[int, int] = {}
_POOLS_LOCK = threading.Lock()


def psycopg_modules() -> tuple[Any, Any]:
    """psycopg and psycopg_pool, or an error naming what to install."""
    try:
        import psycopg
        import psycopg_pool
    except ImportError as exc:
        raise MissingDependencyError(
            f"A postgresql:// registry needs psycopg 3 with its pool ({exc}). Install them: "
            "pip install 'maas_nb[postgres]' (or pip install 'psycopg[binary,pool]')."
        ) from exc
    return psycopg, psycopg_pool


class Row(tuple):
    """A result row read by position or by column name, as `sqlite3.Row` is."""

    _index: dict[str, int]

    def __new__(cls, values: Sequence[Any], index: dict[str, int]) -> Row:
        row = super().__new__(cls, values)
        row._index = index
        return row

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._index[key])
        return super().__getitem__(key)


def _rows(cursor: Any) -> Any:
    index = {column.name: i for i, column in enumerate(cursor.description or ())}
    return lambda values: Row(values, index)


class Connection:
    """A psycopg connection that runs the SQLite store's queries (``?`` placeholders)."""

    def __init__(self, raw: Any) -> None:
        self.raw = raw

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        if not params:
            return self.raw.execute(sql)
        return self.raw.execute(sql.replace("%", "%%").replace("?", "%s"), tuple(params))


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
            found = self._found_version(conn)
            if found == 0:
                migrate(conn)  # an empty database: create the schema
                found = self._found_version(conn)
        self._refuse_mismatch(found)

    @property
    def uri(self) -> str:
        """The URI that opens this database from any process."""
        return self._uri

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
                    # A connection to a database that restarted is replaced, not handed out.
                    check=psycopg_pool.ConnectionPool.check_connection,
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

    @contextlib.contextmanager
    def _connection(self) -> Iterator[Connection]:
        pool, raw = self._checkout()
        try:
            yield Connection(raw)
        finally:
            pool.putconn(raw)  # a broken connection is discarded by the pool
            with _POOLS_LOCK:
                _IN_USE[id(pool)] -= 1
                if not _IN_USE[id(pool)]:
                    del _IN_USE[id(pool)]

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
        with self._connection() as conn:
            committing = False
            try:
                conn.execute("BEGIN")
                self._refuse_mismatch(self._found_version(conn))
                yield conn
                committing = True
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                _rollback(conn)
                raise self._write_failed(exc, committing) from exc
            except BaseException:
                _rollback(conn)
                raise

    @contextlib.contextmanager
    def _read(self) -> Iterator[Any]:
        """A read transaction: one consistent snapshot across several queries."""
        psycopg, _ = psycopg_modules()
        with self._connection() as conn:
            try:
                conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
                yield conn
                conn.execute("COMMIT")
            except psycopg.Error as exc:
                _rollback(conn)
                raise self._unavailable(exc) from exc
            except BaseException:
                _rollback(conn)
                raise

    # -- the schema -------------------------------------------------------------------

    @staticmethod
    def _found_version(conn: Connection) -> int:
        # A scan of the catalog, not to_regclass(): a name lookup may answer from a cache
        # that an advisory lock does not refresh, and miss a table created meanwhile.
        exists = conn.execute(
            "SELECT count(*) FROM pg_catalog.pg_tables "
            "WHERE schemaname = current_schema() AND tablename = 'maas_schema'"
        ).fetchone()[0]
        if not exists:
            return 0
        return conn.execute("SELECT version FROM maas_schema").fetchone()[0]

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
            f"(the URI as its argument, or in {REGISTRY_URI_ENV})."
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


def _conninfo(uri: str) -> str:
    # SQLAlchemy-style ``postgresql+psycopg://`` names the driver; libpq wants none.
    scheme, _, rest = uri.partition("://")
    return f"{scheme.partition('+')[0]}://{rest}"


def _rollback(conn: Connection) -> None:
    with contextlib.suppress(Exception):  # a broken connection has nothing to roll back
        conn.execute("ROLLBACK")


def migrate(conn: Connection) -> tuple[int, int]:
    """Bring the schema up to `SCHEMA_VERSION` under the advisory lock; (before, after)."""
    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        found = PostgresDatabase._found_version(conn)
        for version in range(found, SCHEMA_VERSION):
            conn.execute(MIGRATIONS[version])
            conn.execute("UPDATE maas_schema SET version = ?", (version + 1,))
        conn.execute("COMMIT")
    except BaseException:
        _rollback(conn)
        raise
    return found, max(found, SCHEMA_VERSION)


def upgrade(uri: str) -> tuple[int, int]:
    """Upgrade the schema of the database *uri*; the versions (before, after)."""
    database = PostgresDatabase(uri, open_schema=False)
    with database._direct() as conn:
        before, after = migrate(conn)
    database._refuse_mismatch(after)
    return before, after


def close_pools(uri: str | None = None) -> None:
    """Close this process's pools (of the database *uri*, or all)."""
    with _POOLS_LOCK:
        for key in list(_POOLS):
            # A pool inherited over a fork shares its sockets with the parent: closing (or
            # freeing) it here would end the parent's sessions, so it is left alone.
            if key[0] == os.getpid() and (uri is None or key[1] == _conninfo(uri)):
                _POOLS.pop(key).close()


atexit.register(close_pools)
