"""Traffic splits: one deployment serving several versions of its model, with weights.

`traffic` writes the split into the deployment's row (``traffic``, ``generation`` + 1,
``sticky``, ``shadow``; the row's target becomes the first arm, its primary), then waits
until the server serves the new generation: the server loads and warms every version of
the split before it takes effect, and keeps the previous split serving if one fails.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from ..api import registry as default_registry
from ..exceptions import ConfigurationError
from ..registry.guards import guard_config
from ..registry.uri import ModelRef
from . import process, remote, targets
from .deployment import Deployment
from .remote import START_TIMEOUT_S

#: The header whose value keeps a client on one arm, when stickiness is asked for.
STICKY_HEADER = "X-Maas-Key"
SHADOW_TIMEOUT_MS = 1000.0
#: The row config's record of the promotion that made it (see `promotion`), which
#: `rollback` undoes; any other change of the traffic drops it.
PROMOTED = "promoted"
#: The row config's guard (see `maas_nb.registry.guards`, `maas_nb.serving.watch`).
GUARD = "guard"


def traffic(
    name: str,
    weights: Mapping[str, int],
    *,
    sticky: str | bool | None = None,
    shadow: Mapping[str, float] | None = None,
    shadow_timeout_ms: float = SHADOW_TIMEOUT_MS,
    guard: Mapping[str, float] | None = None,
    timeout: float = START_TIMEOUT_S,
    home: str | None = None,
    target: str | None = None,
) -> Deployment:
    """Split deployment *name*'s traffic by *weights* (``{"production": 90, "candidate":
    10}``: aliases or versions of its model, whole percents summing to 100; the first is
    the primary); wait until the server serves the split.

    *sticky*: a header name (True: ``X-Maas-Key``) whose value always reaches the same
    arm. *shadow*: ``{"candidate": 5}`` copies 5% of the requests to that version, whose
    answers are recorded, never returned, and cut off after *shadow_timeout_ms*.
    *guard*: the server rolls the split back to its primary when an arm crosses a
    threshold (``{"max_error_rate": 0.05, "interval_s": 5, "failures_allowed": 2,
    "min_sample": 50}``; see `maas_nb.serving.watch`); None: no guard.
    """
    reg = default_registry(home)
    record = reg.get_deployment(name)
    model = ModelRef.parse(record.target).name
    arms = split_arms(model, weights)
    for arm in arms:
        reg.get(arm["target"])  # fail here, clearly, if a version or alias does not exist
    config: dict[str, Any] = dict(record.config)
    config["traffic"] = arms
    generation = int(config.get("generation", 1)) + 1
    config["generation"] = generation
    if sticky:
        config["sticky"] = STICKY_HEADER if sticky is True else str(sticky)
    else:
        config.pop("sticky", None)
    if shadow:
        config["shadow"] = shadow_config(model, shadow, shadow_timeout_ms)
        reg.get(config["shadow"]["target"])
    else:
        config.pop("shadow", None)
    config.pop(PROMOTED, None)  # the last change is this split, not a promotion
    set_guard(config, guard)
    if config.get(GUARD, {}).get("min_accuracy") is not None:
        for arm in arms:
            refuse_accuracy_of_regressor(reg.get(arm["target"]))
    where, server = server_of(reg, record, target, "traffic splits")
    reg.put_deployment(name, arms[0]["target"], config, server=record.server)
    return served(reg, where, server, name, generation, timeout=timeout, target=target)


def server_of(
    reg: Any, record: Any, target: str | None, what: str
) -> tuple[targets.DeployTarget, str]:
    """The target and the server URL that serve deployment *record* (refused for Ray,
    which does not support *what* yet); checked to accept us before anything changes."""
    own = record.config.get(targets.OWN_TARGET)
    where = targets.get(target if target is not None else own)
    if targets.scheme_of(where.spec) == "ray":
        raise ConfigurationError(
            f"Deployment {record.name!r} runs on the {where.spec!r} target, where {what} "
            "are not supported yet; deploy it on a maas_nb server (target local or a URL)."
        )
    if targets.scheme_of(where.spec) == "local":
        server = process.ensure_server(reg)
    else:
        server = where.server_url(reg)
    remote.check_access(server)  # a server that refuses us must not get a new split
    return where, server


def served(
    reg: Any,
    where: targets.DeployTarget,
    server: str,
    name: str,
    generation: int,
    *,
    timeout: float,
    target: str | None,
) -> Deployment:
    """Wait until *server* serves *generation* of *name*; its handle then."""
    local = targets.scheme_of(where.spec) == "local"
    log = str(reg.home / process.LOG_FILE) if local else f"the log of the server at {server}"
    remote.wait_generation(server, name, generation, timeout=timeout, log=log)
    from .api import get_deployment

    return get_deployment(name, home=str(reg.home), target=target)


def set_guard(config: dict[str, Any], guard: Mapping[str, Any] | None) -> None:
    """Put the checked *guard* in the row *config* (None: the split has no guard)."""
    if guard:
        config[GUARD] = guard_config(guard)
    else:
        config.pop(GUARD, None)


def refuse_accuracy_of_regressor(version: Any) -> None:
    """A `ConfigurationError` if *version* (a `ModelVersion`) is a regressor: a guard's
    min_accuracy judges a classifier's live accuracy, and would never judge it."""
    signature = version.signature
    if signature is None:
        return  # nothing known of its outputs: the server judges it when it can
    outputs = {o.name: o.dtype for o in signature.outputs}
    if "probabilities" in outputs or not str(outputs.get("predictions", "")).startswith("float"):
        return
    raise ConfigurationError(
        f"The guard's min_accuracy judges a classifier's live accuracy, but {version.uri} "
        f"is a regressor (its predictions are {outputs['predictions']}, with no "
        "probabilities); guard it with max_error_rate or max_p99_ms instead."
    )


