"""Copying one registry into another (``maas registry copy``), verbatim and idempotently.

1. Both registries' records are read (each in one snapshot) and every record of the source
   is compared with the target's by the rules of `sqlite_import`: the same record is left
   alone, a new one is copied, a training or pipeline run the target holds as still
   running is brought up to date, and anything else (a version of the same number with
   other bytes, a number the target gave out and deleted, an alias pointing elsewhere, a
   run that ended differently) is a conflict. Any conflict refuses the whole copy before
   anything is written, and the error lists them all.
2. Each version new to the target, model by model and in number order: its artifact is read
   from the source, verified against its digest, and stored in the target (content
   addressed: bytes already there are checked, not rewritten); only then is the row
   committed, keeping its number, with the check that the object is in place made under
   the write lock, as `Registry.register` does. Then the aliases, and each model's version
   counter is raised to the source's, so a later registration on the target never reuses
   a number the source gave out.
3. Training runs, then pipeline runs with their notebooks' artifacts, the same way.

Every record is one transaction of its own: an interrupted copy leaves whole records only,
and running the copy again finishes it (a second complete run finds nothing new). A model
the target already has keeps its own description and tags. Nothing is ever deleted from
the target. Deployments are not copied: they belong to the servers that serve them.
"""

from __future__ import annotations

import functools
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from ..exceptions import ConfigurationError, ConflictError
from . import stores
from .sqlite_import import Row, alias_conflict, run_outcome, version_conflict

if TYPE_CHECKING:
    from .registry import Registry

#: What a copy counts, in the order it reports them.
KINDS = ("models", "versions", "aliases", "runs", "pipeline_runs", "artifacts")
#: The most conflicts an error lists one by one.
SHOWN_CONFLICTS = 20


@dataclass(frozen=True)
class CopyReport:
    """What one copy did: counts of records new to the target and already there."""

    source: str  # the source's registry and artifacts URIs (passwords hidden)
    target: str
    new: dict[str, int]
    unchanged: dict[str, int]
    updated: dict[str, int]  # runs and pipeline runs the target held as still running
    bytes_copied: int
    deployments_not_copied: int

    @property
    def changed(self) -> bool:
        return any(self.new.values()) or any(self.updated.values())


@dataclass
class _Plan:
    """What the target lacks, as read before the first write."""

    versions: list[tuple[Row, Row]] = field(default_factory=list)  # (model, version)
    models: list[Row] = field(default_factory=list)
    aliases: list[Row] = field(default_factory=list)
    counters: list[tuple[str, int]] = field(default_factory=list)
    runs: list[Row] = field(default_factory=list)
    pipeline_runs: list[Row] = field(default_factory=list)
    unchanged: Counter[str] = field(default_factory=Counter)
    conflicts: list[str] = field(default_factory=list)


def copy(source: Registry, target: Registry) -> CopyReport:
    """Copy every model, version, alias, training run and pipeline run of *source* that
    *target* lacks into *target* (see the module docstring)."""
    names = _names(source), _names(target)
    if source.registry_uri == target.registry_uri:
        raise ConfigurationError(
            "Copying a registry needs two different registries, got the database "
            f"{stores.redact(source.registry_uri)} as both source and target. Name another "
            "target: a home directory, or a registry URI with its artifacts URI."
        )
    plan = _plan(source.store.export_rows(), target.store.export_rows())
    if plan.conflicts:
        raise ConflictError(_refusal(plan.conflicts, *names))
    copier = _Copier(source, target)
    try:
        copier.run(plan)
    except ConflictError as exc:  # a record changed on the target since it was read
        raise ConflictError(
            f"Copying {names[0]} to {names[1]} stopped: {exc} The records copied before it "
            "stay; once the conflict is resolved, run the copy again to finish it."
        ) from exc
    return CopyReport(
        source=names[0],
        target=names[1],
        new={kind: copier.new[kind] for kind in KINDS},
        unchanged={kind: plan.unchanged[kind] for kind in KINDS if kind != "artifacts"},
        updated={kind: copier.updated[kind] for kind in ("runs", "pipeline_runs")},
        bytes_copied=copier.bytes,
        deployments_not_copied=len(source.list_deployments()),
    )


