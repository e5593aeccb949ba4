"""One live view of every deployment, wherever it runs: the default target's server and
the targets that rows recorded as their own (``ray``).

The listing (``maas deployments``), the panel's Deployed table and its Monitor tab read
this. Each target is read once; a target that cannot be read makes only its own rows
``unknown`` with the reason (and adds it to ``problems``), never the whole view fail.
Targets that no row names are not touched: with only local rows, nothing imports Ray.
"""

from __future__ import annotations

from typing import Any

from ..api import registry as default_registry
from ..exceptions import MaasError
from ..registry import DeploymentRecord
from . import scaling, targets

UNKNOWN = "unknown"


def owner(record: DeploymentRecord, default: str) -> str:
    """The deploy target that runs *record*'s deployment: the one it recorded, else *default*."""
    return str(record.config.get(targets.OWN_TARGET) or default)


def replicas_text(entry: dict[str, Any]) -> str:
    """An entry's replicas for people: ``2/2`` (running/wanted), ``1 (1-3)`` when it
    autoscales between 1 and 3, ``?/2`` when unknown, ``-`` on a target without replicas."""
    wanted, scale = entry.get("replicas_wanted"), entry.get("scaling")
    if wanted is None and scale is None:
        return "-"
    running = entry.get("replicas")
    shown = "?" if running is None else str(running)
    if scale is not None and "-" in str(scale):
        return f"{shown} ({scale})"
    return f"{shown}/{scale if wanted is None else wanted}"


def live_view(
    *, home: str | None = None, timeout: float = 2.0, target: str | None = None
) -> dict[str, Any] | None:
    """Every deploy target's view merged: ``url`` (the default target's server, None when
    none runs), ``deployments`` (each entry also says its ``deploy_target``; rows of a
    target with replicas say ``replicas`` running and ``replicas_wanted``), ``metrics``
    (the targets' ``/metrics`` texts, one after the other: the same names, told apart by
    the ``deployment`` label), ``deploy_target`` (the default target) and ``problems``
    (why a target could not be read, by target).

    None when nothing runs: no server for the default target *target* and no row of
    another target.
    """
    reg = default_registry(home)
    default = targets.get(target)
    records = reg.list_deployments()
    by_target: dict[str, list[DeploymentRecord]] = {}
    for record in records:
        by_target.setdefault(owner(record, default.spec), []).append(record)
    others = [spec for spec in by_target if spec != default.spec]
    views: dict[str, dict[str, Any] | None] = {}
    problems: dict[str, str] = {}
    for spec in [default.spec, *others]:
        try:
            where = default if spec == default.spec else targets.get(spec)
            views[spec] = where.view(reg, timeout=timeout)
        except Exception as exc:  # one target's trouble is its rows' only
            views[spec] = None
            problems[spec] = _why(spec, exc, default.spec)
    if views[default.spec] is None and default.spec not in problems and not others:
        return None
    entries: list[dict[str, Any]] = []
    metrics: list[str] = []
    mine = {spec: {r.name for r in rows} for spec, rows in by_target.items()}
    for spec in [default.spec, *others]:
        view = views[spec]
        if spec in problems:
            entries += [_unknown(r, spec, problems[spec]) for r in by_target.get(spec, [])]
            continue
        if view is None:
            continue
        foreign = set().union(*(names for s, names in mine.items() if s != spec))
        for entry in view.get("deployments", []):
            if entry.get("name") in foreign:
                continue  # another target runs it: that target says its state
            entries.append(_tagged(entry, spec, records))
        if view.get("metrics"):
            metrics.append(str(view["metrics"]).rstrip("\n"))
    default_view = views[default.spec] or {}
    return {
        "url": default_view.get("url"),
        "deployments": entries,
        "metrics": "\n".join(metrics) + ("\n" if metrics else ""),
        "deploy_target": default.spec,
        "problems": problems,
    }


def _why(spec: str, exc: Exception, default: str) -> str:
    said = str(exc) if isinstance(exc, MaasError) else f"{type(exc).__name__}: {exc}"
    return said if spec == default else f"Reading the deploy target {spec!r} failed: {said}"


def with_replicas(entry: dict[str, Any], config: dict[str, Any]) -> dict[str, Any]:
    """*entry* with what a row's *config* asks of replicas, where the entry does not say
    (its target could not be read, or nothing runs it): for rows of a target that runs
    replicas (``ray``) only."""
    if not config.get(targets.OWN_TARGET):
        return entry
    asked = {
        "replicas": None,
        "replicas_wanted": scaling.initial(config),
        "scaling": scaling.wanted(config),
    }
    return {**asked, **entry}


def _tagged(entry: dict[str, Any], spec: str, records: list[DeploymentRecord]) -> dict[str, Any]:
    entry = {**entry, "deploy_target": spec}
    record = next((r for r in records if r.name == entry.get("name")), None)
    return with_replicas(entry, record.config) if record is not None else entry


def _unknown(record: DeploymentRecord, spec: str, reason: str) -> dict[str, Any]:
    entry: dict[str, Any] = {
        "name": record.name,
        "target": record.target,
        "status": UNKNOWN,
        "reason": reason,
        "deploy_target": spec,
    }
    return with_replicas(entry, record.config)
