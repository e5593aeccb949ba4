"""Training runs and pipeline runs in the SQLite store (a part of `SqliteStore`)."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable
from typing import Any, TypeVar

from ..exceptions import RunNotFoundError
from .columns import dumps as _dumps
from .columns import now
from .columns import time as _time
from .pages import EVERYTHING, Listing, Page
from .records import PipelineRun, Run, frozen
from .sqlite_database import SqliteDatabase

T = TypeVar("T")


class RunTables(SqliteDatabase):
    """The ``runs`` and ``pipeline_runs`` tables."""

    def create_run(
        self,
        run_id: str,
        name: str,
        *,
        params: dict,
        source: str,
        lineage: dict,
        created_by: str = "",
    ) -> Run:
        with self._write() as conn:
            conn.execute(
                "INSERT INTO runs (id, name, status, params, started_at, source, lineage, "
                "created_by) VALUES (?, ?, 'running', ?, ?, ?, ?, ?)",
                (
                    run_id,
                    name,
                    _dumps(params),
                    now().isoformat(),
                    source,
                    _dumps(lineage),
                    created_by,
                ),
            )
            return self._run(conn, run_id)

    def update_run(self, run_id: str, *, params: dict, lineage: dict) -> Run:
        with self._write() as conn:
            self._run(conn, run_id)
            conn.execute(
                "UPDATE runs SET params = ?, lineage = ? WHERE id = ?",
                (_dumps(params), _dumps(lineage), run_id),
            )
            return self._run(conn, run_id)

    def end_run(self, run_id: str, *, status: str, metrics: dict | None) -> Run:
        with self._write() as conn:
            self._run(conn, run_id)
            conn.execute(
                "UPDATE runs SET status = ?, ended_at = ?, metrics = coalesce(?, metrics) "
                "WHERE id = ?",
                (status, now().isoformat(), None if metrics is None else _dumps(metrics), run_id),
            )
            return self._run(conn, run_id)

    def get_run(self, run_id: str) -> Run:
        with self._read() as conn:
            return self._run(conn, run_id)

    def list_runs(self, name: str | None = None, *, listing: Listing = EVERYTHING) -> Page[Run]:
        """Training runs (of *name*) by (started_at, id), a page at a time (`pages`)."""
        return self._list("runs", name, listing, _run_record)

    # -- pipeline runs ----------------------------------------------------------------

    def create_pipeline_run(
        self,
        run_id: str,
        name: str,
        *,
        notebook: str,
        notebook_digest: str,
        parameters: dict,
        rerun_of: str | None = None,
        created_by: str = "",
    ) -> PipelineRun:
        with self._write() as conn:
            if rerun_of is not None:
                rerun_of = self._pipeline_run(conn, rerun_of).id
            conn.execute(
                "INSERT INTO pipeline_runs (id, name, notebook, notebook_digest, parameters, "
                "status, started_at, rerun_of, created_by) "
                "VALUES (?, ?, ?, ?, ?, 'running', ?, ?, ?)",
                (
                    run_id,
                    name,
                    notebook,
                    notebook_digest,
                    _dumps(parameters),
                    now().isoformat(),
                    rerun_of,
                    created_by,
                ),
            )
            return self._pipeline_run(conn, run_id)

    def end_pipeline_run(
        self, run_id: str, *, status: str, output_digest: str | None, error: dict | None
    ) -> PipelineRun:
        with self._write() as conn:
            started = self._pipeline_run(conn, run_id).started_at
            ended = now()
            conn.execute(
                "UPDATE pipeline_runs SET status = ?, ended_at = ?, duration_s = ?, "
                "output_digest = ?, error = ? WHERE id = ?",
                (
                    status,
                    ended.isoformat(),
                    (ended - started).total_seconds(),
                    output_digest,
                    _dumps(error),
                    run_id,
                ),
            )
            return self._pipeline_run(conn, run_id)

    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        with self._read() as conn:
            return self._pipeline_run(conn, run_id)

    def list_pipeline_runs(
        self, name: str | None = None, *, listing: Listing = EVERYTHING
    ) -> Page[PipelineRun]:
        """Pipeline runs (of *name*) by (started_at, id), a page at a time (`pages`)."""
        return self._list("pipeline_runs", name, listing, _pipeline_run_record)

    def _list(
        self, table: str, name: str | None, listing: Listing, record: Callable[[Any], T]
    ) -> Page[T]:
        keys = ("started_at", "id")
        sql, params = listing.select(table, keys, name=name, metric_value=self._metric_value)
        with self._read() as conn:
            rows = conn.execute(sql, params).fetchall()
        return listing.page(rows, record, table=table, name=name, keys=keys)

    def _pipeline_run(self, conn: sqlite3.Connection, run_id: str) -> PipelineRun:
        row = conn.execute("SELECT * FROM pipeline_runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            matches = conn.execute(
                "SELECT id FROM pipeline_runs WHERE id LIKE ? LIMIT 2", (run_id + "%",)
            ).fetchall()
            if len(run_id) >= 6 and len(matches) == 1:  # a unique prefix, as git allows
                return self._pipeline_run(conn, matches[0][0])
            raise RunNotFoundError(
                f"No pipeline run with id {run_id!r}. List them with: maas runs "
                "(in a notebook: %maas runs)"
            )
        return _pipeline_run_record(row)

    def _run(self, conn: sqlite3.Connection, run_id: str) -> Run:
        row = conn.execute("SELECT * FROM runs WHERE id = ?", (run_id,)).fetchone()
        if row is None:
            raise RunNotFoundError(
                f"No training run with id {run_id!r}. List them with: maas training-runs "
                "(in a notebook: %maas training-runs)"
            )
        return _run_record(row)


def _pipeline_run_record(row: Any) -> PipelineRun:
    return PipelineRun(
        id=row["id"],
        name=row["name"],
        notebook=row["notebook"],
        notebook_digest=row["notebook_digest"],
        parameters=frozen(json.loads(row["parameters"])),
        status=row["status"],
        started_at=_time(row["started_at"]),
        ended_at=_time(row["ended_at"]) if row["ended_at"] else None,
        duration_s=row["duration_s"],
        output_digest=row["output_digest"],
        error=frozen(json.loads(row["error"])),
        rerun_of=row["rerun_of"],
        created_by=row["created_by"],
    )


def _run_record(row: Any) -> Run:
    return Run(
        id=row["id"],
        name=row["name"],
        status=row["status"],
        params=frozen(json.loads(row["params"])),
        metrics=frozen(json.loads(row["metrics"])),
        started_at=_time(row["started_at"]),
        ended_at=_time(row["ended_at"]) if row["ended_at"] else None,
        source=row["source"],
        lineage=frozen(json.loads(row["lineage"])),
        created_by=row["created_by"],
    )
