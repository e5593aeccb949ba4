"""The connections under a PostgreSQL registry: the driver, its rows, this process's pools.

One pool per database and per process (connections must not cross a fork); `_IN_USE`
counts what each pool has handed out, so that a pool with nothing to give while the
database answers and not every connection is busy can be told apart from a busy one.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import threading
from collections.abc import Sequence
from typing import Any, ClassVar

from ..exceptions import MissingDependencyError

#: How long opening a connection (or waiting for a free pooled one) may take.
CONNECT_TIMEOUT_S = 10
#: Connections per process and database: a server's threads and a notebook's share them.
POOL_SIZE = 8
#: How long to wait for a pooled connection before asking the database directly why none
#: came: a database that stopped is then reported within seconds, not CONNECT_TIMEOUT_S.
POOL_WAIT_S = 1.0
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


def _conninfo(uri: str) -> str:
    # SQLAlchemy-style ``postgresql+psycopg://`` names the driver; libpq wants none.
    scheme, _, rest = uri.partition("://")
    return f"{scheme.partition('+')[0]}://{rest}"


def _release(pool: Any, raw: Any) -> None:
    """Give *raw* back to *pool* (which discards it if broken) and count it free."""
    pool.putconn(raw)
    with _POOLS_LOCK:
        _IN_USE[id(pool)] -= 1
        if not _IN_USE[id(pool)]:
            del _IN_USE[id(pool)]


def _rollback(conn: Connection) -> None:
    with contextlib.suppress(Exception):  # a broken connection has nothing to roll back
        conn.execute("ROLLBACK")


def close_pools(uri: str | None = None) -> None:
    """Close this process's pools (of the database *uri*, or all)."""
    with _POOLS_LOCK:
        for key in list(_POOLS):
            # A pool inherited over a fork shares its sockets with the parent: closing (or
            # freeing) it here would end the parent's sessions, so it is left alone.
            if key[0] == os.getpid() and (uri is None or key[1] == _conninfo(uri)):
                _POOLS.pop(key).close()


atexit.register(close_pools)