def _plan(src: dict[str, list[Row]], dst: dict[str, list[Row]]) -> _Plan:
    plan = _Plan()
    models = {m["name"]: m for m in dst["models"]}
    counters = {c["name"]: c["last"] for c in dst["version_counters"]}
    versions = {(v["name"], v["version"]): v for v in dst["versions"]}
    keys = {(v["name"], v["idempotency_key"]): v["version"] for v in dst["versions"]}
    aliases = {(a["name"], a["alias"]): a for a in dst["aliases"]}
    source_models = {m["name"]: m for m in src["models"]}
    for model in src["models"]:
        if model["name"] in models:
            plan.unchanged["models"] += 1
        else:
            plan.models.append(model)
    for version in src["versions"]:
        name = version["name"]
        here = versions.get((name, version["version"]))
        owner = keys.get((name, version["idempotency_key"]))
        problem = version_conflict(version, here, counters.get(name), owner)
        if problem:
            plan.conflicts.append(problem)
        elif here is not None:
            plan.unchanged["versions"] += 1
        else:
            plan.versions.append((source_models[name], version))
    for alias in src["aliases"]:
        here = aliases.get((alias["name"], alias["alias"]))
        problem = alias_conflict(alias, here)
        if problem:
            plan.conflicts.append(problem)
        elif here is not None:
            plan.unchanged["aliases"] += 1
        else:
            plan.aliases.append(alias)
    for counter in src["version_counters"]:
        if counter["name"] in source_models and counter["last"] > counters.get(counter["name"], 0):
            plan.counters.append((counter["name"], counter["last"]))
    for table in ("runs", "pipeline_runs"):
        held = {r["id"]: r for r in dst[table]}
        for run in src[table]:
            outcome, problem = run_outcome(table, run, held.get(run["id"]))
            if problem:
                plan.conflicts.append(problem)
            elif outcome == "same":
                plan.unchanged[table] += 1
            else:
                getattr(plan, table).append(run)
    return plan


class _Copier:
    """Carries out a `_Plan`, counting what it wrote."""

    def __init__(self, source: Registry, target: Registry) -> None:
        self.source, self.target = source, target
        self.new: Counter[str] = Counter()
        self.updated: Counter[str] = Counter()
        self.bytes = 0
        self._placed: dict[str, Callable[[], None]] = {}  # digest -> its check

    def run(self, plan: _Plan) -> None:
        store = self.target.store
        for model, version in plan.versions:
            in_place = self._artifact(version["digest"])
            self.new["versions"] += store.import_version(model, version, inside=in_place)
        for model in plan.models:
            store.import_model(model)  # one without versions; the others came with them
        self.new["models"] += len(plan.models)
        for alias in plan.aliases:
            self.new["aliases"] += store.import_alias(alias)
        for name, last in plan.counters:
            store.import_counter(name, last)
        for table in ("runs", "pipeline_runs"):
            for run in getattr(plan, table):
                checks = [
                    self._artifact(run[column])
                    for column in ("notebook_digest", "output_digest")
                    if run.get(column)
                ]
                outcome = store.import_run(table, run, inside=functools.partial(_all, checks))
                if outcome == "new":
                    self.new[table] += 1
                elif outcome == "updated":
                    self.updated[table] += 1

    def _artifact(self, digest: str) -> Callable[[], None]:
        """Store *digest*'s bytes in the target, read from the source (verified); return
        the check to run under the target's write lock, as `Registry.register` does."""
        if digest in self._placed:
            return self._placed[digest]
        source, target = self.source.artifacts, self.target.artifacts
        existed = target.exists(digest)
        data = source.get(digest)  # raises if the bytes do not match the digest
        target.put(data)  # bytes already there are checked and their time refreshed
        if not existed:
            self.new["artifacts"] += 1
            self.bytes += len(data)

        def in_place() -> None:
            if not target.exists(digest):  # removed meanwhile (gc of an old orphan)
                target.put(source.get(digest))

        self._placed[digest] = in_place
        return in_place


def _all(checks: list[Callable[[], None]]) -> None:
    for check in checks:
        check()


def _names(registry: Registry) -> str:
    return f"{stores.redact(registry.registry_uri)} + {stores.redact(registry.artifacts_uri)}"


def _refusal(conflicts: list[str], source: str, target: str) -> str:
    shown = "\n".join(f"  - {c}" for c in conflicts[:SHOWN_CONFLICTS])
    more = len(conflicts) - SHOWN_CONFLICTS
    if more > 0:
        shown += f"\n  - and {more} more"
    return (
        f"Cannot copy {source} to {target}: {len(conflicts)} record(s) conflict with the "
        f"target's, so nothing was copied:\n{shown}\nResolve each in one of the two "
        "registries (delete or re-point it there, or register it under another name), or "
        "copy into an empty registry; then copy again."
    )
