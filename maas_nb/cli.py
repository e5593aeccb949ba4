"""The ``maas`` command: the registry's verbs from a shell.

Human-readable tables by default, ``--json`` for scripts. A user mistake prints one line
on stderr and exits with status 1; a usage error exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import config
from .deploying.commands import add_deploy_commands
from .exceptions import MaasError
from .pipelines import report
from .registry import Model, ModelVersion, PipelineRun, Registry, to_dict
from .serving.command import add_serve_command
from .tables import format_size, format_time, text_table


def cmd_models(reg: Registry, args: argparse.Namespace) -> Any:
    models = reg.list_models()
    if args.json:
        return [to_dict(m) for m in models]
    return text_table(
        ["NAME", "VERSIONS", "LATEST", "ALIASES", "DESCRIPTION"],
        [
            [m.name, m.version_count, m.latest_version or "-", _aliases(m), m.description]
            for m in models
        ],
        empty="No models registered. Register one with maas_nb.register(model, 'name').",
    )


def cmd_versions(reg: Registry, args: argparse.Namespace) -> Any:
    versions = reg.list_versions(args.name)
    if args.json:
        return [to_dict(v) for v in versions]
    return text_table(
        ["VERSION", "FLAVOR", "ALIASES", "SIZE", "METRICS", "CREATED"],
        [
            [
                v.version,
                v.flavor,
                ",".join(v.aliases),
                format_size(v.size),
                " ".join(f"{k}={val:.4g}" for k, val in sorted(v.metrics.items())),
                format_time(v.created_at),
            ]
            for v in versions
        ],
        empty=f"Model {args.name!r} has no versions.",
    )


def cmd_show(reg: Registry, args: argparse.Namespace) -> Any:
    from .pipelines.lineage import describe

    version = reg.get(args.uri)
    if args.json:
        return to_dict(version)
    return show_version(version, describe(reg, version))


def cmd_alias(reg: Registry, args: argparse.Namespace) -> Any:
    if args.gate:
        from .pipelines import promote

        version = promote(args.uri, args.alias, gate=args.gate, registry=reg)
    else:
        version = reg.set_alias(args.uri, args.alias)
    if args.json:
        return to_dict(version)
    return f"{version.name}@{args.alias} -> {version.uri}"


def cmd_unalias(reg: Registry, args: argparse.Namespace) -> Any:
    was = reg.remove_alias(args.name, args.alias)
    if args.json:
        return {"name": args.name, "alias": args.alias, "version": was}
    return f"Removed {args.name}@{args.alias} (was {args.name}:{was})"


def cmd_delete(reg: Registry, args: argparse.Namespace) -> Any:
    from .api import delete

    deleted = delete(args.uri, yes=args.yes, home=str(reg.home), command="maas delete")
    if args.json:
        return [to_dict(v) for v in deleted]
    return "\n".join(f"Deleted {v.uri}" for v in deleted) or f"Deleted model {args.uri!r}"


def cmd_run(reg: Registry, args: argparse.Namespace) -> Any:
    from .pipelines import run
    from .pipelines.parameters import parse_parameters

    parameters = parse_parameters(args.parameter, args.file)
    record = run(args.notebook, parameters, name=args.name, registry=reg)
    if args.json:
        return pipeline_run_dict(reg, record)
    text = show_pipeline_run(reg, record)
    if record.status == "failed":
        from .pipelines.executor import failure

        raise failure(record)
    return text


def cmd_runs(reg: Registry, args: argparse.Namespace) -> Any:
    from .pipelines.lineage import version_uris, versions_by_pipeline_run

    if args.action is None:
        runs = reg.list_pipeline_runs()
        made = versions_by_pipeline_run(reg)
        if args.json:
            return [pipeline_run_dict(reg, r, made.get(r.id, [])) for r in runs]
        return text_table(
            ["ID", "NAME", "STATUS", "PARAMETERS", "VERSIONS", "DURATION", "STARTED"],
            [
                [
                    r.id[:12],
                    r.name,
                    r.status,
                    json.dumps(dict(r.parameters), sort_keys=True),
                    version_uris(made.get(r.id, [])),
                    f"{r.duration_s:.1f} s" if r.duration_s is not None else "-",
                    format_time(r.started_at),
                ]
                for r in runs
            ],
            empty="No pipeline runs. Run a notebook with: maas run NOTEBOOK -p KEY VALUE",
        )
    record = report.find(reg, "maas", args.action, args.id)
    if args.action == "show":
        return pipeline_run_dict(reg, record) if args.json else show_pipeline_run(reg, record)
    return report.export(reg, "maas", record, args.output)


def cmd_training_runs(reg: Registry, args: argparse.Namespace) -> Any:
    runs = reg.list_runs(args.name)
    if args.json:
        return [to_dict(r) for r in runs]
    return text_table(
        ["ID", "NAME", "STATUS", "METRICS", "STARTED"],
        [
            [
                r.id[:12],
                r.name,
                r.status,
                " ".join(f"{k}={val:.4g}" for k, val in sorted(r.metrics.items())),
                format_time(r.started_at),
            ]
            for r in runs
        ],
        empty="No training runs. Record one in a notebook with: %%maas train NAME",
    )


def cmd_sweep(reg: Registry, args: argparse.Namespace) -> Any:
    from .pipelines import sweep
    from .pipelines.parameters import parse_grid

    result = sweep(
        args.notebook,
        parse_grid(args.parameter),
        parallel=args.parallel,
        metric=args.best,
        alias_best=args.alias_best,
        progress=not args.json,
        registry=reg,
    )
    if args.json:
        return json.loads(result.table.to_json(orient="records"))
    lines = [repr(result)]
    if result.best_version is not None and args.alias_best:
        lines.append(f"{result.best_version.name}@{args.alias_best} -> {result.best_version.uri}")
    return "\n".join(lines)


def cmd_rerun(reg: Registry, args: argparse.Namespace) -> Any:
    from .pipelines.rerun import rerun

    result = rerun(args.id, registry=reg)
    if args.json:
        return result.to_dict()
    return str(result)


def cmd_doctor(reg: Registry, args: argparse.Namespace) -> Any:
    from .doctor import checkup

    facts = checkup(str(reg.home))
    if args.json:
        return dict(facts)
    width = max(len(k) for k, _ in facts)
    return "\n".join(["maas doctor", *(f"  {k.ljust(width)}  {v}" for k, v in facts)])


def pipeline_run_dict(
    reg: Registry, r: PipelineRun, versions: list[ModelVersion] | None = None
) -> dict[str, Any]:
    """*r* as JSON, with the URIs of the versions it registered."""
    from .pipelines.lineage import produced

    made = produced(reg, r.id)[1] if versions is None else versions
    return {**to_dict(r), "versions": [v.uri for v in made]}


def show_pipeline_run(reg: Registry, r: PipelineRun) -> str:
    lines = report.fields(reg, r)
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k.ljust(width)}  {v}" for k, v in lines)


def show_version(v: ModelVersion, pipeline: Any = None) -> str:
    """A readable block describing one version."""
    from .registry import trust

    lines = [
        ("uri", v.uri),
        ("flavor", v.flavor),
        ("aliases", ", ".join(v.aliases) or "-"),
        ("created", format_time(v.created_at)),
        ("artifact", f"{v.digest} ({format_size(v.size)})"),
        ("description", v.description or "-"),
        ("signature", str(v.signature) if v.signature else "- (register with sample=X[:5])"),
        ("trust", trust.describe(v.trust, times=True) or "- (not recorded)"),
    ]
    lines += [(f"metric {k}", f"{val:.6g}") for k, val in sorted(v.metrics.items())]
    lines += [(f"param {k}", json.dumps(val)) for k, val in sorted(v.params.items())]
    lines += [(f"tag {k}", val) for k, val in sorted(v.tags.items())]
    lines += [(f"lineage {k}", json.dumps(val)) for k, val in sorted(v.lineage.items())]
    if v.run_id:
        lines.append(("run", v.run_id))
    if pipeline is not None:
        lines += [
            ("pipeline run", pipeline.id),
            ("pipeline name", pipeline.name),
            ("pipeline notebook", f"{pipeline.notebook} ({pipeline.notebook_digest})"),
            ("pipeline parameters", json.dumps(dict(pipeline.parameters), sort_keys=True)),
            ("executed notebook", pipeline.output_digest or "-"),
        ]
        if pipeline.rerun_of:
            lines.append(("pipeline rerun of", pipeline.rerun_of))
    width = max(len(k) for k, _ in lines)
    return "\n".join(f"{k.ljust(width)}  {val}" for k, val in lines)


def _aliases(model: Model) -> str:
    return ", ".join(f"{a}->{v}" for a, v in sorted(model.aliases.items()))


def build_parser() -> argparse.ArgumentParser:
    from .pipelines.parameters import add_run_arguments, add_sweep_arguments

    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--home", default=argparse.SUPPRESS, help="registry home (default: $MAAS_HOME or ~/.maas)"
    )
    common.add_argument(
        "--registry-uri",
        default=argparse.SUPPRESS,
        metavar="URI",
        help="metadata store (default: $MAAS_REGISTRY_URI, else sqlite:///HOME/registry.db)",
    )
    common.add_argument(
        "--artifacts-uri",
        default=argparse.SUPPRESS,
        metavar="URI",
        help="artifact store (default: $MAAS_ARTIFACTS_URI, else file://HOME/artifacts)",
    )
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    parser = argparse.ArgumentParser(
        prog="maas", description="Model-as-a-Service from the shell.", parents=[common]
    )
    from .version import __version__

    parser.add_argument("--version", action="version", version=f"maas_nb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    def add(name: str, func: Callable, help: str) -> argparse.ArgumentParser:
        p = sub.add_parser(name, help=help, description=help, parents=[common])
        p.set_defaults(func=func)
        return p

    add("models", cmd_models, "list registered models")
    add("versions", cmd_versions, "list the versions of a model").add_argument("name")
    add("show", cmd_show, "show one version: metrics, signature, lineage").add_argument(
        "uri", help="iris, iris:3 or iris@production"
    )
    p = add("alias", cmd_alias, "point an alias at a version")
    p.add_argument("uri")
    p.add_argument("alias")
    p.add_argument("--gate", help="a notebook that must pass on the version (gets model_uri)")
    p = add("unalias", cmd_unalias, "remove an alias")
    p.add_argument("name")
    p.add_argument("alias")
    p = add("delete", cmd_delete, "delete a version (iris:3) or a whole model (iris --yes)")
    p.add_argument("uri")
    p.add_argument("--yes", action="store_true", help="confirm deleting a whole model")

    add_serve_command(add)
    add_deploy_commands(add)
    add_run_arguments(add("run", cmd_run, "run a notebook as a recorded pipeline (papermill)"))
    p = add("runs", cmd_runs, "list pipeline runs; show one; export its executed notebook")
    p.add_argument("action", nargs="?", choices=report.ACTIONS)
    p.add_argument("id", nargs="?")
    p.add_argument("output", nargs="?", help="for export: where to write the .ipynb")
    p = add("training-runs", cmd_training_runs, "list training runs (%%maas train)")
    p.add_argument("name", nargs="?", help="only runs of this name")
    add_sweep_arguments(
        add("sweep", cmd_sweep, "run a notebook over a parameter grid, in parallel")
    )
    add("doctor", cmd_doctor, "check the environment and explain what is wrong")
    p = add("rerun", cmd_rerun, "run a recorded pipeline again and compare its metrics")
    p.add_argument("id")
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    args.json = getattr(args, "json", False)
    try:
        reg = Registry(
            getattr(args, "home", None),
            registry_uri=getattr(args, "registry_uri", None),
            artifacts_uri=getattr(args, "artifacts_uri", None),
        )
        # The verbs that reopen the registry by home (deploy, delete, doctor) and the
        # servers they start then use the stores given here. $MAAS_HOME stays as it is:
        # each verb is given the home, which tests/test_cli_home.py holds them to.
        stores = {k: v for k, v in reg.environment().items() if k != config.HOME_ENV}
        with config.environment(stores):
            result = args.func(reg, args)
    except MaasError as exc:
        print(f"maas: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    try:
        if args.json:
            print(json.dumps(result, indent=2, sort_keys=True))
        elif result:
            print(result)
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    return 0


def _reader_gone() -> int:
    """``maas runs | head``: the reader closed the pipe. Stop quietly with the status a
    shell tool killed by SIGPIPE has; stdout goes to devnull so that Python's own flush
    at exit does not raise the same error again."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141


if __name__ == "__main__":
    sys.exit(main())
