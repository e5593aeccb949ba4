"""The model registry: versioned, verified model artifacts with aliases, runs and deployments."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from .. import config, flavors
from ..exceptions import InvalidNameError, RegistryUnavailableError, SignatureError
from ..flavors.base import Flavor, check_sample_width
from ..flavors.signature import Signature, infer_signature, sample_kind
from . import metadata, trust
from .artifacts import ArtifactStore, LocalArtifactStore
from .records import DeploymentRecord, Model, ModelVersion, Run
from .sqlite import SqliteStore
from .store import MetadataStore
from .uri import ModelRef, validate_alias, validate_name

DATABASE = "registry.db"
ARTIFACTS = "artifacts"


class Registry:
    """Models, versions, aliases, runs and deployments under one home directory.

    Parameters
    ----------
    home:
        The directory holding the database and the artifacts; by default ``$MAAS_HOME``,
        else ``~/.maas``. It is created if missing.
    trusted_types:
        Exact type names (no wildcards) to trust in scikit-learn models when registering
        and loading, on top of maas_nb's built-in allow-list and ``$MAAS_TRUSTED_TYPES``.
    """

    def __init__(
        self,
        home: str | os.PathLike[str] | None = None,
        *,
        trusted_types: Iterable[str] | None = None,
    ) -> None:
        self.home = config.home_dir(home)
        _prepare_home(self.home)
        self.store: MetadataStore = SqliteStore(self.home / DATABASE)
        self.artifacts: ArtifactStore = LocalArtifactStore(self.home / ARTIFACTS)
        self._trusted_types = config.checked_type_names(trusted_types or (), source="trusted_types")

    def __repr__(self) -> str:
        return f"Registry(home={str(self.home)!r})"

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
        metrics: Mapping[str, float] | None = None,
        params: Mapping[str, Any] | None = None,
        tags: Mapping[str, Any] | None = None,
        description: str | None = None,
        alias: str | None = None,
        lineage: Mapping[str, Any] | None = None,
        run_id: str | None = None,
        allow_pickle: bool = False,
        trusted_types: Iterable[str] | None = None,
    ) -> ModelVersion:
        """Store *model* as the next version of *name* and return the new version.

        *sample* (a few rows of training input) gives the version its signature; without
        it the signature is inferred from the model's fitted feature count where possible.
        *trusted_types* approves, by exact name, types beyond the built-in allow-list; the
        version records each approval used (who, when, how) and honours it at every load.
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
        }
        flavor = flavors.for_model(model, allow_pickle=allow_pickle)
        flavor.check_fitted(model)
        fields["params"] = metadata.jsonable(
            params if params is not None else flavor.params(model), "params"
        )
        fields["signature"] = _signature(flavor, model, sample, name)
        data = flavor.save(model)
        # What a person approved is exactly what the trust record approves of the needs.
        explicit = [*self._trusted_types, *(trusted_types or ())]
        needs = flavor.check_trusted(data, name=name, trusted=config.trusted_types(explicit))
        fields["trust"] = trust.record(needs, explicit=explicit)
        digest = self.artifacts.put(data)
        fields.update(flavor=flavor.name, digest=digest, size=len(data))

        def artifact_in_place() -> None:
            # A concurrent delete may have removed identical bytes since put(); we now
            # hold the write lock, so what we check here stays true until we commit.
            if not self.artifacts.exists(digest):
                self.artifacts.put(data)

        return self.store.create_version(name, fields, alias=alias, inside=artifact_in_place)

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

    def list_versions(self, name: str) -> list[ModelVersion]:
        return self.store.list_versions(validate_name(name))

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
        if status not in ("finished", "failed"):
            raise InvalidNameError(f"A run ends as 'finished' or 'failed', got {status!r}.")
        return self.store.end_run(
            run_id, status=status, metrics=None if metrics is None else metadata.metrics(metrics)
        )

    def get_run(self, run_id: str) -> Run:
        return self.store.get_run(run_id)

    def list_runs(self, name: str | None = None) -> list[Run]:
        return self.store.list_runs(name)

    # -- deployments (served by maas_nb.serving, which reads this table) --------------

    def put_deployment(
        self, name: str, uri: str, config: Mapping[str, Any] | None = None
    ) -> DeploymentRecord:
        validate_name(name, kind="deployment name")
        self.get(uri)  # the target must exist now
        return self.store.put_deployment(
            name, str(ModelRef.parse(uri)), metadata.jsonable(config, "config")
        )

    def delete_deployment(self, name: str) -> DeploymentRecord:
        return self.store.delete_deployment(name)

    def get_deployment(self, name: str) -> DeploymentRecord:
        return self.store.get_deployment(name)

    def list_deployments(self) -> list[DeploymentRecord]:
        return self.store.list_deployments()


def _prepare_home(home: Path) -> None:
    try:
        home.mkdir(parents=True, exist_ok=True)
        if not home.is_dir():
            raise NotADirectoryError(20, "Not a directory")
        os.listdir(home)
    except OSError as exc:
        raise RegistryUnavailableError(
            f"Cannot use '{home}' as the registry home: {exc.strerror or exc}. Set MAAS_HOME "
            "(or pass home=) to a directory you can read and write, or fix its permissions."
        ) from exc


def _signature(flavor: Flavor, model: Any, sample: Any, name: str) -> Signature | None:
    """Infer the signature from *sample*, or from the model's feature count without one."""
    if sample is None:
        return _signature_from_width(flavor, model)
    sample_kind(sample)
    check_sample_width(flavor, model, sample, name=name)
    try:
        outputs = flavor.predict(model, sample)
    except Exception as exc:
        raise SignatureError(
            f"Model {name!r} failed to predict on the sample, so its signature cannot be "
            f"inferred: {type(exc).__name__}: {exc}. Pass a few rows of the training data "
            "as sample=."
        ) from exc
    return infer_signature(sample, outputs)


def _signature_from_width(flavor: Flavor, model: Any) -> Signature | None:
    n = flavor.n_features(model)
    if n is None:
        return None
    import numpy as np

    sample: Any = np.zeros((1, n))
    names = getattr(model, "feature_names_in_", None)
    if names is not None:
        import pandas as pd

        sample = pd.DataFrame(sample, columns=[str(c) for c in names])
    try:
        return infer_signature(sample, flavor.predict(model, sample))
    except Exception:
        return None  # a signature is a convenience here; registering must not fail for it
