"""The verbs about what the registry holds: models, versions, show, alias, unalias,
delete, training-runs, doctor."""

from __future__ import annotations

import argparse
import html

from ..registry import to_dict
from ..tables import format_size, format_time, metrics_text
from . import listing
from .cards import history_html, run_history, version_card
from .command import Command, Context, no_arguments
from .result import Column, Result, Text, card, table


def models(ctx: Context, args: argparse.Namespace) -> Result:
    found = ctx.registry.list_models()
    rows = [
        [
            m.name,
            m.version_count,
            m.latest_version or "-",
            ", ".join(f"{a}->{n}" for a, n in sorted(m.aliases.items())),
            m.description,
        ]
        for m in found
    ]
    empty = (
        "No models registered. Register one with maas_nb.register(model, 'name') "
        "(in a notebook: %%maas train NAME --register)."
    )
    view = table(["name", "versions", "latest", "aliases", "description"], rows, empty=empty)
    return Result("models", [to_dict(m) for m in found], view, found)


def versions(ctx: Context, args: argparse.Namespace) -> Result:
    found = ctx.registry.list_versions(args.name, **listing.filters(args))
    rows = [
        [
            v.version,
            v.flavor,
            ", ".join(v.aliases),
            format_size(v.size),
            metrics_text(v.metrics),
            v.created_by or "-",
            format_time(v.created_at),
        ]
        for v in found
    ]
    columns: list[str | Column] = [
        "version",
        "flavor",
        "aliases",
        Column("size", detail=True),
        "metrics",
        "by",
        Column("created", detail=True),
    ]
    view = table(
        columns,
        rows,
        empty=f"Model {args.name!r} has no versions{listing.matching(args)}.",
        more=listing.more(ctx, found, ["versions", args.name], args),
    )
    return Result("versions", [to_dict(v) for v in found], view, found)


def show(ctx: Context, args: argparse.Namespace) -> Result:
    from ..pipelines.lineage import describe

    version = ctx.registry.get(args.uri)
    view = version_card(version, describe(ctx.registry, version))
    chart = history_html(run_history(ctx.registry, version.run_id), title=version.uri)
    return Result("show", to_dict(version), view, version, html_extra=chart)


def compare(ctx: Context, args: argparse.Namespace) -> Result:
    """Two or more versions' metrics side by side: a row per version, a column per metric
    (- where a version lacks it); in a notebook also a grouped bar chart."""
    from .. import charts

    found = [ctx.registry.get(uri) for uri in args.uris]
    uris = list(dict.fromkeys(v.uri for v in found))
    if len(uris) < 2:
        raise ctx.usage(
            f"{ctx.prog} compare needs two or more different versions, got "
            f"{', '.join(args.uris)} ({', '.join(uris)}). "
            f"Example: {ctx.says('compare iris:1 iris:2')}"
        )
    versions = {v.uri: v for v in found}
    names = sorted({m for v in versions.values() for m in v.metrics})
    rows = [[u, *(_number(versions[u].metrics.get(m)) for m in names)] for u in uris]
    view = table(["version", *names], rows, empty="")
    data = {
        "versions": uris,
        "metrics": {m: {u: versions[u].metrics.get(m) for u in uris} for m in names},
    }
    bars = charts.bars_svg({u: dict(versions[u].metrics) for u in uris})
    return Result(
        "compare", data, view, list(versions.values()), html_extra=charts.figure_html(bars)
    )


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.4g}"


def alias(ctx: Context, args: argparse.Namespace) -> Result:
    if args.gate:
        from ..pipelines import promote

        reg = ctx.registry
        version = ctx.blocking(lambda: promote(args.uri, args.alias, gate=args.gate, registry=reg))
    else:
        version = ctx.registry.set_alias(args.uri, args.alias)
    where = f"{version.name}@{args.alias}"
    view = Text(
        f"{where} -> {version.uri}", f"<code>{where}</code> &rarr; <code>{version.uri}</code>"
    )
    return Result("alias", to_dict(version), view, version)


