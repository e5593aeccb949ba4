"""A verb defined once: its arguments, and the function that runs it into a `Result`.

Both front ends build their parsers from the same declarations (`Command.parser`) and
call the same `Command.run`; only the rendering and three front-end facts differ, which
the `Context` carries: how the front end spells itself in hints (``maas`` or
``%maas``), how an input value is read (a Python expression in a notebook, JSON in a
shell) and how a blocking pipeline is run (on a thread of its own in a kernel).
"""

from __future__ import annotations

import argparse
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any

from ..exceptions import ConfigurationError
from ..registry import Registry
from .result import Result


@dataclass
class Context:
    # Opens the registry on first use (`registry`), so that a verb that diagnoses the
    # stores (doctor, registry upgrade) runs when they cannot be opened.
    opener: Callable[[], Registry]
    prog: str  # "maas" or "%maas"
    read_input: Callable[[str], Any]
    # What an input looks like on this front end, for the hint when it is missing.
    input_example: str
    # The error a usage mistake raises: IPython's UsageError in a notebook.
    usage: Callable[[str], Exception] = ConfigurationError
    blocking: Callable[[Callable[[], Any]], Any] = field(default=lambda call: call())
    progress: bool = True  # sweeps draw a progress bar
    # The store options as the user gave them (`store_options`), None where not given.
    settings: dict[str, str | None] = field(default_factory=dict)

    @cached_property
    def registry(self) -> Registry:
        return self.opener()

    @property
    def home(self) -> str:
        return str(self.registry.home)

    def says(self, words: str) -> str:
        """How this front end writes the command *words* (``runs show ID``)."""
        return f"{self.prog} {words}"


@dataclass(frozen=True)
class Command:
    name: str
    summary: str
    declare: Callable[[argparse.ArgumentParser], None]
    run: Callable[[Context, argparse.Namespace], Result]
    # The verb ends in an input value, which arrives as ``args.input``: in a notebook the
    # rest of the line, unsplit, is a Python expression; in a shell one JSON argument.
    takes_input: bool = False

    def parser(self, make: Callable[..., argparse.ArgumentParser]) -> argparse.ArgumentParser:
        """The verb's parser, made by the front end's *make(prog_name, description)*."""
        p = make(self.name, self.summary)
        self.declare(p)
        add_store_options(p)
        return p


def no_arguments(p: argparse.ArgumentParser) -> None:
    """The declaration of a verb without arguments."""


def add_store_options(p: argparse.ArgumentParser) -> None:
    """``--home``, ``--registry-uri`` and ``--artifacts-uri`` (also ``--registry`` and
    ``--artifacts``): every verb, both front ends.

    SUPPRESS keeps an option given before the verb (``maas --home X models``) from being
    reset by the verb's own default.
    """
    p.add_argument(
        "--home", default=argparse.SUPPRESS, help="registry home (default: $MAAS_HOME or ~/.maas)"
    )
    p.add_argument(
        "--registry-uri",
        "--registry",
        dest="registry_uri",
        default=argparse.SUPPRESS,
        metavar="URI",
        help="metadata store (default: $MAAS_REGISTRY_URI, else sqlite:///HOME/registry.db)",
    )
    p.add_argument(
        "--artifacts-uri",
        "--artifacts",
        dest="artifacts_uri",
        default=argparse.SUPPRESS,
        metavar="URI",
        help="artifact store (default: $MAAS_ARTIFACTS_URI, else file://HOME/artifacts)",
    )


def store_options(args: argparse.Namespace) -> dict[str, str | None]:
    """The store options given in *args*, as keywords of `Registry`."""
    return {
        "home": getattr(args, "home", None),
        "registry_uri": getattr(args, "registry_uri", None),
        "artifacts_uri": getattr(args, "artifacts_uri", None),
    }
