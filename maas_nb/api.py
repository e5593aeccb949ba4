"""The Python API: module-level functions over the registry at ``$MAAS_HOME``.

Each call uses the `Registry` for the current home (``$MAAS_HOME``, else ``~/.maas``)
and store URIs (``$MAAS_REGISTRY_URI``, ``$MAAS_ARTIFACTS_URI``, else the home's own),
so changing them between calls switches registries.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from . import config
from .registry import Model, ModelVersion, Registry, Run

_registries: dict[tuple[Path, str, str], Registry] = {}
_lock = threading.Lock()


def registry(
    home: str | os.PathLike[str] | None = None,
    *,
    registry_uri: str | None = None,
    artifacts_uri: str | None = None,
) -> Registry:
    """Return the registry for *home* (default: ``$MAAS_HOME``, else ``~/.maas``), whose
    stores are *registry_uri* and *artifacts_uri* (default: ``$MAAS_REGISTRY_URI`` and
    ``$MAAS_ARTIFACTS_URI``, else the database and the artifacts in *home*)."""
    path = config.home_dir(home)
    key = (
        path,
        config.registry_uri(path, registry_uri)[0],
        config.artifacts_uri(path, artifacts_uri)[0],
    )
    with _lock:
        if key not in _registries:
            _registries[key] = Registry(
                path, registry_uri=registry_uri, artifacts_uri=artifacts_uri
            )
        return _registries[key]


def register(
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
    allow_pickle: bool = False,
    trusted_types: Iterable[str] | None = None,
) -> ModelVersion:
    """Register *model* as the next version of *name*; see `Registry.register`."""
    lineage = with_pipeline_run(lineage)
    return registry().register(
        model,
        name,
        sample=sample,
        reference=reference,
        metrics=metrics,
        params=params,
        tags=tags,
        description=description,
        alias=alias,
        lineage=lineage,
        allow_pickle=allow_pickle,
        trusted_types=trusted_types,
    )


def with_pipeline_run(lineage: Mapping[str, Any] | None) -> dict[str, Any]:
    """*lineage*, plus the pipeline run this process runs inside (``MAAS_PIPELINE_RUN``)."""
    out = dict(lineage or {})
    pipeline = os.environ.get("MAAS_PIPELINE_RUN")
    if pipeline:
        out.setdefault("pipeline_run", pipeline)
    return out


def get(uri: str) -> ModelVersion:
    """Return the version record *uri* refers to (``iris``, ``iris:3``, ``iris@production``)."""
    return registry().get(uri)


def load(
    uri: str, *, allow_pickle: bool = False, trusted_types: Iterable[str] | None = None
) -> Any:
    """Load the model *uri* refers to, verifying its artifact's digest."""
    return registry().load(uri, allow_pickle=allow_pickle, trusted_types=trusted_types)


def list_models() -> list[Model]:
    return registry().list_models()


def list_versions(name: str) -> list[ModelVersion]:
    return registry().list_versions(name)


def set_alias(uri: str, alias: str) -> ModelVersion:
    return registry().set_alias(uri, alias)


def remove_alias(name: str, alias: str) -> int:
    return registry().remove_alias(name, alias)


def update(
    uri: str, *, description: str | None = None, tags: Mapping[str, Any] | None = None
) -> Model | ModelVersion:
    return registry().update(uri, description=description, tags=tags)


def delete_version(uri: str) -> ModelVersion:
    return registry().delete_version(uri)


def delete_model(name: str) -> list[ModelVersion]:
    return registry().delete_model(name)


def delete(
    uri: str, *, yes: bool = False, home: str | None = None, command: str = "maas delete"
) -> list[ModelVersion]:
    """``maas delete`` and ``%maas delete``: one version (``iris:3``, ``iris@production``),
    or a whole model (``iris``) only with *yes*. *command* is how the caller's front end
    spells this verb, for the hint when *yes* is missing."""
    from .exceptions import ConflictError
    from .registry.uri import ModelRef

    reg = registry(home)
    ref = ModelRef.parse(uri)
    if ":" in uri or "@" in uri:
        return [reg.delete_version(uri)]
    if not yes:
        count = reg.get_model(ref.name).version_count
        raise ConflictError(
            f"Refusing to delete model {ref.name!r} and all {count} of its versions "
            f"without --yes. To delete one version, name it: {command} {ref.name}:VERSION"
        )
    return reg.delete_model(ref.name)


def list_runs(name: str | None = None) -> list[Run]:
    """Training and pipeline runs, oldest first (only those called *name* if given)."""
    return registry().list_runs(name)