def unalias(ctx: Context, args: argparse.Namespace) -> Result:
    was = ctx.registry.remove_alias(args.name, args.alias)
    where = f"{args.name}@{args.alias}"
    view = Text(
        f"Removed {where} (was {args.name}:{was})",
        f"Removed <code>{where}</code> (was <code>{args.name}:{was}</code>)",
    )
    return Result("unalias", {"name": args.name, "alias": args.alias, "version": was}, view, was)


def delete(ctx: Context, args: argparse.Namespace) -> Result:
    from ..api import delete as delete_uri

    deleted = delete_uri(args.uri, yes=args.yes, home=ctx.home, command=ctx.says("delete"))
    view = Text(
        "\n".join(f"Deleted {v.uri}" for v in deleted),
        "<br>".join(f"Deleted <code>{html.escape(v.uri)}</code>" for v in deleted),
    )
    return Result("delete", [to_dict(v) for v in deleted], view, deleted)


def training_runs(ctx: Context, args: argparse.Namespace) -> Result:
    found = ctx.registry.list_runs(args.name, **listing.filters(args))
    rows = [
        [
            r.name,
            r.status,
            metrics_text(r.metrics),
            r.created_by or "-",
            r.id[:12],
            format_time(r.started_at),
        ]
        for r in found
    ]
    columns: list[str | Column] = [
        "name",
        "status",
        "metrics",
        "by",
        Column("id", True),
        Column("started", True),
    ]
    empty = "No training runs. Record one in a notebook with: %%maas train NAME"
    if listing.matching(args):
        empty = f"No training runs{listing.matching(args)}."
    words = ["training-runs", *([args.name] if args.name else [])]
    view = table(columns, rows, empty=empty, more=listing.more(ctx, found, words, args))
    return Result("training-runs", [to_dict(r) for r in found], view, found)


def doctor(ctx: Context, args: argparse.Namespace) -> Result:
    from ..doctor import checkup

    facts = checkup(
        ctx.settings.get("home"),
        registry_uri=ctx.settings.get("registry_uri"),
        artifacts_uri=ctx.settings.get("artifacts_uri"),
    )
    return Result("doctor", dict(facts), card("maas doctor", facts), facts)


def _declare_versions(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="model name")
    listing.add_listing_arguments(p)


def _declare_show(p: argparse.ArgumentParser) -> None:
    p.add_argument("uri", help="iris, iris:3 or iris@production")


def _declare_compare(p: argparse.ArgumentParser) -> None:
    p.add_argument("uris", nargs="+", metavar="URI", help="two or more: iris:1 iris@production")


def _declare_alias(p: argparse.ArgumentParser) -> None:
    p.add_argument("uri", help="the version: iris:3, iris@staging")
    p.add_argument("alias", help="the alias")
    p.add_argument("--gate", help="a notebook that must pass on the version (gets model_uri)")


def _declare_unalias(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", help="model name")
    p.add_argument("alias", help="the alias")


def _declare_delete(p: argparse.ArgumentParser) -> None:
    p.add_argument("uri", help="iris:3, iris@production, or iris with --yes")
    p.add_argument("--yes", action="store_true", help="confirm deleting a whole model")


def _declare_training_runs(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", help="only runs of this name")
    listing.add_listing_arguments(p)


COMMANDS = [
    Command("models", "list registered models", no_arguments, models),
    Command("versions", "list the versions of a model", _declare_versions, versions),
    Command("show", "show one version: metrics, signature, lineage", _declare_show, show),
    Command("compare", "two or more versions' metrics side by side", _declare_compare, compare),
    Command(
        "alias", "point an alias at a version (--gate NB: only if it passes)", _declare_alias, alias
    ),
    Command("unalias", "remove an alias", _declare_unalias, unalias),
    Command(
        "delete", "delete a version (iris:3) or a whole model (iris --yes)", _declare_delete, delete
    ),
    Command(
        "training-runs",
        "list training runs (%%maas train)",
        _declare_training_runs,
        training_runs,
    ),
    Command("doctor", "check the environment and explain what is wrong", no_arguments, doctor),
]
