"""``registry copy SRC DST``: copy one registry into another (see `registry.copying`).

SRC and DST each name a registry the way a person has it at hand:

* a directory: that home's own SQLite database and artifacts folder (``~/.maas``), never
  the stores ``$MAAS_REGISTRY_URI`` / ``$MAAS_ARTIFACTS_URI`` may name;
* a registry URI (``postgresql://...``, ``sqlite:///...``), with its artifact store in
  ``--from-artifacts`` (for SRC) or ``--to-artifacts`` (for DST);
* ``-``: the registry this command runs against (``--home``, ``--registry-uri``,
  ``--artifacts-uri``, or the environment), as every other verb does.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import config
from ..registry import Registry
from ..registry.copying import KINDS, CopyReport
from ..tables import format_size
from .command import Context
from .result import Card, Result, card

#: How each kind is named in the card.
_SHOWN = {"pipeline_runs": "pipeline runs"}


def copy(ctx: Context, args: argparse.Namespace) -> Result:
    """``registry copy SRC DST``: copy what DST lacks of SRC's records and artifacts."""
    if len(args.places) != 2:
        raise ctx.usage(
            f"registry copy takes SRC and DST, got {len(args.places)} place(s): "
            f"{' '.join(args.places) or '(none)'}. Example: {ctx.says('registry copy')} "
            "~/.maas postgresql://HOST/maas --to-artifacts s3://BUCKET/maas"
        )
    source = _open(ctx, args.places[0], args.from_artifacts, "--from-artifacts", source=True)
    target = _open(ctx, args.places[1], args.to_artifacts, "--to-artifacts", source=False)
    report = source.copy_to(target)
    return Result("registry", _data(report), _card(report), report)


def _open(
    ctx: Context, place: str, artifacts: str | None, option: str, *, source: bool
) -> Registry:
    role = "SRC" if source else "DST"
    if place == "-":
        if artifacts is not None:
            raise ctx.usage(
                f"{option} names the artifacts of a registry URI, but {role} is '-' (this "
                "registry, whose artifacts --artifacts-uri names). Drop it, or give a URI."
            )
        return ctx.registry
    if "://" in place:
        if artifacts is None:
            raise ctx.usage(
                f"{role} {place!r} is a registry URI, which holds no artifacts: name its "
                f"artifact store with {option} URI (s3://BUCKET/PREFIX or file:///DIR)."
            )
        if source and place.lower().startswith("sqlite:///"):
            _must_exist(ctx, Path(place[len("sqlite:///") :]).expanduser(), place)
        return Registry(ctx.registry.home, registry_uri=place, artifacts_uri=artifacts)
    home = config.home_dir(place)
    if source:
        _must_exist(ctx, home / config.DATABASE, place)
    return Registry(
        home,
        registry_uri=config.default_registry_uri(home),
        artifacts_uri=artifacts or config.default_artifacts_uri(home),
    )


def _must_exist(ctx: Context, database: Path, place: str) -> None:
    # Opening a registry creates it: a mistyped source would copy nothing, silently.
    if not database.is_file():
        raise ctx.usage(
            f"SRC {place!r} holds no registry: '{database}' does not exist. Name a registry "
            f"home (a directory with {config.DATABASE} in it) or an existing database."
        )


def _data(report: CopyReport) -> dict:
    return {
        "from": report.source,
        "to": report.target,
        "new": report.new,
        "unchanged": report.unchanged,
        "updated": report.updated,
        "bytes_copied": report.bytes_copied,
        "deployments_not_copied": report.deployments_not_copied,
    }


def _card(report: CopyReport) -> Card:
    fields = []
    for kind in KINDS:
        shown = _SHOWN.get(kind, kind)
        if kind == "artifacts":
            fields.append((shown, f"{report.new[kind]} new ({format_size(report.bytes_copied)})"))
            continue
        text = f"{report.new[kind]} new, {report.unchanged[kind]} already there"
        if report.updated.get(kind):
            text += f", {report.updated[kind]} brought up to date (were running)"
        fields.append((shown, text))
    left = report.deployments_not_copied
    fields.append(
        (
            "deployments",
            f"{left} not copied: they belong to their servers; deploy again on the target"
            if left
            else "none (deployments are never copied)",
        )
    )
    verb = "Copied" if report.changed else "Nothing new to copy from"
    title = f"{verb} {report.source} to {report.target}"
    return card(title, fields)
