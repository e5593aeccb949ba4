"""The ``maas`` command: the verbs of the command table (`maas_nb.commands`) from a shell.

Human-readable text by default, ``--json`` for scripts. A user mistake prints one line
on stderr and exits with status 1; a usage error exits with status 2.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from . import config
from .commands import COMMANDS, Context, Result, Table, add_store_options, store_options
from .commands.render import as_text
from .exceptions import ConfigurationError, MaasError
from .registry import Registry
from .serving.command import add_serve_arguments, run_serve

INPUT_EXAMPLE = "'[[5.1, 3.5, 1.4, 0.2]]' (JSON rows; @FILE.json, @FILE.csv, or - for stdin)"


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    add_store_options(common)
    common.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )
    parser = argparse.ArgumentParser(
        prog="maas", description="Model-as-a-Service from the shell.", parents=[common]
    )
    from .version import __version__

    parser.add_argument("--version", action="version", version=f"maas_nb {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    json_only = argparse.ArgumentParser(add_help=False)
    json_only.add_argument(
        "--json", action="store_true", default=argparse.SUPPRESS, help="print JSON for scripts"
    )

    def make(name: str, summary: str) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=summary, description=summary, parents=[json_only])

    for command in COMMANDS.values():
        p = command.parser(make)
        if command.takes_input:
            p.add_argument("input", nargs="?", help=f"the input: {INPUT_EXAMPLE}")
    serve = make("serve", "run the model server for this registry home")
    add_store_options(serve)
    add_serve_arguments(serve)
    return parser


def execute(argv: Sequence[str] | None = None) -> tuple[argparse.Namespace, Result | None]:
    """Parse *argv* and run its verb; the `Result` is what ``main`` prints (None for
    ``serve``, which runs until stopped)."""
    args = build_parser().parse_args(argv)
    args.json = getattr(args, "json", False)
    given = store_options(args)
    # The verbs that reopen the registry by home (deploy, delete, doctor) and the servers
    # they start then use the stores given here. $MAAS_HOME stays as it is: each verb is
    # given the home, which tests/test_cli_home.py holds them to.
    with config.environment(config.given_stores(given)):
        if args.command == "serve":
            run_serve(Registry(**given).home, args)
            return args, None
        ctx = Context(
            lambda: Registry(**given),
            "maas",
            read_input,
            INPUT_EXAMPLE,
            progress=not args.json,
            settings=given,
        )
        return args, COMMANDS[args.command].run(ctx, args)


def read_input(text: str) -> Any:
    """``maas predict NAME INPUT``: JSON rows (or an object of columns), ``@FILE.json``,
    ``@FILE.csv`` (a header row, then rows), or ``-`` for JSON on stdin."""
    import pandas as pd

    if text == "-":
        text = sys.stdin.read()
    elif text.startswith("@"):
        path = Path(text[1:])
        try:
            if path.suffix.lower() == ".csv":
                return pd.read_csv(path)
            text = path.read_text()
        except (OSError, ValueError) as exc:
            raise ConfigurationError(f"Cannot read the input file {str(path)!r}: {exc}") from None
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ConfigurationError(
            f"The input is not JSON ({exc.msg} at character {exc.pos}): {text[:80]!r}. "
            f"Give {INPUT_EXAMPLE}."
        ) from None
    if isinstance(value, dict):
        return pd.DataFrame(value)
    if not isinstance(value, list):
        raise ConfigurationError(
            f"The input must be a JSON list of rows or an object of columns, got "
            f"{type(value).__name__} {text[:80]!r}."
        )
    return value


def main(argv: Sequence[str] | None = None) -> int:
    try:
        args, result = execute(argv)
    except MaasError as exc:
        print(f"maas: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        return 130
    if result is None:
        return 0
    for note in result.notes:  # a port fallback, limits a running server keeps
        print(f"maas: note: {note}", file=sys.stderr)
    try:
        if args.json:
            print(json.dumps(result.data, indent=2, sort_keys=True))
            if isinstance(result.view, Table) and result.view.more:
                print(f"maas: note: {result.view.more}", file=sys.stderr)
        else:
            shown = as_text(result.view, detail=True, upper=True)
            if shown:
                print(shown)
        sys.stdout.flush()
    except BrokenPipeError:
        return _reader_gone()
    if result.error is not None:
        print(f"maas: error: {result.error}", file=sys.stderr)
        return 1
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
