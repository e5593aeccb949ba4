"""The verbs of a live experiment: ``feedback`` (ground truth in) and ``experiment``
(the live comparison of a deployment's versions)."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..deploying import experiments
from ..exceptions import ConfigurationError
from .command import Command, Context
from .result import Result, Text, card

FEEDBACK_EXAMPLE = '{"<request id>": <truth>, ...}'
#: Unknown ids a card lists before it only counts the rest.
SHOWN_IDS = 5


def _from_json(value: Any) -> tuple[Any, Any]:
    """(ids, truth) from a JSON feedback document: an object id -> truth, a list of
    ``{"id", "truth"}``, ``{"feedback": [...]}`` or ``{"ids": [...], "truth": [...]}``."""
    if isinstance(value, dict) and set(value) == {"ids", "truth"}:
        return value["ids"], value["truth"]
    if isinstance(value, dict) and set(value) == {"feedback"}:
        value = value["feedback"]
    if isinstance(value, list):
        if not all(isinstance(r, dict) and {"id", "truth"} <= set(r) for r in value):
            raise ConfigurationError(
                "A feedback list holds objects with 'id' and 'truth', such as "
                '[{"id": "4f1c2a", "truth": 1}].'
            )
        return [r["id"] for r in value], [r["truth"] for r in value]
    if isinstance(value, dict):
        return value, None
    raise ConfigurationError(
        f"Feedback is an object {FEEDBACK_EXAMPLE} (or a list of {{'id', 'truth'}}), got "
        f"{type(value).__name__}."
    )


def _read_file(path: Path) -> tuple[Any, Any]:
    """(ids, truth) from a CSV file with ``id`` and ``truth`` columns, or a JSON file."""
    try:
        if path.suffix.lower() == ".csv":
            import pandas as pd

            frame = pd.read_csv(path, dtype={"id": str})
            if not {"id", "truth"} <= set(frame.columns):
                raise ConfigurationError(
                    f"The feedback file {str(path)!r} has columns {list(frame.columns)}; it "
                    "needs 'id' and 'truth' (a header row id,truth, then one row per request)."
                )
            return frame, None
        return _from_json(json.loads(path.read_text()))
    except (OSError, ValueError) as exc:
        raise ConfigurationError(
            f"Cannot read the feedback file {str(path)!r}: {exc}. Give a readable file that "
            "is either a .csv with a header row id,truth and one row per request, or JSON: "
            '{"ID": TRUTH, ...}, [{"id": "ID", "truth": TRUTH}, ...] or '
            '{"ids": [...], "truth": [...]}.'
        ) from None


def _read_input(ctx: Context, text: str) -> tuple[Any, Any]:
    """(ids, truth) from the verb's input: a Python expression in a notebook (a dict, a
    DataFrame, a Series), JSON in a shell."""
    if ctx.prog.startswith("%"):
        value = ctx.read_input(text)
        if isinstance(value, tuple) and len(value) == 2:
            return value  # %maas feedback iris ids, truth
        return (value, None) if not isinstance(value, list) else _from_json(value)
    try:
        return _from_json(json.loads(text))
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"The feedback is not JSON ({exc.msg} at character {exc.pos}): {text[:80]!r}. "
            f"Give {FEEDBACK_EXAMPLE}, or --file truth.csv."
        ) from None


def feedback(ctx: Context, args: argparse.Namespace) -> Result:
    if args.input and args.input.split(None, 1)[0].partition("=")[0] == "--file":
        # %maas feedback NAME --file F: the magic took the rest of the line as Python
        args.file = args.input.partition("=")[2] or args.input.split(None, 1)[-1]
        args.file, args.input = args.file.strip().strip("'\""), None
    if args.file and args.input:
        raise ctx.usage("Give the feedback either inline or with --file, not both.")
    if args.file:
        ids, truth = _read_file(Path(args.file))
    elif args.input:
        ids, truth = _read_input(ctx, args.input)
    else:
        raise ctx.usage(
            f"{ctx.says('feedback')} {args.name} needs the ground truth of request ids: "
            f"{ctx.says('feedback')} {args.name} {FEEDBACK_EXAMPLE}, or --file truth.csv "
            "(columns id,truth)."
        )
    data = experiments.feedback(args.name, ids, truth, home=ctx.home, target=args.target)
    unknown = data["unknown"]
    shown = ", ".join(unknown[:SHOWN_IDS]) + (" ..." if len(unknown) > SHOWN_IDS else "")
    view = card(
        f"Feedback for {args.name}",
        [
            ("joined", data["joined"]),
            ("unknown", f"{len(unknown)} ({shown})" if unknown else "0"),
            ("mismatched", len(data["mismatched"]) or None),
            *((f"rows of {v}", n) for v, n in sorted(data["versions"].items())),
        ],
    )
    return Result("feedback", data, view, data)


def experiment(ctx: Context, args: argparse.Namespace) -> Result:
    found = experiments.experiment(args.name, home=ctx.home, target=args.target)
    return Result("experiment", dict(found), Text(found.text(), found._repr_html_()), found)


def _declare_feedback(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="deployment name")
    p.add_argument(
        "--file",
        default=None,
        help="a CSV file with id and truth columns, or a JSON file (an object id -> truth)",
    )
    _target(p)


def _declare_experiment(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="deployment name")
    _target(p)


def _target(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--target", default=None, help="the target whose server serves it (default: its own)"
    )


COMMANDS = [
    Command(
        "feedback",
        "post ground truth for request ids: feedback NAME --file truth.csv",
        _declare_feedback,
        feedback,
        takes_input=True,
    ),
    Command(
        "experiment",
        "the live comparison of a deployment's versions: experiment NAME",
        _declare_experiment,
        experiment,
    ),
]
