"""Promote a version of a deployment's model, and roll a deployment back.

`promote` moves an alias (``production`` by default) to the candidate's version and sets
the deployment's traffic to that alias at 100 (the shadow, stickiness and guard dropped,
the generation + 1) in ONE registry transaction, so a server never sees the alias moved
without the split changed, or the other way round; then it waits until the server
serves that generation. The server already holds a candidate that served as an arm, so
the switch is a swap of splits (a candidate that was only a shadow ran in a process of
its own: it is loaded into the server first, while the old split serves): requests in
flight finish on the version that took them, and none fails.

The row remembers the promotion (``promoted``: the alias, the version it named before
and the one it names now). `rollback` undoes it when it is the last change of the
traffic: the alias back to the version it named before, serving alone. Otherwise (a
split made by `traffic`, or one the server's guard rolled back, which the registry does
not know of) it sends all the traffic to the split's primary at 100, dropping the other
arms and the shadow, which makes a guard's rollback durable.
"""

from __future__ import annotations

import time
from typing import Any

from ..api import registry as default_registry
from ..exceptions import ConfigurationError
from ..registry.records import DeploymentRecord
from ..registry.uri import ModelRef
from .deployment import Deployment
from .remote import START_TIMEOUT_S
from .splits import GUARD, PROMOTED, arm_target, served, server_of

#: The alias `promote` moves unless told another.
PRODUCTION = "production"
_DROPPED = ("shadow", "sticky", GUARD, PROMOTED)


def promote(
    name: str,
    candidate: str,
    *,
    alias: str = PRODUCTION,
    timeout: float = START_TIMEOUT_S,
    home: str | None = None,
    target: str | None = None,
) -> Deployment:
    """Serve *candidate* (an alias or version of deployment *name*'s model:
    ``candidate``, ``3``, ``iris@candidate``) alone: move *alias* to its version and send
    all the traffic to ``MODEL@ALIAS``, in one registry write; wait until the server
    serves it. `rollback` undoes it."""
    reg = default_registry(home)
    record = reg.get_deployment(name)
    model = ModelRef.parse(record.target).name
    to = arm_target(model, candidate)
    version = reg.get(to).version  # fail here, clearly, if it does not exist
    moved = f"{model}@{ModelRef.parse(f'{model}@{alias}').alias}"
    where, server = server_of(reg, record, target, "promotions")

    def settings(row: DeploymentRecord, before: int | None, now: int) -> dict[str, Any]:
        # The row as the write's transaction reads it: a change made since `record` was
        # read (another generation) is built on, never overwritten.
        config = _single(row.config, moved, _next_generation(row.config))
        config[PROMOTED] = {
            "alias": alias,
            "from": before,
            "to": now,
            "target": row.target,
            "at": time.time(),
        }
        return config

    written = reg.put_deployment_moving_alias(
        name, moved, settings, alias=alias, to=f"{model}:{version}", server=record.server
    )
    generation = int(written.config["generation"])
    return served(reg, where, server, name, generation, timeout=timeout, target=target)


def rollback(
    name: str,
    *,
    timeout: float = START_TIMEOUT_S,
    home: str | None = None,
    target: str | None = None,
) -> Deployment:
    """Undo deployment *name*'s last promotion (the alias back where it was), or send all
    its traffic to its primary; wait until the server serves it."""
    reg = default_registry(home)
    record = reg.get_deployment(name)
    config = dict(record.config)
    promoted = config.get(PROMOTED)
    arms = config.get("traffic") or []
    if not promoted and len(arms) <= 1 and not config.get("shadow"):
        raise ConfigurationError(
            f"Deployment {name!r} serves {record.target} alone and its last change was no "
            "promotion: there is nothing to roll back. Split its traffic with: maas traffic "
            f"{name} production=90 candidate=10."
        )
    where, server = server_of(reg, record, target, "rollbacks")
    generation = _next_generation(config)
    model = ModelRef.parse(record.target).name
    if promoted and promoted.get("from") is not None:
        back = f"{model}:{promoted['from']}"
        uri = f"{model}@{promoted['alias']}"
        written = reg.put_deployment_moving_alias(
            name,
            uri,
            lambda row, _before, _now: _single(row.config, uri, _next_generation(row.config)),
            alias=promoted["alias"],
            to=back,
            server=record.server,
        )
        generation = int(written.config["generation"])
    else:
        # A promotion that made its alias: the row's target from before it serves again.
        uri = promoted["target"] if promoted else record.target
        reg.put_deployment(name, uri, _single(config, uri, generation), server=record.server)
    return served(reg, where, server, name, generation, timeout=timeout, target=target)


def _single(config: Any, uri: str, generation: int) -> dict[str, Any]:
    """*config* serving *uri* alone at 100, as *generation*."""
    made = {k: v for k, v in dict(config).items() if k not in _DROPPED}
    made["traffic"] = [{"target": uri, "weight": 100}]
    made["generation"] = generation
    return made


def _next_generation(config: Any) -> int:
    return int(config.get("generation", 1)) + 1
