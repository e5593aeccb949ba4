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

import atexit
import contextlib
import os
import threading
from collections.abc import Iterator, Sequence
from typing import Any, ClassVar

from ..config import REGISTRY_URI_ENV
from ..exceptions import (
    ConflictError,
    MissingDependencyError,
    RegistryUnavailableError,
    SchemaVersionError,
)
from .postgres_migrations import found_version, migrate
from .postgres_schema import SCHEMA_VERSION
from .stores import redact

#: How long opening a connection (or waiting for a free pooled one) may take.
CONNECT_TIMEOUT_S = 10
#: Connections per process and database: a server's threads and a notebook's share them.
POOL_SIZE = 8
#: The command that upgrades an older schema (told in the refusal).
UPGRADE_COMMAND = "maas registry upgrade"

_POOLS: dict[tuple[int, str], Any] = {}
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
    """A result row read by position or by column name, as `sqlite3.Row` is (one subclass
    per set of column names holds their positions, so a row is just a tuple)."""

    __slots__ = ()
    _index: ClassVar[dict[str, int]] = {}

    def __getitem__(self, key: Any) -> Any:
        if isinstance(key, str):
            return super().__getitem__(self._index[key])
        return super().__getitem__(key)


_ROW_TYPES: dict[tuple[str, ...], type[Row]] = {}


def _rows(cursor: Any) -> type[Row]:
    # The names from the result itself: `cursor.description` builds a Column (with type
    # lookups) per column on every query.
    result = cursor.pgresult
    names = tuple((result.fname(i) or b"").decode() for i in range(result.nfields if result else 0))
    row_type = _ROW_TYPES.get(names)
    if row_type is None:
        index = {name: i for i, name in enumerate(names)}
        made = type("Row", (Row,), {"__slots__": (), "_index": index})
        row_type = _ROW_TYPES.setdefault(names, made)
    return row_type


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
            found = found_version(conn)
            if found == 0:
                migrate(conn)  # an empty database: create the schema
                found = found_version(conn)
        self._refuse_mismatch(found)

    @property
    def uri(self) -> str:
        """The URI that opens this database from any process."""
        return self._uri

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

    def _pool(self) -> Any:
        key = (os.getpid(), self._conninfo)
        with _POOLS_LOCK:
            pool = _POOLS.get(key)
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
        return pool

    def _first(self, sql: str, params: Sequence[Any]) -> tuple[Any, Connection, Any]:
        """A pooled connection, taken from the pool, and the cursor of *sql* (a statement
        that changes nothing, such as BEGIN) run on it; return it with `pool.putconn`.

        A connection is not checked when handed out (a round trip on every call): one that
        the database dropped, in a restart, fails its first statement instead. Nothing ran
        on it, so the pool checks its other idle connections and *sql* goes once more, on
        a fresh one.
        """
        psycopg, psycopg_pool = psycopg_modules()
        pool = self._pool()
        for last_try in (False, True):
            try:
                raw = pool.getconn()
            except psycopg_pool.PoolTimeout as exc:
                raise self._why_no_connection(exc) from exc
            conn = Connection(raw)
            try:
                return pool, conn, conn.execute(sql, params)
            except psycopg.OperationalError:
                pool.putconn(raw)  # a broken connection is discarded by the pool
                if last_try or not raw.closed:
                    raise
                pool.check()
            except BaseException:
                pool.putconn(raw)
                raise
        raise AssertionError("unreachable")  # pragma: no cover

    @contextlib.contextmanager
    def _connection(self, first: str) -> Iterator[Connection]:
        """A pooled connection, with *first* run on it (see `_first`)."""
        pool, conn, _ = self._first(first, ())
        try:
            yield conn
        finally:
            pool.putconn(conn.raw)

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
                pool.putconn(conn.raw)
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

    def _why_no_connection(self, timeout: BaseException) -> RegistryUnavailableError:
        # The pool says only that it timed out; one direct attempt says why.
        try:
            with self._direct():
                pass
        except RegistryUnavailableError as exc:
            return exc
        busy = f"all {POOL_SIZE} pooled connections stayed busy for {self._timeout:g} s"
        return self._unavailable(timeout, busy)

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
