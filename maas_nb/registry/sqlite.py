"""The registry's metadata in one SQLite database (WAL mode), safe across processes."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any

from ..exceptions import (
    AliasNotFoundError,
    ModelNotFoundError,
    VersionInUseError,
    VersionNotFoundError,
)
from . import crash_points
from .columns import dumps as _dumps
from .columns import now
from .columns import time as _time
from .pages import EVERYTHING, Listing, Page
from .records import DeploymentRecord, Model, ModelVersion, frozen
from .sqlite_deployments import DeploymentTables
from .sqlite_import import ImportTables
from .sqlite_runs import RunTables
from .sqlite_versions import VersionTables
from .uri import ModelRef


class SqliteStore(VersionTables, RunTables, DeploymentTables, ImportTables):
    """Models, versions, aliases, runs and deployments in one SQLite file (by default
    ``<home>/registry.db``; opened by `stores.sqlite_store` from a ``sqlite:///`` URI)."""

    #: Whether `create_version` uploads inside its transaction (see there).
    UPLOADS_UNDER_LOCK = False

    # -- models and versions ----------------------------------------------------------

    def create_version(
        self,
        name: str,
        fields: dict[str, Any],
        *,
        alias: str | None = None,
        upload: Callable[[], None] | None = None,
        inside: Callable[[], None] | None = None,
    ) -> ModelVersion:
        """Allocate the next version of *name* (creating the model) and store *fields*.

        *upload* stores the artifact ``fields["digest"]`` names: before the transaction
        here (the write lock serialises every writer, and must not wait on a long upload),
        and then *inside* runs while the write lock is held, before the commit, to make
        sure the artifact is still in place when the row becomes visible. A store that
        `UPLOADS_UNDER_LOCK` uploads inside its transaction instead, holding the
        digest's lock (`_hold_artifact`) from before the upload to the commit, so that no
        delete can remove the bytes in between and *inside* is not needed. A version of
        *name* already made with ``fields["idempotency_key"]`` is returned instead.
        """
        key = fields.get("idempotency_key")
        early = upload is not None and not self.UPLOADS_UNDER_LOCK
        if early:
            upload()  # type: ignore[misc]
        with self._write() as conn:
            if key is not None:
                done = conn.execute(
                    "SELECT version FROM versions WHERE name = ? AND idempotency_key = ?",
                    (name, key),
                ).fetchone()
                if done is not None:  # a retry of a registration that was made
                    return self._version(conn, name, done[0])
            if upload is not None and not early:
                self._hold_artifact(conn, fields["digest"])
                upload()
                inside = None
            stamp = now().isoformat()
            self._add_model(conn, name, stamp)
            version = self._next_version(conn, name)
            signature = fields.get("signature")
            conn.execute(
                "INSERT INTO versions (name, version, flavor, digest, size, signature, params, "
                "metrics, tags, description, lineage, run_id, created_at, trust, "
                "idempotency_key, created_by) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    name,
                    version,
                    fields["flavor"],
                    fields["digest"],
                    fields["size"],
                    json.dumps(signature.to_dict()) if signature else None,
                    _dumps(fields.get("params")),
                    _dumps(fields.get("metrics")),
                    _dumps(fields.get("tags")),
                    fields.get("description") or "",
                    _dumps(fields.get("lineage")),
                    fields.get("run_id"),
                    stamp,
                    _dumps(fields.get("trust")),
                    key,
                    fields.get("created_by") or "",
                ),
            )
            if alias is not None:
                self._set_alias(conn, name, alias, version)
            if inside is not None:
                self._hold_artifact(conn, fields["digest"])
                inside()
            crash_points.reached(crash_points.BEFORE_COMMIT)
            return self._version(conn, name, version)

    def _add_model(self, conn: sqlite3.Connection, name: str, stamp: str) -> None:
        conn.execute("INSERT OR IGNORE INTO models (name, created_at) VALUES (?, ?)", (name, stamp))

    def _next_version(self, conn: sqlite3.Connection, name: str) -> int:
        """Bump the model's counter; the write lock makes this and the insert atomic."""
        conn.execute(
            "INSERT INTO version_counters (name, last) VALUES (?, 1) "
            "ON CONFLICT (name) DO UPDATE SET last = last + 1",
            (name,),
        )
        return conn.execute("SELECT last FROM version_counters WHERE name = ?", (name,)).fetchone()[
            0
        ]

    def get_model(self, name: str) -> Model:
        with self._read() as conn:
            return self._model(conn, name)

    def list_models(self) -> list[Model]:
        with self._read() as conn:
            names = [r[0] for r in conn.execute("SELECT name FROM models ORDER BY name")]
            return [self._model(conn, n) for n in names]

    def get_version(self, ref: ModelRef) -> ModelVersion:
        with self._read() as conn:
            return self._version(conn, ref.name, self._resolve(conn, ref))

    def list_versions(self, name: str, *, listing: Listing = EVERYTHING) -> Page[ModelVersion]:
        """The versions of *name* by number, a page at a time (`pages`)."""
        keys = ("version",)
        sql, params = listing.select("versions", keys, name=name, metric_value=self._metric_value)
        with self._read() as conn:
            self._model_row(conn, name)
            aliases = self._aliases_by_version(conn, name)
            rows = conn.execute(sql, params).fetchall()
        return listing.page(
            rows,
            lambda r: self._version_record(r, aliases.get(r["version"], ())),
            table="versions",
            name=name,
            keys=keys,
        )

    def set_alias(self, ref: ModelRef, alias: str) -> ModelVersion:
        with self._write() as conn:
            version = self._resolve(conn, ref)
            self._set_alias(conn, ref.name, alias, version)
            return self._version(conn, ref.name, version)

    def put_deployment_moving_alias(
        self,
        name: str,
        target: str,
        config: Callable[[DeploymentRecord, int | None, int], dict],
        *,
        alias: str,
        to: ModelRef,
        server: str | None = None,
        created_by: str = "",
    ) -> DeploymentRecord:
        """`set_alias` and `put_deployment` in one transaction (a promotion): *alias* of
        model ``to.name`` moves to the version *to* names, and deployment *name* (which
        must exist) gets *target* and ``config(row, before, now)``, made from its row as
        this transaction reads it (a read-modify-write: no other write of the row comes
        between), the version the alias named before (None: it named none) and the one it
        names now. Readers see both changes or neither."""
        with self._write() as conn:
            record = self._deployment(conn, name, hold=True)
            version = self._resolve(conn, to)
            row = conn.execute(
                "SELECT version FROM aliases WHERE name = ? AND alias = ?", (to.name, alias)
            ).fetchone()
            self._set_alias(conn, to.name, alias, version)
            made = config(record, row[0] if row is not None else None, version)
            self._upsert_deployment(conn, name, target, made, server, created_by)
            return self._deployment(conn, name)

    def remove_alias(self, name: str, alias: str) -> int:
        with self._write() as conn:
            version = self._resolve(conn, ModelRef(name, alias=alias))
            conn.execute("DELETE FROM aliases WHERE name = ? AND alias = ?", (name, alias))
            return version

    def update_model(self, name: str, *, description: str | None, tags: dict | None) -> Model:
        with self._write() as conn:
            self._model_row(conn, name)
            if description is not None:
                conn.execute(
                    "UPDATE models SET description = ? WHERE name = ?", (description, name)
                )
            if tags is not None:
                conn.execute("UPDATE models SET tags = ? WHERE name = ?", (_dumps(tags), name))
            return self._model(conn, name)

    def update_version(
        self, ref: ModelRef, *, description: str | None, tags: dict | None
    ) -> ModelVersion:
        with self._write() as conn:
            version = self._resolve(conn, ref)
            key = (ref.name, version)
            if description is not None:
                conn.execute(
                    "UPDATE versions SET description = ? WHERE name = ? AND version = ?",
                    (description, *key),
                )
            if tags is not None:
                conn.execute(
                    "UPDATE versions SET tags = ? WHERE name = ? AND version = ?",
                    (_dumps(tags), *key),
                )
            return self._version(conn, *key)

    def delete_version(self, ref: ModelRef, *, orphaned: Callable[[str], None]) -> ModelVersion:
        """Delete one version; call *orphaned(digest)* if no version uses its artifact now."""
        with self._write() as conn:
            version = self._resolve(conn, ref)
            record = self._version(conn, ref.name, version)
            self._refuse_if_deployed(conn, ref.name, {version}, what=f"version {record.uri}")
            conn.execute("DELETE FROM versions WHERE name = ? AND version = ?", (ref.name, version))
            self._collect(conn, [record.digest], orphaned)
            return record

    def delete_model(self, name: str, *, orphaned: Callable[[str], None]) -> list[ModelVersion]:
        """Delete a model and all its versions; the version counter is kept."""
        with self._write() as conn:
            self._model_row(conn, name)
            rows = conn.execute("SELECT * FROM versions WHERE name = ?", (name,)).fetchall()
            records = [self._version_record(r, ()) for r in rows]
            self._refuse_if_deployed(
                conn, name, {r.version for r in records}, what=f"model {name!r}", whole=True
            )
            conn.execute("DELETE FROM models WHERE name = ?", (name,))
            self._collect(conn, [r.digest for r in records], orphaned)
            return records

    def version_count(self, name: str | None = None) -> int:
        with self._read() as conn:
            if name is None:
                return conn.execute("SELECT count(*) FROM versions").fetchone()[0]
            return conn.execute("SELECT count(*) FROM versions WHERE name = ?", (name,)).fetchone()[
                0
            ]

    # -- helpers (inside a transaction) -----------------------------------------------

    def _model_row(self, conn: sqlite3.Connection, name: str) -> sqlite3.Row:
        row = conn.execute("SELECT * FROM models WHERE name = ?", (name,)).fetchone()
        if row is None:
            known = [r[0] for r in conn.execute("SELECT name FROM models ORDER BY name LIMIT 20")]
            hint = (
                f"Registered models: {', '.join(known)}."
                if known
                else "No models are registered yet."
            )
            raise ModelNotFoundError(f"No model named {name!r}. {hint}")
        return row

    def _model(self, conn: sqlite3.Connection, name: str) -> Model:
        row = self._model_row(conn, name)
        latest, count = conn.execute(
            "SELECT max(version), count(*) FROM versions WHERE name = ?", (name,)
        ).fetchone()
        aliases = dict(
            conn.execute("SELECT alias, version FROM aliases WHERE name = ?", (name,)).fetchall()
        )
        return Model(
            name=row["name"],
            description=row["description"],
            tags=frozen(json.loads(row["tags"])),
            created_at=_time(row["created_at"]),
            latest_version=latest,
            aliases=frozen(aliases),
            version_count=count,
        )

    def _resolve(self, conn: sqlite3.Connection, ref: ModelRef) -> int:
        self._model_row(conn, ref.name)
        if ref.alias is not None:
            row = conn.execute(
                "SELECT version FROM aliases WHERE name = ? AND alias = ?", (ref.name, ref.alias)
            ).fetchone()
            if row is None:
                known = sorted(
                    r[0]
                    for r in conn.execute("SELECT alias FROM aliases WHERE name = ?", (ref.name,))
                )
                hint = f"its aliases are: {', '.join(known)}" if known else "it has no aliases"
                raise AliasNotFoundError(
                    f"Model {ref.name!r} has no alias {ref.alias!r}; {hint}. Set one with "
                    f"set_alias('{ref.name}:VERSION', '{ref.alias}')."
                )
            return row[0]
        if ref.version is not None:
            row = conn.execute(
                "SELECT 1 FROM versions WHERE name = ? AND version = ?", (ref.name, ref.version)
            ).fetchone()
            if row is None:
                raise VersionNotFoundError(
                    f"Model {ref.name!r} has no version {ref.version}; "
                    f"{self._versions_hint(conn, ref.name)}."
                )
            return ref.version
        (latest,) = conn.execute(
            "SELECT max(version) FROM versions WHERE name = ?", (ref.name,)
        ).fetchone()
        if latest is None:
            raise VersionNotFoundError(f"Model {ref.name!r} has no versions left.")
        return latest

    def _versions_hint(self, conn: sqlite3.Connection, name: str) -> str:
        versions = [
            r[0]
            for r in conn.execute(
                "SELECT version FROM versions WHERE name = ? ORDER BY version", (name,)
            )
        ]
        if not versions:
            return "it has no versions"
        if len(versions) > 10:
            return (
                f"its versions are {versions[0]}..{versions[-1]} "
                f"({len(versions)} in all, with gaps where deleted)"
            )
        return f"its versions are: {', '.join(map(str, versions))}"

    def _set_alias(self, conn: sqlite3.Connection, name: str, alias: str, version: int) -> None:
        conn.execute(
            "INSERT INTO aliases (name, alias, version) VALUES (?, ?, ?) "
            "ON CONFLICT (name, alias) DO UPDATE SET version = excluded.version",
            (name, alias, version),
        )

    def _version(self, conn: sqlite3.Connection, name: str, version: int) -> ModelVersion:
        row = conn.execute(
            "SELECT * FROM versions WHERE name = ? AND version = ?", (name, version)
        ).fetchone()
        aliases = self._aliases_by_version(conn, name).get(version, ())
        return self._version_record(row, aliases)

    def _refuse_if_deployed(
        self,
        conn: sqlite3.Connection,
        name: str,
        versions: set[int],
        *,
        what: str,
        whole: bool = False,
    ) -> None:
        for dep_name, target in conn.execute("SELECT name, target FROM deployments"):
            ref = ModelRef.parse(target)
            if ref.name != name:
                continue
            if not whole:
                try:
                    if self._resolve(conn, ref) not in versions:
                        continue
                except LookupError:
                    continue
            raise VersionInUseError(
                f"Cannot delete {what}: deployment {dep_name!r} serves {target!r}. "
                f"Undeploy it first (maas undeploy {dep_name}; in a notebook: %maas undeploy "
                f"{dep_name}) or point it at another version."
            )

    def _collect(
        self, conn: sqlite3.Connection, digests: list[str], orphaned: Callable[[str], None]
    ) -> None:
        for digest in sorted(set(digests)):  # sorted: two deletes take the locks in one order
            self._hold_artifact(conn, digest)
            used = conn.execute(
                "SELECT 1 FROM versions WHERE digest = ? UNION ALL SELECT 1 FROM pipeline_runs "
                "WHERE notebook_digest = ? OR output_digest = ? LIMIT 1",
                (digest, digest, digest),
            ).fetchone()
            if used is None:
                orphaned(digest)
