"""``%maas`` and ``%%maas``: the train -> register -> deploy -> predict loop in a notebook.

A thin layer: each verb parses its arguments, calls the Python API, and returns a
`Display`. Configure with ``%config MaasMagics.home = "..."``, ``.port`` and ``.feedback``.
"""

from __future__ import annotations

import os
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class
from traitlets import Int, Unicode, observe
from traitlets.config import Configurable

from . import verbs
from .display import Display, table
from .parsing import HelpRequested, split, split_expression

HELP = {name: verb.summary for name, verb in verbs.VERBS.items()}


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

    @observe("home")
    def _home_changed(self, change: dict) -> None:
        _set_env("MAAS_HOME", change["new"])

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
        verb = verbs.VERBS.get(name)
        if verb is None:
            raise UsageError(
                f"Unknown verb {name!r}. Known verbs: {', '.join(sorted(verbs.VERBS))}. "
                "See %maas help."
            )
        if cell is not None and not verb.cell:
            raise UsageError(f"'{name}' is a line magic: use %maas {name} ..., not %%maas.")
        if cell is None and verb.cell_only:
            raise UsageError(
                f"'{name}' runs a cell: write %%maas {name} ... on the first line of a cell."
            )
        parser = verb.parser()
        # Split the whole line, so that a quoting error quotes what the user wrote.
        head, expression = split_expression(tail) if verb.expression else (split(line)[1:], None)
        try:
            args = parser.parse(head)
        except HelpRequested as shown:
            return Display(str(shown), f"<pre>{shown}</pre>")
        if verb.expression:
            args.expr = expression
        result = verb.run(self, args, cell)
        return None if self.feedback == 0 and not verb.returns_value else result

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
    rows = [[name, summary] for name, summary in sorted(HELP.items())]
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
