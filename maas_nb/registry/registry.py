"""The model registry: versioned, verified model artifacts with aliases, runs and deployments."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .. import config, flavors
from ..exceptions import (
    InvalidNameError,
    RegistryUnavailableError,
)
from . import artifact_cache, garbage, metadata, signatures, stores, trust
from . import reference as reference_mod
from .artifacts import ArtifactStore, StoredArtifact, digest_of
from .pages import Listing, Page
from .records import DeploymentRecord, Model, ModelVersion
from .run_records import RunRecords
from .store import MetadataStore
from .uri import ModelRef, validate_alias, validate_name

if TYPE_CHECKING:
    from .copying import CopyReport

DATABASE = config.DATABASE
ARTIFACTS = config.ARTIFACTS


class Registry(RunRecords):
    """Models, versions, aliases, runs and deployments: a metadata store and an artifact store.

    Parameters
    ----------
    home:
        The directory of this machine's state (the server's files and logs) and, unless
        the URIs say otherwise, of the database and the artifacts; by default
        ``$MAAS_HOME``, else ``~/.maas``. It is created if missing.
    registry_uri:
        The metadata store; by default ``$MAAS_REGISTRY_URI``, else
        ``sqlite:///<home>/registry.db``. Its scheme picks the store (see `stores`).
    artifacts_uri:
        The artifact store; by default ``$MAAS_ARTIFACTS_URI``, else
        ``file://<home>/artifacts``.
    trusted_types:
        Exact type names (no wildcards) to trust in scikit-learn models when registering
        and loading, on top of maas_nb's built-in allow-list and ``$MAAS_TRUSTED_TYPES``.
    """

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        *,
        registry_uri: str | None = None,
        artifacts_uri: str | None = None,
        trusted_types: Iterable[str] | None = None,
    ) -> None:
        self.home = config.home_dir(home)
        _prepare_home(self.home)
        self._trusted_types = config.checked_type_names(trusted_types or (), source="trusted_types")
        # Only `Registry` touches these two; everything else goes through its methods
        # (tests/test_registry_facade.py holds the rest of maas_nb to that).
        self.store: MetadataStore = stores.METADATA.open(
            *config.registry_uri(self.home, registry_uri)
        )
        self.artifacts: ArtifactStore = artifact_cache.cached(
            stores.ARTIFACTS.open(*config.artifacts_uri(self.home, artifacts_uri)), self.home
        )

    def __repr__(self) -> str:
        shown = [f"home={str(self.home)!r}"]
        registry_uri, artifacts_uri = self._own_uris()
        if registry_uri:
            shown.append(f"registry_uri={stores.redact(registry_uri)!r}")
        if artifacts_uri:
            shown.append(f"artifacts_uri={stores.redact(artifacts_uri)!r}")
        return f"Registry({', '.join(shown)})"

    def _own_uris(self) -> tuple[str, str]:
        """The store URIs that are not the home's defaults ('' for a default)."""
        registry_uri, artifacts_uri = self.registry_uri, self.artifacts_uri
        return (
            "" if registry_uri == config.default_registry_uri(self.home) else registry_uri,
            "" if artifacts_uri == config.default_artifacts_uri(self.home) else artifacts_uri,
        )

    @property
    def registry_uri(self) -> str:
        """The metadata store's URI (``sqlite:///<home>/registry.db`` by default)."""
        return self.store.uri

    @property
    def artifacts_uri(self) -> str:
        """The artifact store's URI (``file://<home>/artifacts`` by default)."""
        return self.artifacts.uri

    def environment(self) -> dict[str, str]:
        """The environment variables that open this same registry in another process.

        A store in its default place is given as ``''`` (follow ``MAAS_HOME``), so code
        in that process that switches homes takes the stores along.
        """
        registry_uri, artifacts_uri = self._own_uris()
        return {
            config.HOME_ENV: str(self.home),
            config.REGISTRY_URI_ENV: registry_uri,
            config.ARTIFACTS_URI_ENV: artifacts_uri,
        }

    @property
    def trusted_types(self) -> tuple[str, ...]:
        return config.trusted_types(self._trusted_types)

    # -- versions ---------------------------------------------------------------------

    def register(
        self,
        model: Any,
        name: str,
        *,
        sample: Any = None,
        reference: Any = None,
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        alias: str | None = None,
        lineage: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        allow_pickle: bool = False,
        trusted_types: Iterable[str] | None = None,
        idempotency_key: str | None = None,
    ) -> ModelVersion:
        """Store *model* as the next version of *name* and return the new version.

        *sample* (a few rows of training input) gives the version its signature; without
        it the signature is inferred from the model's fitted feature count where possible.
        *reference* (the training rows, ``X_train``; else the *sample*) gives the version
        its input statistics (`reference`, kept in its lineage), which `maas_nb.drift`
        compares live traffic with.
        *trusted_types* approves, by exact name, types beyond the built-in allow-list; the
        version records each approval used (who, when, how) and honours it at every load.
        A retry with the first call's *idempotency_key* (such as a job's id) returns the
        version that call made; without one each call gets a fresh key.
        """
        validate_name(name)
        if alias is not None:
            validate_alias(alias)
        fields: dict[str, Any] = {
            "metrics": metadata.metrics(metrics),
            "tags": metadata.tags(tags),
            "lineage": metadata.jsonable(lineage, "lineage"),
            "description": description or "",
            "run_id": run_id,
            "idempotency_key": metadata.idempotency_key(idempotency_key),
            "created_by": config.user(),
        }
        flavor = flavors.for_model(model, allow_pickle=allow_pickle)
        flavor.check_fitted(model)
        fields["params"] = metadata.jsonable(
            params if params is not None else flavor.params(model), "params"
        )
        fields["signature"] = signatures.infer(flavor, model, sample, name)
        if reference is not None:
            reference_mod.check(reference, sample, name)
        rows = reference if reference is not None else sample
        stats = reference_mod.statistics(rows) if rows is not None else None
        if stats is not None:
            fields["lineage"][reference_mod.KEY] = stats
        data = flavor.save(model)
        # What a person approved is exactly what the trust record approves of the needs.
        explicit = [*self._trusted_types, *(trusted_types or ())]
        needs = flavor.check_trusted(data, name=name, trusted=config.trusted_types(explicit))
        fields["trust"] = trust.record(needs, explicit=explicit)
        digest = digest_of(data)
        fields.update(flavor=flavor.name, digest=digest, size=len(data))

        def upload() -> None:
            self.artifacts.put(data)

        def artifact_in_place() -> None:
            # A concurrent delete may have removed identical bytes since the upload; we
            # now hold the write lock, so what we check here stays true until we commit.
            if not self.artifacts.exists(digest):
                self.artifacts.put(data)

        return self.store.create_version(
            name, fields, alias=alias, upload=upload, inside=artifact_in_place
        )

    def get(self, uri: str) -> ModelVersion:
        """Return the version *uri* refers to (``iris``, ``iris:3``, ``iris@production``)."""
        return self.store.get_version(ModelRef.parse(uri))

    def load(
        self,
        uri: str,
        *,
        allow_pickle: bool = False,
        trusted_types: Iterable[str] | None = None,
    ) -> Any:
        """Load the model *uri* refers to, after verifying its artifact's sha256 digest.

        The artifact is audited again: it may use the built-in allow-list, the types
        approved when the version was registered, and *trusted_types*.
        """
        version = self.get(uri)
        data = self.artifacts.get(version.digest)
        trusted = config.trusted_types([*self._trusted_types, *(trusted_types or ())])
        return flavors.get(version.flavor).load(
            data,
            uri=version.uri,
            trusted=[*trust.approved_types(version.trust), *trusted],
            allow_pickle=allow_pickle,
        )

    def list_models(self) -> list[Model]:
        return self.store.list_models()

    def get_model(self, name: str) -> Model:
        return self.store.get_model(validate_name(name))

    def list_versions(
        self,
        name: str,
        *,
        user: str | None = None,
        metric: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> Page[ModelVersion]:
        """The versions of *name*, oldest first: those *user* registered, those whose
        metric meets *metric* (``'accuracy>0.9'``), at most *limit* of them after the
        cursor *after*; the page's ``next`` is the cursor of the page after it."""
        listing = Listing.of(
            user=user, metric=metric, newest_first=newest_first, limit=limit, after=after
        )
        return self.store.list_versions(validate_name(name), listing=listing)

    def list_all_versions(
        self,
        *,
        user: str | None = None,
        metric: str | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> Page[ModelVersion]:
        """Every model's versions in the order they were registered (oldest first; the
        name, then the number, break ties), filtered and paged as `list_versions` is."""
        listing = Listing.of(
            user=user, metric=metric, newest_first=newest_first, limit=limit, after=after
        )
        return self.store.list_all_versions(listing=listing)

    def set_alias(self, uri: str, alias: str) -> ModelVersion:
        """Point *alias* at the version *uri* refers to (moving it if it exists)."""
        return self.store.set_alias(ModelRef.parse(uri), validate_alias(alias))

    def remove_alias(self, name: str, alias: str) -> int:
        """Remove *alias* from model *name*; return the version it pointed at."""
        return self.store.remove_alias(validate_name(name), validate_alias(alias))

    def update(
        self,
        uri: str,
        *,
        description: str | None = None,
        tags: Mapping[str, Any] | None = None,
    ) -> Model | ModelVersion:
        """Change the description or tags of a model (``iris``) or a version (``iris:3``).

        Tags replace the previous tags.
        """
        ref = ModelRef.parse(uri)
        new_tags = metadata.tags(tags) if tags is not None else None
        if ":" not in uri and "@" not in uri:
            return self.store.update_model(ref.name, description=description, tags=new_tags)
        return self.store.update_version(ref, description=description, tags=new_tags)

    def delete_version(self, uri: str) -> ModelVersion:
        """Delete one version (named explicitly); refused while a deployment serves it."""
        ref = ModelRef.parse(uri)
        if ref.version is None and ref.alias is None:
            raise InvalidNameError(
                f"delete_version needs an explicit version, such as '{ref.name}:3' or "
                f"'{ref.name}@candidate', got {uri!r}. To delete every version, use "
                f"delete_model('{ref.name}')."
            )
        return self.store.delete_version(ref, orphaned=self.artifacts.delete)

    def delete_model(self, name: str) -> list[ModelVersion]:
        """Delete a model with all its versions; its version numbers are never reused."""
        return self.store.delete_model(validate_name(name), orphaned=self.artifacts.delete)

    def gc(
        self, *, older_than: float = garbage.GRACE_S, dry_run: bool = False
    ) -> list[StoredArtifact]:
        """Remove the artifacts that no version or pipeline run names, once older than
        *older_than* seconds (orphans of killed registrations); return them."""
        return garbage.collect(self.store, self.artifacts, older_than=older_than, dry_run=dry_run)

    def copy_to(self, target: Registry) -> CopyReport:
        """Copy every model, version, alias, run and pipeline run that *target* lacks into
        it, verbatim (same numbers, ids, times and authors), each artifact verified against
        its digest; refused before any write if a record conflicts. Deployments stay."""
        from . import copying  # only this verb needs it

        return copying.copy(self, target)

    # -- deployments (served by maas_nb.serving, which reads this table) --------------

    def put_deployment(
        self,
        name: str,
        uri: str,
        settings: Mapping[str, Any] | None = None,
        *,
        server: str | None = None,
    ) -> DeploymentRecord:
        """Ask for *uri* to be served as *name* by the server called *server* (None: by
        any server reading this registry)."""
        validate_name(name, kind="deployment name")
        if server is not None:
            validate_name(server, kind="server name")
        self.get(uri)  # the target must exist now
        return self.store.put_deployment(
            name,
            str(ModelRef.parse(uri)),
            metadata.jsonable(settings, "config"),
            server=server,
            created_by=config.user(),
        )

    def put_deployment_moving_alias(
        self,
        name: str,
        uri: str,
        settings: Callable[[DeploymentRecord, int | None, int], Mapping[str, Any]],
        *,
        alias: str,
        to: str,
        server: str | None = None,
    ) -> DeploymentRecord:
        """Point *alias* at the version *to* names and set deployment *name* to serve
        *uri* with ``settings(row, before, now)`` (its row as the transaction reads it, and
        the versions the alias named before, None if it named none, and now), in ONE
        transaction: a server reading the registry sees
        the alias and the row change together (`maas_nb.deploying.promotion`)."""
        validate_name(name, kind="deployment name")
        if server is not None:
            validate_name(server, kind="server name")

        def made(row: DeploymentRecord, before: int | None, now: int) -> dict:
            return metadata.jsonable(settings(row, before, now), "config")

        return self.store.put_deployment_moving_alias(
            name,
            str(ModelRef.parse(uri)),
            made,
            alias=validate_alias(alias),
            to=ModelRef.parse(to),
            server=server,
            created_by=config.user(),
        )

    def delete_deployment(self, name: str) -> DeploymentRecord:
        return self.store.delete_deployment(name)

    def get_deployment(self, name: str) -> DeploymentRecord:
        return self.store.get_deployment(name)

    def list_deployments(
        self, *, server: str | None = None, user: str | None = None
    ) -> list[DeploymentRecord]:
        """Every deployment, or with *server* those that server is meant to serve (its
        own and those meant for any server), or with *user* those *user* made."""
        return self.store.list_deployments(server=server, user=user)


def _prepare_home(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
        if not home.is_dir():
            raise NotADirectoryError(20, "Not a directory")
        os.listdir(home)
    except OSError as exc:
        raise RegistryUnavailableError(
            f"Cannot use '{home}' as the registry home: {exc.strerror or exc}. Set MAAS_HOME "
            "(maas --home DIR; home= in Python) to a directory you can read and write, or fix "
            "its permissions."
        ) from exc
