"""``%maas`` and ``%%maas``: the train -> register -> deploy -> predict loop in a notebook.

A thin layer: the verbs of the command table (`maas_nb.commands`, shared with the
``maas`` command) plus the few only a kernel can have (`verbs`). Configure with
``%config MaasMagics.home = "..."``, ``.port`` and ``.feedback``; every verb also takes
``--home``, ``--registry-uri`` and ``--artifacts-uri`` for one call.
"""

from __future__ import annotations

import argparse
import functools
import os
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Int, Unicode, observe
from traitlets.config import Configurable

from .. import commands, config
from ..commands import Command, Context, Result, store_options
from . import display, verbs
from .display import Display, table
from .parsing import HelpRequested, Parser, split, split_expression

INPUT_EXAMPLE = "X_test[:5] (any Python expression, no quotes needed)"


def verb_summaries() -> dict[str, str]:
    """Every ``%maas`` verb and what it does: the command table's and the notebook's own."""
    return {
        **{name: c.summary for name, c in commands.COMMANDS.items()},
        **{name: v.summary for name, v in verbs.VERBS.items()},
    }


@magics_class
class MaasMagics(Magics, Configurable):
    """Train, register, deploy and call models from notebook cells."""

    home = Unicode(
        None, allow_none=True, config=True, help="Registry home (default $MAAS_HOME, else ~/.maas)."
    )
    port = Int(
        None,
        allow_none=True,
        config=True,
        help="Port for a server started by deploy (default 8765).",
    )
    feedback = Int(1, config=True, help="0 quiet, 1 normal, 2 verbose (adds ids and timestamps).")

    def __init__(self, shell: Any = None, **kwargs: Any) -> None:
        Configurable.__init__(self, config=shell.config if shell is not None else None)
        Magics.__init__(self, shell=shell, **kwargs)
        shell.configurables.append(self)
        self.last_result: Result | None = None

    @observe("home")
    def _home_changed(self, change: dict) -> None:
        _set_env(config.HOME_ENV, change["new"])

    @observe("port")
    def _port_changed(self, change: dict) -> None:
        _set_env("MAAS_PORT", None if change["new"] is None else str(change["new"]))

    @line_cell_magic
    def maas(self, line: str, cell: str | None = None) -> Any:
        """Run a maas verb; ``%maas help`` lists them."""
        words = line.split(None, 1)
        if not words or words[0] == "help":
            return help_display()
        name, tail = words[0], words[1] if len(words) > 1 else ""
        command = commands.COMMANDS.get(name)
        verb = verbs.VERBS.get(name)
        if command is None and verb is None:
            known = ", ".join(sorted(verb_summaries()))
            raise UsageError(f"Unknown verb {name!r}. Known verbs: {known}. See %maas help.")
        if cell is not None and (verb is None or not verb.cell):
            raise UsageError(f"'{name}' is a line magic: use %maas {name} ..., not %%maas.")
        if cell is None and verb is not None and verb.cell_only:
            raise UsageError(
                f"'{name}' runs a cell: write %%maas {name} ... on the first line of a cell."
            )
        parser = command.parser(Parser) if command is not None else verb.parser()  # type: ignore[union-attr]
        assert isinstance(parser, Parser)
        try:
            if command is not None and command.takes_input:
                head, expression = split_expression(tail, parser)
                args = parser.parse(head)
                args.input = expression
            else:
                # Split the whole line, so that a quoting error quotes what the user wrote.
                args = parser.parse(split(line)[1:])
        except HelpRequested as shown:
            return Display(str(shown), f"<pre>{shown}</pre>")
        with self._stores(args) as reg:
            if command is not None:
                return self._run_command(command, reg, args)
            result = verb.run(self, args, cell)  # type: ignore[union-attr]
        return None if self.feedback == 0 and not verb.returns_value else result  # type: ignore[union-attr]

    def _run_command(self, command: Command, reg: Any, args: argparse.Namespace) -> Any:
        from ..pipelines.executor import run_in_thread

        ctx = Context(
            reg,
            "%maas",
            lambda expression: self.evaluate(expression, what="The input expression"),
            INPUT_EXAMPLE,
            usage=UsageError,
            blocking=run_in_thread,
            settings=store_options(args),
        )
        result = self.last_result = command.run(ctx, args)
        for note in result.notes:
            warnings.warn(note, stacklevel=2)
        if result.error is not None:
            raise result.error
        if result.returns_value:
            return result.value
        return None if self.feedback == 0 else display.result(result, verbose=self.feedback)

    @contextmanager
    def _stores(self, args: argparse.Namespace) -> Iterator[Any]:
        """The registry this call uses: ``--home``/``--registry-uri``/``--artifacts-uri``
        if given (for this call only, the Python API inside it included), else the
        configured one."""
        from ..api import registry

        given = {k: v for k, v in store_options(args).items() if v is not None}
        if not given:
            yield registry
            return
        settings = config.given_stores(given)
        if "home" in given:
            settings[config.HOME_ENV] = str(config.home_dir(given["home"]))
        with config.environment(settings):
            yield functools.partial(registry, **given)

    @property
    def namespace(self) -> dict[str, Any]:
        assert self.shell is not None
        return self.shell.user_ns

    def evaluate(self, expression: str, *, what: str) -> Any:
        """Evaluate *expression* in the user namespace; a NameError becomes a UsageError."""
        try:
            return eval(expression, self.namespace)  # noqa: S307 - the user's own notebook code
        except NameError as exc:
            raise UsageError(f"{what}: {exc}. Define it in an earlier cell.") from None
        except SyntaxError as exc:
            raise UsageError(
                f"{what}: {expression!r} is not a Python expression ({exc.msg})."
            ) from None


def help_display() -> Display:
    rows = [[name, summary] for name, summary in sorted(verb_summaries().items())]
    shown = table(["verb", "what it does"], rows, empty="")
    footer = "Run %maas VERB --help for a verb's options."
    return Display(f"{shown.text}\n{footer}", f"{shown.html}<p>{footer}</p>")


def _set_env(key: str, value: str | None) -> None:
    if value is None:
        os.environ.pop(key, None)
    else:
        os.environ[key] = value


def load_ipython_extension(ipython: Any) -> None:
    """``%load_ext maas_nb``: register ``%maas`` / ``%%maas``."""
    ipython.register_magics(MaasMagics(ipython))
