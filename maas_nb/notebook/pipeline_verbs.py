"""The ``%maas`` verbs about runs: ``run`` and ``sweep`` notebooks, list pipeline runs
(``runs``, as ``maas runs``) and training runs (``training-runs``, as ``maas training-runs``)."""

from __future__ import annotations

import argparse
import html
from typing import Any

from IPython.core.error import UsageError

from ..api import registry
from . import display
from .parsing import Parser, Verb


def _run_parser() -> Parser:
    from ..pipelines.parameters import add_run_arguments

    p = Parser("run", "Run a notebook as a recorded pipeline (papermill, current Python).")
    add_run_arguments(p)
    return p


def run_pipeline(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    from ..pipelines.executor import failure, run_in_thread
    from ..pipelines.lineage import produced, version_uris
    from ..pipelines.parameters import parse_parameters

    record = run_in_thread(
        args.notebook, parse_parameters(args.parameter, args.file), name=args.name
    )
    if record.status == "failed":
        raise failure(record)
    fields = [
        ("notebook", record.notebook),
        ("parameters", ", ".join(f"{k}={v!r}" for k, v in sorted(record.parameters.items()))),
        ("status", record.status),
        ("registered", version_uris(produced(registry(), record.id)[1])),
    ]
    if magics.feedback >= 2:
        fields += [("id", record.id), ("duration", f"{record.duration_s:.2f} s")]
    return display.card(f"Pipeline run {record.name}", fields, value=record)


def _sweep_parser() -> Parser:
    from ..pipelines.parameters import add_sweep_arguments

    p = Parser("sweep", "Run a notebook over a parameter grid, in parallel processes.")
    add_sweep_arguments(p)
    return p


def run_sweep(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    from ..pipelines import sweep
    from ..pipelines.executor import run_in_thread
    from ..pipelines.parameters import parse_grid

    grid = parse_grid(args.parameter)
    return run_in_thread(
        lambda: sweep(
            args.notebook,
            grid,
            parallel=args.parallel,
            metric=args.best,
            alias_best=args.alias_best,
        )
    )


def _runs_parser(verb: str, description: str) -> Parser:
    p = Parser(verb, description)
    p.add_argument("name", nargs="?", help="only runs of this name")
    return p


def _pipeline_runs_parser() -> Parser:
    p = _runs_parser(
        "runs",
        "List pipeline runs; show one (show ID); write its executed notebook (export ID PATH).",
    )
    p.add_argument("id", nargs="?", help="for show and export: the run id (or 6+ characters)")
    p.add_argument("output", nargs="?", help="for export: where to write the .ipynb")
    return p


def run_runs(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    from ..pipelines import report
    from ..pipelines.lineage import version_uris, versions_by_pipeline_run

    reg = registry()
    if args.name in report.ACTIONS:  # %maas runs show ID, %maas runs export ID PATH
        record = report.find(reg, "%maas", args.name, args.id)
        if args.name == "show":
            return display.card(
                f"Pipeline run {record.name}", report.fields(reg, record), value=record
            )
        done = report.export(reg, "%maas", record, args.output)
        return display.Display(done, html.escape(done), record)
    if args.id is not None:
        raise UsageError(
            f"%maas runs takes one run name to list, got {args.name!r} and {args.id!r}. "
            "To show a run: %maas runs show ID; to export one: %maas runs export ID PATH."
        )
    runs = [r for r in reg.list_pipeline_runs() if args.name in (None, r.name)]
    made = versions_by_pipeline_run(reg)
    headers = ["name", "status", "parameters", "registered"]
    rows = []
    for r in runs:
        row = [
            r.name,
            r.status,
            display.params_text(r.parameters),
            version_uris(made.get(r.id, [])),
        ]
        if magics.feedback >= 2:
            row += [r.id, r.started_at.isoformat()]
        rows.append(row)
    headers += ["id", "started"] if magics.feedback >= 2 else []
    empty = "No pipeline runs. Run a notebook with: %maas run NOTEBOOK -p KEY VALUE"
    return display.table(headers, rows, empty=empty, value=runs)


def run_training_runs(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    return display.runs_table(registry().list_runs(args.name), verbose=magics.feedback)


VERBS: dict[str, Verb] = {
    "runs": Verb(
        "list pipeline runs and the versions they registered; runs show ID; runs export ID PATH",
        _pipeline_runs_parser,
        run_runs,
    ),
    "training-runs": Verb(
        "list training runs (%%maas train)",
        lambda: _runs_parser("training-runs", "List training runs."),
        run_training_runs,
    ),
    "run": Verb(
        "run a notebook as a recorded pipeline: %maas run NB -p KEY VALUE",
        _run_parser,
        run_pipeline,
    ),
    "sweep": Verb(
        "run a notebook over a grid: %maas sweep NB -p C 0.1,1 --best accuracy",
        _sweep_parser,
        run_sweep,
    ),
}
