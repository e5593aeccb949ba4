"""The ``traffic``, ``promote`` and ``rollback`` verbs: split a deployment's traffic
between versions of its model, serve one of them alone, undo that."""

from __future__ import annotations

import argparse
from typing import Any

from ..deploying import promotion, splits
from ..deploying.targets import TARGET_ENV
from ..registry.guards import DEFAULTS, THRESHOLDS
from .command import Command, Context
from .result import Result, card


def traffic(ctx: Context, args: argparse.Namespace) -> Result:
    weights = {arm: int(w) for arm, w in (_weight(ctx, args.name, t) for t in args.weights)}
    shadow = dict([_percent(ctx, args.shadow)]) if args.shadow else None
    dep = splits.traffic(
        args.name,
        weights,
        sticky=args.sticky,
        shadow=shadow,
        shadow_timeout_ms=args.shadow_timeout_ms,
        guard=_guard(args),
        home=ctx.home,
        target=args.target,
    )
    return _shown("traffic", dep)


def promote(ctx: Context, args: argparse.Namespace) -> Result:
    dep = promotion.promote(
        args.name, args.candidate, alias=args.alias, home=ctx.home, target=args.target
    )
    return _shown("promote", dep)


def rollback(ctx: Context, args: argparse.Namespace) -> Result:
    return _shown("rollback", promotion.rollback(args.name, home=ctx.home, target=args.target))


def _shown(verb: str, dep: Any) -> Result:
    """The card of a deployment whose traffic just changed, and its data."""
    config = dep.config
    promoted = config.get(splits.PROMOTED)
    rows: list[tuple[str, Any]] = [
        ("traffic", splits.describe_split(config)),
        ("generation", config.get("generation")),
        ("sticky", config.get("sticky")),
    ]
    if config.get(splits.GUARD):
        rows.append(("guard", describe_guard(config[splits.GUARD])))
    if promoted:
        rows.append(
            ("promoted", f"@{promoted['alias']}: version {promoted['from']} -> {promoted['to']}")
        )
    data: dict[str, Any] = {
        "name": dep.name,
        "target": dep.target,
        "traffic": config.get("traffic"),
        "generation": config.get("generation"),
        "sticky": config.get("sticky"),
        "shadow": config.get("shadow"),
        "guard": config.get(splits.GUARD),
        "promoted": promoted,
    }
    return Result(verb, data, card(f"Deployment {dep.name}", [*rows, ("status", "ready")]), dep)


def describe_guard(guard: Any) -> str:
    """A guard in a few words: ``error rate > 0.05, p99 latency (ms) > 250; every 5 s, 2
    failures allowed, min sample 50`` (the labels of `THRESHOLDS`)."""
    limits = [
        f"{label} {'<' if key.startswith('min') else '>'} {guard[key]:g}"
        for key, label in THRESHOLDS.items()
        if guard.get(key) is not None
    ]
    return (
        f"{', '.join(limits)}; every {guard['interval_s']:g} s, "
        f"{guard['failures_allowed']} failures allowed, min sample {guard['min_sample']}"
    )


def _guard(args: argparse.Namespace) -> dict[str, Any] | None:
    values = {key: getattr(args, f"guard_{flag}") for flag, key in _GUARD_FLAGS.items()}
    given = {k: v for k, v in values.items() if v is not None}
    return given or None


#: The ``--guard-*`` options and the guard settings they set.
_GUARD_FLAGS = {
    "error_rate": "max_error_rate",
    "p99_ms": "max_p99_ms",
    "accuracy": "min_accuracy",
    "interval": "interval_s",
    "failures": "failures_allowed",
    "min_sample": "min_sample",
}


def _weight(ctx: Context, name: str, text: str) -> tuple[str, int]:
    """``production=90`` as ("production", 90); a usage error names the fix."""
    arm, sep, value = text.rpartition("=")
    if not sep or not arm or not value.strip().isdigit():
        raise ctx.usage(
            f"Each arm is ARM=WEIGHT with a whole percent, got {text!r}; for example "
            f"{ctx.says('traffic')} {name} production=90 candidate=10."
        )
    return arm, int(value)


def _percent(ctx: Context, text: str) -> tuple[str, float]:
    """``candidate=5`` as ("candidate", 5.0); a usage error names the fix."""
    arm, sep, value = text.rpartition("=")
    try:
        percent = float(value)
    except ValueError:
        percent = None
    if not sep or not arm or percent is None:
        raise ctx.usage(f"A shadow is ARM=PERCENT, got {text!r}; for example --shadow candidate=5.")
    return arm, percent


def _declare(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="deployment name")
    p.add_argument(
        "weights",
        nargs="+",
        metavar="ARM=WEIGHT",
        help="an alias or version of the deployment's model and its percent of the traffic "
        "(whole numbers summing to 100; the first arm is the primary)",
    )
    p.add_argument(
        "--sticky",
        nargs="?",
        const=splits.STICKY_HEADER,
        default=None,
        metavar="HEADER",
        help=f"requests with the same value of HEADER (default {splits.STICKY_HEADER}) "
        "always reach the same arm",
    )
    p.add_argument(
        "--shadow",
        default=None,
        metavar="ARM=PERCENT",
        help="copy PERCENT of the requests to ARM; its answers are recorded, never returned",
    )
    p.add_argument(
        "--shadow-timeout-ms",
        type=float,
        default=splits.SHADOW_TIMEOUT_MS,
        metavar="MS",
        help=f"cut a shadow answer off after MS (default {splits.SHADOW_TIMEOUT_MS:g})",
    )
    _guard_options(p)
    _target_option(p)


def _guard_options(p: argparse.ArgumentParser) -> None:
    g = p.add_argument_group(
        "guard",
        "the server sends all the traffic back to the primary when another arm "
        "fails more than --guard-failures checks in a row",
    )
    g.add_argument("--guard-error-rate", type=float, metavar="RATE", help="most errors, 0..1")
    g.add_argument("--guard-p99-ms", type=float, metavar="MS", help="highest p99 latency")
    g.add_argument("--guard-accuracy", type=float, metavar="ACC", help="lowest live accuracy")
    for flag, metavar, kind, text in (
        ("interval", "S", float, "seconds between checks"),
        ("failures", "N", int, "failed checks allowed"),
        ("min-sample", "N", int, "requests before an arm is judged"),
    ):
        default = DEFAULTS[_GUARD_FLAGS[flag.replace("-", "_")]]
        g.add_argument(f"--guard-{flag}", type=kind, metavar=metavar, help=f"{text} ({default:g})")


def _target_option(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target",
        default=None,
        help=f"the target whose server serves it (default: the deployment's own, "
        f"${TARGET_ENV}, else local)",
    )


def _declare_promote(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="deployment name")
    p.add_argument("candidate", help="the alias or version to serve alone (candidate, 3)")
    p.add_argument(
        "--alias",
        default=promotion.PRODUCTION,
        help=f"the alias moved to the candidate's version (default {promotion.PRODUCTION})",
    )
    _target_option(p)


def _declare_rollback(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="deployment name")
    _target_option(p)


COMMANDS = [
    Command(
        "traffic",
        "split a deployment's traffic: traffic NAME production=90 candidate=10",
        _declare,
        traffic,
    ),
    Command(
        "promote",
        "serve a candidate alone, moving the alias with it: promote NAME CANDIDATE",
        _declare_promote,
        promote,
    ),
    Command(
        "rollback",
        "undo the last promotion, or send all traffic to the primary: rollback NAME",
        _declare_rollback,
        rollback,
    ),
]
