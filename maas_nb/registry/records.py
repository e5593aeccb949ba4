"""Immutable records returned by the registry."""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import Any

from ..flavors.signature import Signature


class FrozenDict(dict):
    """A dict that refuses changes, so records stay immutable (and still pickle and JSON)."""

    def _refuse(self, *args: Any, **kwargs: Any) -> None:
        raise TypeError("registry records are immutable; use the registry API to change them")

    __setitem__ = __delitem__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse  # type: ignore[assignment]
    __ior__ = _refuse  # type: ignore[assignment]

    def __reduce__(self):
        return (FrozenDict, (dict(self),))

    def __hash__(self) -> int:  # type: ignore[override]
        return hash(tuple(sorted(self.items(), key=repr)))


def frozen(value: dict[str, Any] | None) -> FrozenDict:
    return FrozenDict(value or {})


@dataclass(frozen=True)
class Model:
    """A named model: the home of its versions and aliases."""

    name: str
    description: str
    tags: FrozenDict
    created_at: datetime
    latest_version: int | None
    aliases: FrozenDict  # alias -> version
    version_count: int = 0


@dataclass(frozen=True)
class ModelVersion:
    """One registered, immutable artifact of a model."""

    name: str
    version: int
    flavor: str
    digest: str
    size: int
    signature: Signature | None
    params: FrozenDict
    metrics: FrozenDict
    tags: FrozenDict
    description: str
    lineage: FrozenDict
    created_at: datetime
    run_id: str | None = None
    aliases: tuple[str, ...] = ()
    #: ``{"needs": [type names], "approved": [{"type", "by", "at", "via"}]}``
    trust: FrozenDict = field(default_factory=FrozenDict)
    created_by: str = ""  # the user who registered it ('' before schema 6)

    @property
    def uri(self) -> str:
        return f"{self.name}:{self.version}"


@dataclass(frozen=True)
class Run:
    """A training (or pipeline) run: what was done, with which parameters, and how it went."""

    id: str
    name: str
    status: str
    params: FrozenDict
    metrics: FrozenDict
    started_at: datetime
    ended_at: datetime | None
    source: str
    lineage: FrozenDict = field(default_factory=FrozenDict)
    created_by: str = ""


@dataclass(frozen=True)
class PipelineRun:
    """One papermill execution of a notebook: its input, parameters, outcome and output."""

    id: str
    name: str
    notebook: str
    notebook_digest: str
    parameters: FrozenDict
    status: str
    started_at: datetime
    ended_at: datetime | None
    duration_s: float | None
    output_digest: str | None
    error: FrozenDict  # cell index, exception name and message when it failed
    rerun_of: str | None = None  # the pipeline run this one repeats (``maas rerun``)
    created_by: str = ""


@dataclass(frozen=True)
class DeploymentRecord:
    """A request to serve a model URI under a name; the server reconciles with these."""

    name: str
    target: str
    config: FrozenDict
    created_at: datetime
    created_by: str = ""
    #: The name of the server meant to serve it; None: any server on this registry.
    server: str | None = None


def to_dict(record: Model | ModelVersion | Run | PipelineRun | DeploymentRecord) -> dict[str, Any]:
    """A JSON-ready dict of *record* (timestamps as ISO 8601 text)."""
    out: dict[str, Any] = {}
    for f in fields(record):
        value = getattr(record, f.name)
        if isinstance(value, datetime):
            value = value.isoformat()
        elif isinstance(value, Signature):
            value = value.to_dict()
        elif isinstance(value, tuple):
            value = list(value)
        elif isinstance(value, dict):
            value = dict(value)
        out[f.name] = value
    if isinstance(record, ModelVersion):
        out["uri"] = record.uri
    return out
