"""Bringing a PostgreSQL registry database's schema up to date: `migrate`, under an
advisory lock so that two clients never migrate one database at once, in one transaction
so that a failed step leaves the database as it was."""

from __future__ import annotations

import contextlib
from typing import TYPE_CHECKING

from ..exceptions import SchemaVersionError
from .postgres_schema import MIGRATION_LOCK, MIGRATIONS, SCHEMA_VERSION

if TYPE_CHECKING:
    from .postgres_connections import Connection


def found_version(conn: Connection) -> int:
    """The schema version of the database *conn* is on (0: no schema yet)."""
    # A scan of the catalog, not to_regclass(): a name lookup may answer from a cache
    # that an advisory lock does not refresh, and miss a table created meanwhile.
    exists = conn.execute(
        "SELECT count(*) FROM pg_catalog.pg_tables "
        "WHERE schemaname = current_schema() AND tablename = 'maas_schema'"
    ).fetchone()[0]
    if not exists:
        return 0
    return conn.execute("SELECT version FROM maas_schema").fetchone()[0]


def migrate(conn: Connection) -> tuple[int, int]:
    """Bring the schema up to `SCHEMA_VERSION` under the advisory lock; (before, after)."""
    import psycopg

    conn.execute("BEGIN")
    try:
        conn.execute("SELECT pg_advisory_xact_lock(?)", (MIGRATION_LOCK,))
        found = found_version(conn)
        for version in range(found, SCHEMA_VERSION):
            try:
                conn.execute(MIGRATIONS[version])
            except psycopg.OperationalError:
                raise  # the connection's trouble, said as such by the caller
            except psycopg.Error as exc:
                raise SchemaVersionError(
                    f"Upgrading the registry database from schema version {version} to "
                    f"{version + 1} failed: {str(exc).strip()}. PostgreSQL rolled the whole "
                    f"upgrade back, so the database is still at version {found}. Its tables "
                    f"differ from what version {version} has (changed by hand?): compare them "
                    "with maas_nb/registry/postgres_schema.py, or restore a backup."
                ) from exc
            conn.execute("UPDATE maas_schema SET version = ?", (version + 1,))
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):  # a broken connection has nothing to roll back
            conn.execute("ROLLBACK")
        raise
    return found, max(found, SCHEMA_VERSION)
