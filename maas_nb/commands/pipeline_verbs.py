"""The verbs about pipeline runs: run, runs (list, show, export), sweep, rerun."""

from __future__ import annotations

import argparse
import json

from ..exceptions import PipelineError
from ..registry import ModelVersion, PipelineRun, Registry, to_dict
from ..tables import format_time, params_text
from . import listing
from .cards import pipeline_run_card
from .command import Command, Context
from .result import Column, Field, Result, Text, card, table


def run(ctx: Context, args: argparse.Namespace) -> Result:
    from ..pipelines import run as run_notebook
    from ..pipelines.executor import failure
    from ..pipelines.parameters import parse_parameters

    parameters = parse_parameters(args.parameter, args.file)
    reg = ctx.registry
    record = ctx.blocking(
        lambda: run_notebook(args.notebook, parameters, name=args.name, registry=reg)
    )
    error = failure(record) if record.status == "failed" else None
    return Result(
        "run", pipeline_run_dict(reg, record), pipeline_run_card(reg, record), record, error=error
    )


def runs(ctx: Context, args: argparse.Namespace) -> Result:
    """``runs [NAME]`` lists; ``runs show ID`` shows one; ``runs export ID PATH`` writes its
    executed notebook."""
    from ..pipelines import report
    from ..pipelines.lineage import version_uris

    reg = ctx.registry
    if args.name in report.ACTIONS:
        record = report.find(reg, ctx.prog, args.name, args.id)
        if args.name == "show":
            return Result(
                "runs", pipeline_run_dict(reg, record), pipeline_run_card(reg, record), record
            )
        done = report.export(reg, ctx.prog, record, args.output)
        return Result("runs", {"exported": record.id, "path": args.output}, Text(done), record)
    if args.id is not None:
        raise ctx.usage(
            f"{ctx.prog} runs takes one run name to list, got {args.name!r} and {args.id!r}. "
            f"To show a run: {ctx.says('runs show ID')}; to export one: "
            f"{ctx.says('runs export ID PATH')}."
        )
    found = reg.list_pipeline_runs(args.name, **listing.filters(args))
    made = reg.versions_made_by(r.id for r in found)
    rows = [
        [
            r.id[:12],
            r.name,
            r.status,
            params_text(r.parameters) or "-",
            version_uris(made.get(r.id, [])),
            r.created_by or "-",
            f"{r.duration_s:.1f} s" if r.duration_s is not None else "-",
            format_time(r.started_at),
        ]
        for r in found
    ]
    columns: list[str | Column] = [
        Column("id", detail=True),
        "name",
        "status",
        "parameters",
        "registered",
        "by",
        Column("duration", detail=True),
        Column("started", detail=True),
    ]
    empty = f"No pipeline runs. Run a notebook with: {ctx.says('run NOTEBOOK -p KEY VALUE')}"
    if listing.matching(args) or args.name:
        empty = f"No pipeline runs{f' named {args.name!r}' if args.name else ''}"
        empty += f"{listing.matching(args)}."
    words = ["runs", *([args.name] if args.name else [])]
    view = table(columns, rows, empty=empty, more=listing.more(ctx, found, words, args))
    data = [pipeline_run_dict(reg, r, made.get(r.id, [])) for r in found]
    return Result("runs", data, view, found)


def sweep(ctx: Context, args: argparse.Namespace) -> Result:
    from ..pipelines import sweep as sweep_notebook
    from ..pipelines.parameters import parse_grid

    grid = parse_grid(args.parameter)
    reg = ctx.registry
    result = ctx.blocking(
        lambda: sweep_notebook(
            args.notebook,
            grid,
            parallel=args.parallel,
            metric=args.best,
            alias_best=args.alias_best,
            progress=ctx.progress,
            registry=reg,
            executor=args.executor,
        )
    )
    text = repr(result)
    if result.best_version is not None and args.alias_best:
        text += f"\n{result.best_version.name}@{args.alias_best} -> {result.best_version.uri}"
    view = Text(text, result._repr_html_())
    return Result("sweep", json.loads(result.table.to_json(orient="records")), view, result)


def rerun(ctx: Context, args: argparse.Namespace) -> Result:
    from ..pipelines.rerun import rerun as rerun_run

    reg = ctx.registry
    result = ctx.blocking(lambda: rerun_run(args.id, registry=reg))
    error = None
    if not result.matches:
        # A rerun is a reproducibility check: a script must be able to tell it failed.
        error = PipelineError(
            f"Run {result.rerun.id[:12]} did not reproduce the metrics of run "
            f"{result.original.id[:12]} (the metrics are above); see each run with: "
            f"{ctx.says('runs show ' + result.rerun.id[:12])} and "
            f"{ctx.says('runs show ' + result.original.id[:12])}"
        )
    view = card(
        f"Rerun of {result.original.notebook}",
        [
            ("metrics", "match" if result.matches else "DIFFER"),
            ("status", result.rerun.status),
            Field("run", result.rerun.id, detail=True),
            Field("rerun of", result.original.id, detail=True),
            *(
                (f"metric {k}", f"{result.before.get(k)} -> {result.after.get(k)}")
                for k in sorted(result.before.keys() | result.after.keys())
            ),
        ],
    )
    return Result("rerun", result.to_dict(), view, result, error=error)


def pipeline_run_dict(
    reg: Registry, r: PipelineRun, versions: list[ModelVersion] | None = None
) -> dict[str, object]:
    """*r* as JSON, with the URIs of the versions it registered."""
    from ..pipelines.lineage import produced

    made = produced(reg, r.id)[1] if versions is None else versions
    return {**to_dict(r), "versions": [v.uri for v in made]}


def _declare_run(p: argparse.ArgumentParser) -> None:
    from ..pipelines.parameters import add_run_arguments

    add_run_arguments(p)


def _declare_runs(p: argparse.ArgumentParser) -> None:
    p.add_argument("name", nargs="?", metavar="NAME|show|export", help="only runs of this name")
    p.add_argument("id", nargs="?", help="for show and export: the run id (or 6+ characters)")
    p.add_argument("output", nargs="?", help="for export: where to write the .ipynb")
    listing.add_listing_arguments(p, metric=False)


def _declare_sweep(p: argparse.ArgumentParser) -> None:
    from ..pipelines.parameters import add_sweep_arguments

    add_sweep_arguments(p)


def _declare_rerun(p: argparse.ArgumentParser) -> None:
    p.add_argument("id", help="the pipeline run to repeat (or 6+ characters of its id)")


COMMANDS = [
    Command(
        "run",
        "run a notebook as a recorded pipeline (papermill): run NB -p KEY VALUE",
        _declare_run,
        run,
    ),
    Command(
        "runs",
        "list pipeline runs and the versions they registered; runs show ID; runs export ID PATH",
        _declare_runs,
        runs,
    ),
    Command(
        "sweep",
        "run a notebook over a parameter grid, in parallel: sweep NB -p C 0.1,1 --best accuracy",
        _declare_sweep,
        sweep,
    ),
    Command(
        "rerun", "run a recorded pipeline again and compare its metrics", _declare_rerun, rerun
    ),
]
