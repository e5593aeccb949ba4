"""The ``traffic`` verb: split a deployment's traffic between versions of its model."""

from __future__ import annotations

import argparse
from typing import Any

from ..deploying import splits
from ..deploying.targets import TARGET_ENV
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
        home=ctx.home,
        target=args.target,
    )
    config = dep.config
    view = card(
        f"Deployment {dep.name}",
        [
            ("traffic", splits.describe_split(config)),
            ("generation", config.get("generation")),
            ("sticky", config.get("sticky")),
            ("status", "ready"),
        ],
    )
    data: dict[str, Any] = {
        "name": dep.name,
        "target": dep.target,
        "traffic": config.get("traffic"),
        "generation": config.get("generation"),
        "sticky": config.get("sticky"),
        "shadow": config.get("shadow"),
    }
    return Result("traffic", data, view, dep)


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
    p.add_argument(
        "--target",
        default=None,
        help=f"the target whose server serves it (default: the deployment's own, "
        f"${TARGET_ENV}, else local)",
    )


COMMANDS = [
    Command(
        "traffic",
        "split a deployment's traffic: traffic NAME production=90 candidate=10",
        _declare,
        traffic,
    ),
]
