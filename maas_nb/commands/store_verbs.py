"""The verb about the registry's stores themselves: ``registry gc``, ``registry copy``
and ``registry upgrade``."""

from __future__ import annotations

import argparse
import html

from .. import config
from ..registry import garbage, stores, upgrade
from ..tables import format_size
from . import registry_copy
from .command import Command, Context
from .result import Result, Text


def registry(ctx: Context, args: argparse.Namespace) -> Result:
    """``registry gc``, ``registry copy SRC DST`` (see `registry_copy`) or ``registry
    upgrade``."""
    if args.action == "copy":
        return registry_copy.copy(ctx, args)
    if args.places:
        raise ctx.usage(f"registry {args.action} takes no SRC or DST, got: {' '.join(args.places)}")
    if args.action == "upgrade":
        return _upgrade(ctx)
    return _gc(ctx, args)


def _upgrade(ctx: Context) -> Result:
    """``registry upgrade``: migrate the metadata store's schema (without opening the
    registry, which refuses an older shared schema)."""
    home = config.home_dir(ctx.settings.get("home"))
    uri, _ = config.registry_uri(home, ctx.settings.get("registry_uri"))
    text = upgrade.upgrade(uri)
    return Result(
        "registry",
        {"registry_uri": stores.redact(uri), "outcome": text},
        Text(text, html.escape(text)),
        text,
    )


def _gc(ctx: Context, args: argparse.Namespace) -> Result:
    """``registry gc``: remove the artifacts no version or pipeline run names."""
    reg = ctx.registry
    orphans = reg.gc(older_than=args.older_than, dry_run=args.dry_run)
    size = format_size(sum(a.size for a in orphans))
    verb = "Would remove" if args.dry_run else "Removed"
    if orphans:
        text = (
            f"{verb} {len(orphans)} artifact(s) no version names ({size}) from {reg.artifacts_uri}"
        )
    else:
        text = (
            f"No artifact older than {args.older_than:g} s is unnamed in {reg.artifacts_uri}; "
            "nothing to remove"
        )
    data = {
        "artifacts_uri": reg.artifacts_uri,
        "dry_run": args.dry_run,
        "removed": [a.digest for a in orphans],
        "bytes": sum(a.size for a in orphans),
    }
    return Result("registry", data, Text(text, html.escape(text)), orphans)


def _declare_registry(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "action",
        choices=["gc", "copy", "upgrade"],
        help="gc: remove artifacts no version names; copy SRC DST: copy a registry into "
        "another; upgrade: migrate the registry database to this maas_nb's schema",
    )
    p.add_argument(
        "places",
        nargs="*",
        metavar="SRC DST",
        help="copy: each a registry home directory, a registry URI (with --from-artifacts or "
        "--to-artifacts), or - for this registry",
    )
    p.add_argument("--from-artifacts", metavar="URI", help="copy: the artifact store of SRC")
    p.add_argument("--to-artifacts", metavar="URI", help="copy: the artifact store of DST")
    p.add_argument(
        "--older-than",
        type=float,
        default=garbage.GRACE_S,
        metavar="SECONDS",
        help="spare younger artifacts, which a registration may be about to name "
        f"(default: {garbage.GRACE_S:g})",
    )
    p.add_argument("--dry-run", action="store_true", help="list what would go; remove nothing")


COMMANDS = [
    Command(
        "registry",
        "registry gc|copy|upgrade: remove artifacts that no version or pipeline run names; "
        "copy every model, version, alias and run into another registry; migrate the "
        "registry database to this maas_nb's schema",
        _declare_registry,
        registry,
    ),
]
