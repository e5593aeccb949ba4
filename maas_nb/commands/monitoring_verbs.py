"""The verbs about what deployments answered: predictions (the log) and drift."""

from __future__ import annotations

import argparse
import math
from typing import Any

from .. import monitoring
from ..monitoring.drift import ALPHA, MIN_ROWS
from .command import Command, Context
from .result import Column, Result, table

#: The log's columns that change from run to run: shown in the CLI, in a notebook only
#: at feedback level 2.
_DETAIL = {"at", "request_id", "latency_ms", "row"}


def predictions(ctx: Context, args: argparse.Namespace) -> Result:
    frame = monitoring.prediction_log(args.name, home=ctx.home, limit=args.limit)
    columns = [Column(str(c), detail=c in _DETAIL) for c in frame.columns]
    rows = [[_cell(v) for v in row] for row in frame.itertuples(index=False)]
    empty = (
        f"Nothing logged for {args.name!r} yet: it logs a sample of its requests when "
        f"deployed with --log-sample (e.g. {ctx.says(f'deploy MODEL --name {args.name}')} "
        "--log-sample 0.01)."
    )
    data = frame.assign(at=frame["at"].astype(str)).to_dict(orient="records")
    return Result("predictions", data, table(columns, rows, empty=empty), frame)


def drift(ctx: Context, args: argparse.Namespace) -> Result:
    frame = monitoring.drift(
        args.name, args.version, home=ctx.home, alpha=args.alpha, min_rows=args.min_rows
    )
    rows = [
        [
            feature,
            r["rows"],
            r["reference_rows"],
            _round(r["reference_mean"]),
            _round(r["mean"]),
            _round(r["statistic"]),
            _round(r["p_value"], 2),
            "DRIFT" if r["flagged"] else "-",
            r["note"],
        ]
        for feature, r in frame.iterrows()
    ]
    columns = ["feature", "rows", "ref rows", "ref mean", "mean", "ks", "p", "flagged", "note"]
    view = table(columns, rows, empty="The version's reference has no numeric features.")
    data = {
        "version": frame.attrs.get("version"),
        "features": frame.reset_index().to_dict(orient="records"),
    }
    return Result("drift", data, view, frame)


def _cell(value: Any) -> Any:
    if isinstance(value, float):
        return _round(value)
    return value


def _round(value: Any, digits: int = 4) -> Any:
    """Four significant digits (p-values: two), '-' for none."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return float(f"{value:.{digits}g}")
    return value


def _declare_predictions(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="deployment name")
    p.add_argument("--limit", type=int, default=20, help="the newest N rows (default 20)")


def _declare_drift(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="deployment name")
    p.add_argument(
        "--version",
        default=None,
        help="the version whose training statistics are the reference "
        "(default: the one that answered the newest logged request)",
    )
    p.add_argument(
        "--alpha",
        type=float,
        default=ALPHA,
        help="the test's significance level, shared among the features (default 0.01)",
    )
    p.add_argument(
        "--min-rows",
        type=int,
        default=MIN_ROWS,
        help="features with fewer logged values are not judged (default 30)",
    )


COMMANDS = [
    Command(
        "predictions",
        "show a deployment's logged predictions (deploy with --log-sample)",
        _declare_predictions,
        predictions,
    ),
    Command(
        "drift",
        "compare a deployment's logged inputs with its training data, per feature",
        _declare_drift,
        drift,
    ),
]
