"""The ``%maas`` verbs: each parses its arguments, calls the Python API, returns a Display."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from IPython.core.error import UsageError

import maas_nb

from ..api import registry
from ..deploying import deploy, deployments, get_deployment, undeploy
from ..deploying.batching import add_arguments as add_batching_arguments
from . import display, pipeline_verbs, train_cell
from .parsing import Parser, Verb, key_values


def _train_parser() -> Parser:
    p = Parser(
        "train", "Run the cell, find the fitted model, record a run; --register makes a version."
    )
    p.add_argument("name", help="model (and run) name")
    p.add_argument("--register", action="store_true", help="register the model as a new version")
    p.add_argument("--alias", help="alias to point at the new version (implies --register)")
    p.add_argument(
        "--model", help="the variable holding the model (default: the one the cell fitted)"
    )
    p.add_argument(
        "--eval", nargs=2, metavar=("X_TEST", "Y_TEST"), help="held-out data for metrics"
    )
    return p


def _register_parser() -> Parser:
    p = Parser("register", "Register a fitted model held in a variable.")
    p.add_argument("var", help="the variable holding the model")
    p.add_argument("name", help="model name")
    p.add_argument("--alias")
    p.add_argument("--sample", help="expression for a few input rows, e.g. X_train[:5]")
    p.add_argument("--metric", action="append", metavar="KEY=VALUE", help="a metric (repeatable)")
    p.add_argument("--description")
    return p


def _simple(verb: str, description: str, *args: tuple[str, str]) -> Callable[[], Parser]:
    def build() -> Parser:
        p = Parser(verb, description)
        for name, help_ in args:
            if name.startswith("["):
                p.add_argument(name.strip("[]"), nargs="?", help=help_)
            else:
                p.add_argument(name, help=help_)
        return p

    return build


def _deploy_parser() -> Parser:
    p = Parser(
        "deploy", "Serve a model version or alias over HTTP (starts a local server if needed)."
    )
    p.add_argument("uri", help="iris, iris:3 or iris@production")
    p.add_argument("--name", help="deployment name (default: the model name)")
    add_batching_arguments(p)
    p.add_argument(
        "--workers",
        type=int,
        default=None,
        metavar="N",
        help="server processes of the server deploy starts, if none runs (default 1)",
    )
    return p


def run_train(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    assert cell is not None
    result = train_cell.train_cell(
        magics.shell,
        cell,
        args.name,
        register=args.register or args.alias is not None,
        alias=args.alias,
        model_var=args.model,
        eval_exprs=args.eval,
        magics=magics,
    )
    return train_cell.result_card(result, verbose=magics.feedback)


def run_register(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    model = magics.evaluate(args.var, what="The model variable")
    sample = magics.evaluate(args.sample, what="--sample") if args.sample else None
    version = maas_nb.register(
        model,
        args.name,
        sample=sample,
        metrics=key_values(args.metric, option="--metric"),
        alias=args.alias,
        description=args.description,
    )
    return display.version_card(version, verbose=magics.feedback)


def run_models(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    return display.models_table(maas_nb.list_models())


def run_versions(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    return display.versions_table(maas_nb.list_versions(args.name))


def run_show(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    from ..pipelines.lineage import describe

    version = maas_nb.get(args.uri)
    pipeline = describe(registry(), version)
    return display.version_card(version, verbose=magics.feedback, pipeline=pipeline)


def _alias_parser() -> Parser:
    p = Parser("alias", "Point an alias at a version.")
    p.add_argument("uri", help="the version")
    p.add_argument("alias", help="the alias")
    p.add_argument("--gate", help="a notebook that must pass on the version (gets model_uri)")
    return p


def run_alias(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    if args.gate:
        from ..pipelines import promote
        from ..pipelines.executor import run_in_thread

        version = run_in_thread(lambda: promote(args.uri, args.alias, gate=args.gate))
    else:
        version = maas_nb.set_alias(args.uri, args.alias)
    return display.Display(
        f"{version.name}@{args.alias} -> {version.uri}",
        f"<code>{version.name}@{args.alias}</code> &rarr; <code>{version.uri}</code>",
        version,
    )


def run_unalias(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    was = maas_nb.remove_alias(args.name, args.alias)
    return display.Display(
        f"Removed {args.name}@{args.alias} (was {args.name}:{was})",
        f"Removed <code>{args.name}@{args.alias}</code>",
        was,
    )


def _delete_parser() -> Parser:
    p = Parser("delete", "Delete a version (iris:3), or a whole model (iris --yes).")
    p.add_argument("uri", help="iris:3, iris@production, or iris with --yes")
    p.add_argument("--yes", action="store_true", help="confirm deleting a whole model")
    return p


def run_delete(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    from ..api import delete

    deleted = delete(args.uri, yes=args.yes, command="%maas delete")
    text = "\n".join(f"Deleted {v.uri}" for v in deleted)
    return display.Display(
        text, "<br>".join(f"Deleted <code>{v.uri}</code>" for v in deleted), deleted
    )


def run_deploy(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    dep = deploy(
        args.uri,
        name=args.name,
        max_batch_size=args.max_batch_size,
        max_latency_ms=args.max_latency_ms,
        max_queue_rows=args.max_queue_rows,
        workers=args.workers,
    )
    return deployment_card(dep, verbose=magics.feedback)


def deployment_card(dep: Any, *, verbose: int) -> display.Display:
    info = dep.describe()
    # The URL is the one port in a text form: a caller needs it, and it is not always
    # 8765 (the server takes a free port when that one is taken).
    fields = [
        ("target", dep.target),
        ("version", info.get("version")),
        ("status", info.get("status")),
        ("url", dep.url if dep.server else None),
    ]
    if verbose >= 2:
        fields += [("curl", dep.curl())]
    shown = display.card(f"Deployment {dep.name}", fields, value=dep)
    return display.Display(shown.text, shown.html + dep._repr_html_(), dep)


def run_deployments(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    rows = []
    for dep in deployments():
        info = dep.describe()
        rows.append(
            [dep.name, dep.target, info.get("version") or "-", info.get("status", "stopped")]
        )
    return display.table(["name", "target", "version", "status"], rows, empty="No deployments.")


def run_undeploy(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    record = undeploy(args.name)
    return display.Display(
        f"Undeployed {record.name} ({record.target})",
        f"Undeployed <code>{record.name}</code>",
        record,
    )


def run_predict(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    if not args.expr:
        raise UsageError(
            f"%maas predict {args.name} needs an input after the deployment name: "
            f"%maas predict {args.name} X_test[:5] (any Python expression, no quotes needed)."
        )
    X = magics.evaluate(args.expr, what="The input expression")
    return get_deployment(args.name).predict(X)


def run_doctor(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    from ..doctor import checkup

    return display.card("maas doctor", checkup())


def run_ui(magics: Any, args: argparse.Namespace, cell: str | None) -> Any:
    from .ui import ui

    return ui()


VERBS: dict[str, Verb] = {
    "train": Verb(
        "%%maas train NAME: run the cell, record a run, optionally register",
        _train_parser,
        run_train,
        cell=True,
        cell_only=True,
    ),
    "register": Verb("register a fitted model held in a variable", _register_parser, run_register),
    "models": Verb(
        "list registered models", _simple("models", "List registered models."), run_models
    ),
    "versions": Verb(
        "list the versions of a model",
        _simple("versions", "List the versions of a model.", ("name", "model name")),
        run_versions,
    ),
    "show": Verb(
        "show a version: metrics, signature, lineage",
        _simple("show", "Show one version.", ("uri", "iris, iris:3 or iris@production")),
        run_show,
    ),
    "alias": Verb(
        "point an alias at a version (--gate NB: only if it passes)", _alias_parser, run_alias
    ),
    "unalias": Verb(
        "remove an alias",
        _simple("unalias", "Remove an alias.", ("name", "model name"), ("alias", "the alias")),
        run_unalias,
    ),
    "delete": Verb("delete a version, or a whole model with --yes", _delete_parser, run_delete),
    "deploy": Verb("serve a version or alias over HTTP", _deploy_parser, run_deploy),
    "deployments": Verb(
        "list deployments and their status",
        _simple("deployments", "List deployments."),
        run_deployments,
    ),
    "undeploy": Verb(
        "stop serving a deployment",
        _simple("undeploy", "Stop serving a deployment.", ("name", "deployment name")),
        run_undeploy,
    ),
    "predict": Verb(
        "predict over HTTP: %maas predict NAME EXPR",
        _simple(
            "predict",
            "Call a deployment with the value of EXPR.",
            ("name", "deployment name"),
        ),
        run_predict,
        returns_value=True,
        expression=True,
    ),
    "ui": Verb(
        "the control panel: models, deploy, predict, monitor, runs",
        _simple("ui", "Show the ipywidgets control panel."),
        run_ui,
        returns_value=True,
    ),
    "doctor": Verb(
        "check the environment and explain what is wrong",
        _simple("doctor", "Check the environment."),
        run_doctor,
        returns_value=True,
    ),
    **pipeline_verbs.VERBS,
}
