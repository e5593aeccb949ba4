"""The ``%maas`` verbs only a notebook has: ``%%maas train``, ``register`` and ``ui``.

They need the kernel (its cell, its variables); every other verb is the command table's
(`maas_nb.commands`), shared with the ``maas`` command.
"""

from __future__ import annotations

import argparse
from typing import Any

import maas_nb

from ..commands import add_store_options
from . import display, train_cell
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
    add_store_options(p)
    return p


def _register_parser() -> Parser:
    p = Parser("register", "Register a fitted model held in a variable.")
    p.add_argument("var", help="the variable holding the model")
    p.add_argument("name", help="model name")
    p.add_argument("--alias")
    p.add_argument("--sample", help="expression for a few input rows, e.g. X_train[:5]")
    p.add_argument(
        "--reference", help="expression for the training rows whose statistics drift uses, X_train"
    )
    p.add_argument("--metric", action="append", metavar="KEY=VALUE", help="a metric (repeatable)")
    p.add_argument("--description")
    add_store_options(p)
    return p


def _ui_parser() -> Parser:
    p = Parser("ui", "Show the ipywidgets control panel.")
    add_store_options(p)
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
    reference = magics.evaluate(args.reference, what="--reference") if args.reference else None
    version = maas_nb.register(
        model,
        args.name,
        sample=sample,
        reference=reference,
        metrics=key_values(args.metric, option="--metric"),
        alias=args.alias,
        description=args.description,
    )
    return display.version_card(version, verbose=magics.feedback)


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
    "ui": Verb(
        "the control panel: models, deploy, predict, monitor, experiments, runs",
        _ui_parser,
        run_ui,
        returns_value=True,
    ),
}
