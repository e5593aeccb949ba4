"""How many replicas a deployment runs: a fixed count, or autoscaling between two counts.

Declared once for both front ends and checked once (`plan`), where `deploy` builds the
deployment's config, so the CLI, the magics, the panel and ``maas_nb.deploy()`` refuse
the same values with the same message. Only targets that run replicas (``scales``: the
``ray`` target) take them.

Autoscaling follows Ray Serve's policy: each replica is kept at about
*target_ongoing_requests* requests in flight; the count goes up after the load has been
above that for *upscale_delay_s* and down after it has been below for
*downscale_delay_s*, never outside [*min_replicas*, *max_replicas*]. The defaults are
Ray Serve's own (2 requests; 30 s up, 600 s down).
"""

from __future__ import annotations

import argparse
import math
import numbers
from typing import Any

from ..exceptions import ConfigurationError

#: The config key of a fixed replica count, and of the autoscaling settings.
REPLICAS = "replicas"
AUTOSCALING = "autoscaling"

#: Autoscaling settings `plan` takes, beyond the two counts (Ray Serve's names).
TUNING = ("target_ongoing_requests", "upscale_delay_s", "downscale_delay_s")


def plan(
    spec: str,
    scales: bool,
    *,
    replicas: Any = None,
    min_replicas: Any = None,
    max_replicas: Any = None,
    more: dict[str, Any] | None = None,
    **tuning: Any,
) -> dict[str, Any]:
    """The replica part of a deployment config on the target *spec*: ``{}`` (nothing
    asked), ``{"replicas": N}`` or ``{"autoscaling": {...}}``; `ConfigurationError` on a
    bad or contradictory value, or when the target (not *scales*) runs no replicas.

    *more* holds any other field of Ray Serve's ``AutoscalingConfig``
    (``look_back_period_s``, ``metrics_interval_s``, ...), passed on as given: Ray Serve
    checks them when the deployment starts."""
    given = {k: v for k, v in tuning.items() if v is not None}
    autoscale = min_replicas is not None or max_replicas is not None or bool(given or more)
    if replicas is None and not autoscale:
        return {}
    if not scales:
        raise ConfigurationError(
            f"replicas and autoscaling are for the ray target; the deploy target {spec!r} "
            "runs server processes instead: give workers (--workers N), or deploy with "
            "--target ray."
        )
    if not autoscale:
        return {REPLICAS: _count("replicas", replicas)}
    if replicas is not None:
        raise ConfigurationError(
            f"replicas ({replicas!r}) fixes the count, min_replicas/max_replicas let it "
            "change: give one or the other (--replicas N, or --min-replicas A --max-replicas B)."
        )
    unknown = sorted(set(given) - set(TUNING))
    if unknown:
        raise ConfigurationError(
            f"Unknown autoscaling setting(s) {unknown}; known: {list(TUNING)}."
        )
    low = _count("min_replicas", 1 if min_replicas is None else min_replicas)
    high = _count("max_replicas", low if max_replicas is None else max_replicas)
    if high < low:
        raise ConfigurationError(
            f"max_replicas ({high}) is below min_replicas ({low}); give max_replicas of at "
            f"least {low}."
        )
    settings: dict[str, Any] = {**(more or {}), "min_replicas": low, "max_replicas": high}
    for key, value in given.items():
        settings[key] = _positive(key, value, allow_zero=key != "target_ongoing_requests")
    return {AUTOSCALING: settings}


def wanted(config: dict[str, Any]) -> str:
    """How many replicas *config* asks for, for people: ``2``, ``1-3``, or ``1``."""
    scaling = config.get(AUTOSCALING)
    if scaling:
        low, high = scaling["min_replicas"], scaling["max_replicas"]
        return f"{low}-{high}" if low != high else str(low)
    return str(config.get(REPLICAS, 1))


def initial(config: dict[str, Any]) -> int:
    """How many replicas *config* starts with: the fixed count, or the autoscaling least."""
    scaling = config.get(AUTOSCALING)
    return int(scaling["min_replicas"] if scaling else config.get(REPLICAS, 1))


def serve_options(config: dict[str, Any]) -> dict[str, Any]:
    """The ``serve.deployment`` options *config*'s replica part makes."""
    scaling = config.get(AUTOSCALING)
    if scaling:
        return {"num_replicas": "auto", "autoscaling_config": dict(scaling)}
    return {"num_replicas": config.get(REPLICAS, 1)}


def _count(option: str, value: Any) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigurationError(
            f"{option} is {value!r}; give a number of Ray Serve replicas, a whole number "
            "of at least 1."
        )
    return int(value)


def _positive(option: str, value: Any, *, allow_zero: bool) -> float:
    ok = isinstance(value, numbers.Real) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0 or (value == 0 and not allow_zero):
        least = "at least 0" if allow_zero else "above 0"
        raise ConfigurationError(f"{option} is {value!r}; give a number {least}.")
    return float(value)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The replica options of ``maas deploy`` and ``%maas deploy`` (checked by `plan`)."""
    group = parser.add_argument_group("replicas (--target ray)")
    group.add_argument(
        "--replicas",
        type=int,
        default=None,
        metavar="N",
        help="a fixed number of Ray Serve replicas (default 1)",
    )
    group.add_argument(
        "--min-replicas",
        type=int,
        default=None,
        metavar="N",
        help="autoscale: the fewest replicas (default 1)",
    )
    group.add_argument(
        "--max-replicas",
        type=int,
        default=None,
        metavar="N",
        help="autoscale: the most replicas (default: --min-replicas)",
    )
    group.add_argument(
        "--target-ongoing-requests",
        type=float,
        default=None,
        metavar="N",
        help="autoscale: requests in flight per replica to aim at (default 2)",
    )
    group.add_argument(
        "--upscale-delay",
        dest="upscale_delay_s",
        type=float,
        default=None,
        metavar="S",
        help="autoscale: seconds of high load before adding one (default 30)",
    )
    group.add_argument(
        "--downscale-delay",
        dest="downscale_delay_s",
        type=float,
        default=None,
        metavar="S",
        help="autoscale: seconds of low load before removing one (default 600)",
    )


def from_arguments(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `maas_nb.deploy` the parsed replica options give."""
    names = ("replicas", "min_replicas", "max_replicas", *TUNING)
    return {name: getattr(args, name) for name in names if getattr(args, name) is not None}
