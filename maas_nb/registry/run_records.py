"""Training runs and pipeline runs, through the `Registry` facade (a part of it)."""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping
from typing import Any

from .. import config
from ..exceptions import ArtifactMissingError, InvalidNameError
from . import metadata
from .artifacts import ArtifactStore
from .pages import Listing, Page
from .records import ModelVersion, PipelineRun, Run
from .store import MetadataStore
from .uri import validate_name

#: How a run (training or pipeline) may end.
END_STATUSES = ("finished", "failed")


class RunRecords:
    """The `Registry`'s run methods; the stores are the registry's own."""

    store: MetadataStore
    artifacts: ArtifactStore

    # -- runs -------------------------------------------------------------------------

    def start_run(
        self,
        name: str,
        *,
        params: Mapping[str, Any] | None = None,
        source: str = "",
        lineage: Mapping[str, Any] | None = None,
    ) -> Run:
        return self.store.create_run(
            uuid.uuid4().hex,
            validate_name(name, kind="run name"),
            params=metadata.jsonable(params, "params"),
            source=source,
            lineage=metadata.jsonable(lineage, "lineage"),
            created_by=config.user(),
        )

    def update_run(
        self, run_id: str, *, params: Mapping[str, Any], lineage: Mapping[str, Any]
    ) -> Run:
        """Record what a run learnt while it ran: the model's parameters and its lineage."""
        return self.store.update_run(
            run_id,
            params=metadata.jsonable(params, "params"),
            lineage=metadata.jsonable(lineage, "lineage"),
        )

    def end_run(
        self, run_id: str, *, status: str = "finished", metrics: Mapping[str, float] | None = None
    ) -> Run:
        _check_end_status(status, "A run")
        return self.store.end_run(
            run_id, status=status, metrics=None if metrics is None else metadata.metrics(metrics)
        )

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(run_id)

    def list_runs(
        self,
        name: str | None = None,
        *,
        user: str | None = None,
        metric: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> Page[Run]:
        """Training runs (named *name*), oldest first: those *user* started, those whose
        metric meets *metric* (``'accuracy>0.9'``), at most *limit* of them after the
        cursor *after*; the page's ``next`` is the cursor of the page after it."""
        listing = Listing.of(
            user=user, metric=metric, newest_first=newest_first, limit=limit, after=after
        )
        return self.store.list_runs(name, listing=listing)

    # -- pipeline runs (papermill executions, recorded by maas_nb.pipelines) ------------

    def start_pipeline_run(
        self,
        name: str,
        *,
        notebook: str,
        source: bytes,
        parameters: Mapping[str, Any] | None = None,
        rerun_of: str | None = None,
    ) -> PipelineRun:
        """Record that the notebook *source* (its bytes, stored as an artifact) starts
        running; *rerun_of* names the pipeline run it repeats, if any."""
        digest = self.artifacts.put(source)
        return self.store.create_pipeline_run(
            uuid.uuid4().hex,
            name,
            notebook=notebook,
            notebook_digest=digest,
            parameters=metadata.jsonable(parameters, "parameters"),
            rerun_of=rerun_of,
            created_by=config.user(),
        )

    def end_pipeline_run(
        self,
        run_id: str,
        *,
        status: str,
        output: bytes | None = None,
        error: Mapping[str, Any] | None = None,
    ) -> PipelineRun:
        """Record how a pipeline run ended and store its executed notebook (*output*)."""
        _check_end_status(status, "A pipeline run")
        output_digest = self.artifacts.put(output) if output is not None else None
        return self.store.end_pipeline_run(
            run_id,
            status=status,
            output_digest=output_digest,
            error=metadata.jsonable(error, "error"),
        )

    def get_pipeline_run(self, run_id: str) -> PipelineRun:
        """The pipeline run with id *run_id* (or a unique prefix of six characters or more)."""
        return self.store.get_pipeline_run(run_id)

    def list_pipeline_runs(
        self,
        name: str | None = None,
        *,
        user: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> Page[PipelineRun]:
        """Pipeline runs (named *name*), oldest first: those *user* started, at most
        *limit* of them after the cursor *after* (see `list_runs`)."""
        listing = Listing.of(user=user, newest_first=newest_first, limit=limit, after=after)
        return self.store.list_pipeline_runs(name, listing=listing)

    def versions_made_by(self, pipeline_runs: Iterable[str]) -> dict[str, list[ModelVersion]]:
        """The versions each of *pipeline_runs* (ids) registered, by name and number: the
        REGISTERED column of a page of runs, read by one query on the run ids in the
        versions' lineage (an index: no scan of every version). Runs that registered
        nothing are left out."""
        out: dict[str, list[ModelVersion]] = {}
        for version in self.store.versions_made_in(sorted(set(pipeline_runs))):
            out.setdefault(version.lineage["pipeline_run"], []).append(version)
        return out

    def pipeline_notebook(self, run: PipelineRun, *, executed: bool = False) -> bytes:
        """The bytes of *run*'s input notebook, or with *executed* of its executed one,
        verified against the digest recorded."""
        if not executed:
            return self.artifacts.get(run.notebook_digest)
        if run.output_digest is None:
            raise ArtifactMissingError(
                f"Pipeline run {run.id[:12]} ({run.status}) has no executed notebook: "
                f"papermill wrote none. See why with: maas runs show {run.id[:12]} "
                f"(in a notebook: %maas runs show {run.id[:12]})"
            )
        return self.artifacts.get(run.output_digest)


def _check_end_status(status: str, what: str) -> None:
    if status not in END_STATUSES:
        raise InvalidNameError(f"{what} ends as 'finished' or 'failed', got {status!r}.")
