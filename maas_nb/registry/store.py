"""The metadata store interface; `SqliteStore` and `PostgresStore` implement it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol

from .pages import EVERYTHING, Listing, Page
from .records import DeploymentRecord, Model, ModelVersion, PipelineRun, Run
from .uri import ModelRef


class MetadataStore(Protocol):
    """Transactional storage of registry records.

    Implementations allocate version numbers atomically (never reusing one), resolve
    references in the same transaction as the reads or writes that use them, and raise
    the `maas_nb.exceptions` errors, never their driver's. The ``list_*`` methods filter
    and page in SQL (`pages.Listing`), never in Python.
    """

    @property
    def uri(self) -> str:
        """The URI that opens this store from any process (``MAAS_REGISTRY_URI``)."""

    def create_version(
        self,
        name: str,
        fields: dict[str, Any],
        *,
        alias: str | None = None,
        upload: Callable[[], None] | None = None,
        inside: Callable[[], None] | None = None,
    ) -> ModelVersion: ...

    def get_model(self, name: str) -> Model: ...
    def list_models(self) -> list[Model]: ...
    def get_version(self, ref: ModelRef) -> ModelVersion: ...
    def list_versions(self, name: str, *, listing: Listing = EVERYTHING) -> Page[ModelVersion]: ...
    def set_alias(self, ref: ModelRef, alias: str) -> ModelVersion: ...
    def remove_alias(self, name: str, alias: str) -> int: ...
    def update_model(self, name: str, *, description: str | None, tags: dict | None) -> Model: ...
    def update_version(
        self, ref: ModelRef, *, description: str | None, tags: dict | None
    ) -> ModelVersion: ...
    def delete_version(self, ref: ModelRef, *, orphaned: Callable[[str], None]) -> ModelVersion: ...
    def delete_model(self, name: str, *, orphaned: Callable[[str], None]) -> list[ModelVersion]: ...
    def version_count(self, name: str | None = None) -> int: ...
    def versions_made_in(self, pipeline_runs: list[str]) -> list[ModelVersion]: ...
    def list_all_versions(self, *, listing: Listing = EVERYTHING) -> Page[ModelVersion]: ...

    def create_run(
        self,
        run_id: str,
        name: str,
        *,
        params: dict,
        source: str,
        lineage: dict,
        created_by: str = "",
    ) -> Run: ...
    def update_run(self, run_id: str, *, params: dict, lineage: dict) -> Run: ...
    def end_run(self, run_id: str, *, status: str, metrics: dict | None) -> Run: ...
    def get_run(self, run_id: str) -> Run: ...
    def list_runs(self, name: str | None = None, *, listing: Listing = EVERYTHING) -> Page[Run]: ...

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
    ) -> PipelineRun: ...
    def end_pipeline_run(
        self, run_id: str, *, status: str, output_digest: str | None, error: dict | None
    ) -> PipelineRun: ...
    def get_pipeline_run(self, run_id: str) -> PipelineRun: ...
    def list_pipeline_runs(
        self, name: str | None = None, *, listing: Listing = EVERYTHING
    ) -> Page[PipelineRun]: ...

    def put_deployment(
        self,
        name: str,
        target: str,
        config: dict,
        *,
        server: str | None = None,
        created_by: str = "",
    ) -> DeploymentRecord: ...
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
    ) -> DeploymentRecord: ...
    def delete_deployment(self, name: str) -> DeploymentRecord: ...
    def get_deployment(self, name: str) -> DeploymentRecord: ...
    def list_deployments(
        self, *, server: str | None = None, user: str | None = None
    ) -> list[DeploymentRecord]: ...

    # Whole rows, copied verbatim between registries (`copying`; see `sqlite_import`).
    def export_rows(self) -> dict[str, list[dict[str, Any]]]: ...
    def import_model(self, model: dict[str, Any]) -> bool: ...
    def import_version(
        self, model: dict[str, Any], version: dict[str, Any], *, inside: Callable[[], None]
    ) -> bool: ...
    def import_counter(self, name: str, last: int) -> None: ...
    def import_alias(self, alias: dict[str, Any]) -> bool: ...
    def import_run(self, table: str, run: dict[str, Any], *, inside: Callable[[], None]) -> str: ...
