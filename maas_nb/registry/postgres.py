"""The registry's metadata in a shared PostgreSQL database (``postgresql://``).

The queries are the SQLite store's, written in the SQL both databases speak; this class
swaps the database under them (`PostgresDatabase`: the pool, transactions, schema and
errors) and the two statements that differ. A version number comes from the model's
counter row, bumped by one ``INSERT ... ON CONFLICT DO UPDATE ... RETURNING`` in the
transaction that inserts the version: the row lock serialises registrations of one model
until the commit, so concurrent clients get consecutive numbers, and a number is never
given out twice (the counter outlives deleted versions and models). Reads that fail on a
connection lost to a database restart are tried once more on a fresh connection, and so
are registrations, whose idempotency key makes that safe.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from ..exceptions import ConflictError, RegistryUnavailableError
from .postgres_database import PostgresDatabase, psycopg_modules
from .records import ModelVersion
from .sqlite import SqliteStore
from .uri import ModelRef

F = TypeVar("F", bound=Callable[..., Any])

#: The first key of the two-key advisory locks on artifact digests (a space of its own,
#: apart from the one-key migration lock); the second is 28 bits of the digest.
ARTIFACT_LOCK = 0x6D6E6264

#: A version row with its aliases, in one statement (one round trip) ...
_VERSION = (
    "SELECT v.*, ARRAY(SELECT a.alias FROM aliases a WHERE a.name = v.name "
    "AND a.version = v.version ORDER BY a.alias) AS aliases_of_version "
)
#: ... found by its number, by an alias, or as the latest.
_BY_NUMBER = _VERSION + "FROM versions v WHERE v.name = ? AND v.version = ?"
_BY_ALIAS = (
    _VERSION + "FROM aliases r JOIN versions v ON v.name = r.name AND v.version = r.version "
    "WHERE r.name = ? AND r.alias = ?"
)
_LATEST = _VERSION + "FROM versions v WHERE v.name = ? ORDER BY v.version DESC LIMIT 1"


def _read_again(read: F) -> F:
    """*read*, tried once more if the connection was lost (it changes nothing)."""

    @functools.wraps(read)
    def again(*args: Any, **kwargs: Any) -> Any:
        try:
            return read(*args, **kwargs)
        except RegistryUnavailableError as exc:
            if not _lost(exc):
                raise
            return read(*args, **kwargs)

    return again  # type: ignore[return-value]


def _lost(exc: BaseException) -> bool:
    """Whether *exc* came from a connection that broke (worth one more try at once)."""
    psycopg, psycopg_pool = psycopg_modules()
    cause = exc.__cause__
    # A pool that found no connection already waited its time: no second wait.
    return isinstance(cause, psycopg.OperationalError) and not isinstance(
        cause, psycopg_pool.PoolTimeout
    )


class PostgresStore(PostgresDatabase, SqliteStore):
    """Models, versions, aliases, runs and deployments in a PostgreSQL database (opened by
    `stores.postgres_store` from a ``postgresql://`` URI)."""

    #: Writers run side by side here, so an upload inside the transaction, under the
    #: digest's lock, holds back no other model's registration; it saves the check that
    #: the bytes are still there (a round trip to the artifact store) before the commit.
    UPLOADS_UNDER_LOCK = True

    def _add_model(self, conn: Any, name: str, stamp: str) -> None:
        conn.execute(
            "INSERT INTO models (name, created_at) VALUES (?, ?) ON CONFLICT (name) DO NOTHING",
            (name, stamp),
        )

    def _next_version(self, conn: Any, name: str) -> int:
        return conn.execute(
            "INSERT INTO version_counters (name, last) VALUES (?, 1) ON CONFLICT (name) "
            "DO UPDATE SET last = version_counters.last + 1 RETURNING last",
            (name,),
        ).fetchone()[0]

    #: Under READ COMMITTED a read-modify-write of a row locks it (`_deployment`).
    _FOR_UPDATE = " FOR UPDATE"

    def _hold_artifact(self, conn: Any, digest: str) -> None:
        """Registering bytes and deleting the last version that names them are otherwise
        free to interleave under READ COMMITTED: a delete would not see the uncommitted
        version and remove the object it is about to name. Both take this lock (held to
        the commit), and a registration takes it before it uploads, so the delete either
        runs first (and the registration uploads the bytes after it) or sees the committed
        version and keeps them.
        """
        conn.execute("SELECT pg_advisory_xact_lock(?, ?)", (ARTIFACT_LOCK, int(digest[-7:], 16)))

    def create_version(
        self,
        name: str,
        fields: dict[str, Any],
        *,
        alias: str | None = None,
        upload: Callable[[], None] | None = None,
        inside: Callable[[], None] | None = None,
    ) -> ModelVersion:
        """`SqliteStore.create_version`, tried once more after a lost connection or a race.

        The registration's idempotency key makes the second try safe: if the first one's
        commit landed after all, or a concurrent call with the same key won, the second
        returns that version instead of making another.
        """
        once = functools.partial(
            SqliteStore.create_version,
            self,
            name,
            fields,
            alias=alias,
            upload=upload,
            inside=inside,
        )
        if fields.get("idempotency_key") is None:
            return once()
        try:
            return once()
        except (RegistryUnavailableError, ConflictError) as exc:
            if isinstance(exc, RegistryUnavailableError) and not _lost(exc):
                raise
            return once()

    @_read_again
    def get_version(self, ref: ModelRef) -> ModelVersion:
        """The version *ref* names, read by one statement (its own snapshot); what is
        missing, if anything, is told by `SqliteStore.get_version`."""
        if ref.alias is not None:
            row = self._one(_BY_ALIAS, (ref.name, ref.alias))
        elif ref.version is not None:
            row = self._one(_BY_NUMBER, (ref.name, ref.version))
        else:
            row = self._one(_LATEST, (ref.name,))
        if row is None:
            return SqliteStore.get_version(self, ref)
        return self._version_record(row, tuple(row["aliases_of_version"]))

    def _version(self, conn: Any, name: str, version: int) -> ModelVersion:
        row = conn.execute(_BY_NUMBER, (name, version)).fetchone()
        return self._version_record(row, tuple(row["aliases_of_version"]))

    get_model = _read_again(SqliteStore.get_model)
    list_models = _read_again(SqliteStore.list_models)
    list_versions = _read_again(SqliteStore.list_versions)
    version_count = _read_again(SqliteStore.version_count)
    versions_made_in = _read_again(SqliteStore.versions_made_in)
    list_all_versions = _read_again(SqliteStore.list_all_versions)
    get_run = _read_again(SqliteStore.get_run)
    list_runs = _read_again(SqliteStore.list_runs)
    get_pipeline_run = _read_again(SqliteStore.get_pipeline_run)
    list_pipeline_runs = _read_again(SqliteStore.list_pipeline_runs)
    get_deployment = _read_again(SqliteStore.get_deployment)
    list_deployments = _read_again(SqliteStore.list_deployments)