def arm_target(model: str, arm: str) -> str:
    """The model URI of *arm*: ``production`` -> ``iris@production``, ``3`` -> ``iris:3``;
    a full URI must name the deployment's model."""
    text = str(arm).strip()
    if "@" in text or ":" in text:
        ref = ModelRef.parse(text)
        if ref.name != model:
            raise ConfigurationError(
                f"Traffic arm {text!r} names model {ref.name!r}, but the deployment serves "
                f"model {model!r}; use one of its aliases or versions ({model}@candidate, "
                f"{model}:3)."
            )
        return text
    if text.isdigit():
        return f"{model}:{int(text)}"
    ModelRef.parse(f"{model}@{text}")  # a malformed alias says so
    return f"{model}@{text}"


def split_arms(model: str, weights: Mapping[str, int]) -> list[dict[str, Any]]:
    """The ``traffic`` entries of *weights*: whole percents from 0 to 100 summing to 100."""
    if not weights:
        raise ConfigurationError(
            "A traffic split needs at least one arm, got none; give weights such as "
            "production=90 candidate=10."
        )
    arms: list[dict[str, Any]] = []
    for arm, weight in weights.items():
        if isinstance(weight, bool) or not isinstance(weight, int) or not 0 <= weight <= 100:
            raise ConfigurationError(
                f"The weight of arm {arm!r} must be a whole percent from 0 to 100, got "
                f"{weight!r}; for example production=90 candidate=10."
            )
        target = arm_target(model, arm)
        if any(a["target"] == target for a in arms):
            raise ConfigurationError(
                f"Arm {target!r} is given twice; give each version or alias one weight."
            )
        arms.append({"target": target, "weight": weight})
    total = sum(a["weight"] for a in arms)
    if total != 100:
        given = " ".join(f"{a}={w}" for a, w in weights.items())
        raise ConfigurationError(
            f"Traffic weights must sum to 100, got {total} ({given}); adjust them, e.g. "
            "production=90 candidate=10."
        )
    return arms


def shadow_config(model: str, shadow: Mapping[str, float], timeout_ms: float) -> dict[str, Any]:
    """The ``shadow`` entry of ``{"candidate": 5}``: one arm and its percent."""
    if len(shadow) != 1:
        raise ConfigurationError(
            f"A shadow is one version with a percent, got {len(shadow)} ({dict(shadow)}); "
            "for example candidate=5."
        )
    ((arm, percent),) = shadow.items()
    if isinstance(percent, bool) or not isinstance(percent, int | float) or not 0 < percent <= 100:
        raise ConfigurationError(
            f"The shadow percent of {arm!r} must be above 0 and at most 100, got {percent!r}; "
            "for example candidate=5."
        )
    if not timeout_ms > 0:
        raise ConfigurationError(
            f"The shadow timeout must be a positive number of milliseconds, got {timeout_ms!r}; "
            "for example 200."
        )
    return {
        "target": arm_target(model, arm),
        "percent": float(percent),
        "timeout_ms": float(timeout_ms),
    }


def describe_split(config: Mapping[str, Any]) -> str:
    """A row's split in a few words: ``production=90 candidate=10`` ("" with none)."""
    arms = config.get("traffic")
    if not arms:
        return ""
    words = [f"{_short(a['target'])}={a['weight']}" for a in arms]
    if config.get("shadow"):
        words.append(
            f"shadow:{_short(config['shadow']['target'])}={config['shadow']['percent']:g}%"
        )
    return " ".join(words)


def _short(target: str) -> str:
    ref = ModelRef.parse(target)
    return ref.alias or str(ref.version)
