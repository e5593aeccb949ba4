"""Promotion gates: an alias moves only if a gate notebook, run on the version, completes."""

from __future__ import annotations

import os

from .. import api
from ..exceptions import PipelineFailedError
from ..registry import ModelVersion, Registry
from .executor import failure, run

GATE_PARAMETER = "model_uri"


def promote(
    uri: str,
    alias: str,
    *,
    gate: str | os.PathLike[str] | None = None,
    registry: Registry | None = None,
) -> ModelVersion:
    """Point *alias* at *uri*; with *gate*, only if the gate notebook passes on it.

    The gate run is recorded on the version either way, as the tag ``gate.ALIAS``
    (``passed RUN_ID`` or ``failed RUN_ID``); a refusal raises `PipelineFailedError`
    naming the failing cell and why.
    """
    reg = registry if registry is not None else api.registry()
    version = reg.get(uri)
    if gate is None:
        return reg.set_alias(version.uri, alias)
    record = run(gate, {GATE_PARAMETER: version.uri}, name=f"gate-{alias}", registry=reg)
    outcome = "passed" if record.status == "finished" else "failed"
    tags = {**version.tags, f"gate.{alias}": f"{outcome} {record.id}"}
    reg.update(version.uri, tags=tags)
    if record.status != "finished":
        error = failure(record)
        raise PipelineFailedError(
            f"Gate {os.fspath(gate)} refused to move {version.name}@{alias} to {version.uri}: "
            f"{error}"
        )
    return reg.set_alias(version.uri, alias)
