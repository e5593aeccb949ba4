"""The options of the verbs that list records: who made them (``--mine``, ``--user U``),
a metric they meet (``--metric 'accuracy>0.9'``) and which page (``--limit N``, ``--after
CURSOR``), and the line under a page that has more, which is the command for the next."""

from __future__ import annotations

import argparse
import shlex
from typing import Any

from .. import config
from ..registry import Page
from .command import Context

#: Rows a page of ``maas versions``, ``runs`` and ``training-runs`` holds unless told.
PAGE_SIZE = 50


def add_who(p: argparse.ArgumentParser) -> None:
    """``--mine`` and ``--user U`` (one or the other)."""
    who = p.add_mutually_exclusive_group()
    who.add_argument(
        "--mine", action="store_true", help="only what you made ($MAAS_USER, else your OS user)"
    )
    who.add_argument("--user", metavar="U", default=None, help="only what user U made")


def add_listing_arguments(p: argparse.ArgumentParser, *, metric: bool = True) -> None:
    """``--mine``/``--user``, ``--metric`` (records with metrics), ``--limit``, ``--after``."""
    add_who(p)
    if metric:
        p.add_argument(
            "--metric",
            metavar="EXPR",
            default=None,
            help="only those whose metric meets EXPR, such as 'accuracy>0.9' (> >= < <= =)",
        )
    p.add_argument(
        "--limit",
        type=int,
        default=PAGE_SIZE,
        metavar="N",
        help=f"rows a page (default {PAGE_SIZE})",
    )
    p.add_argument(
        "--after",
        metavar="CURSOR",
        default=None,
        help="the page after CURSOR (the command for it is printed under a page with more)",
    )


def who(args: argparse.Namespace) -> str | None:
    """The user whose records to list: yours with ``--mine``, U with ``--user U``."""
    return config.user() if getattr(args, "mine", False) else getattr(args, "user", None)


def filters(args: argparse.Namespace) -> dict[str, Any]:
    """The keywords of the registry's ``list_*`` methods that *args* asks for."""
    chosen: dict[str, Any] = {"user": who(args), "limit": args.limit, "after": args.after}
    if getattr(args, "metric", None) is not None:
        chosen["metric"] = args.metric
    return chosen


def matching(args: argparse.Namespace) -> str:
    """' made by ada with accuracy>0.9': what the filters asked, said under an empty page."""
    said = ""
    if who(args) is not None:
        said += f" made by {who(args)}"
    if getattr(args, "metric", None):
        said += f" with {args.metric}"
    if getattr(args, "after", None):
        said += " after that cursor"
    return said


def more(ctx: Context, page: Page, words: list[str], args: argparse.Namespace) -> str:
    """Under a page with more after it: the command that shows the next one ('' if none).

    *words* are the verb and its positional arguments; the filters are repeated, since a
    cursor only works with the listing that gave it.
    """
    if page.next is None:
        return ""
    command = list(words)
    if getattr(args, "mine", False):
        command.append("--mine")
    elif getattr(args, "user", None) is not None:
        command += ["--user", args.user]
    if getattr(args, "metric", None) is not None:
        command += ["--metric", args.metric]
    if args.limit != PAGE_SIZE:
        command += ["--limit", str(args.limit)]
    command += ["--after", page.next]
    shown = " ".join(shlex.quote(w) for w in command)
    return f"More than {len(page)} rows; the next page: {ctx.says(shown)}"
