"""Argument parsing for ``%maas`` verbs: argparse that raises IPython's UsageError.

IPython expands ``$name`` and ``{expression}`` in the magic's line before we see it, so
``%maas deploy {uri} --name $name`` works with the values of ``uri`` and ``name``; write
``$$`` or ``{{ }}`` for a literal ``$`` or braces. The expanded line is split like a shell
line (``shlex``): quote values that contain spaces. Option values that are Python
literals (numbers, strings, lists) are read with ``ast.literal_eval``. A verb that ends
in an expression (``%maas predict NAME EXPR``) takes the rest of the line after its
options and name as that expression, unsplit: ``X[:3, :2]`` needs no quotes.
"""

from __future__ import annotations

import argparse
import ast
import shlex
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NoReturn

from IPython.core.error import UsageError


@dataclass(frozen=True)
class Verb:
    """One ``%maas`` verb: its help line, its parser, and the function that runs it."""

    summary: str
    parser: Callable[[], Parser]
    run: Callable[[Any, argparse.Namespace, str | None], Any]
    cell: bool = False
    cell_only: bool = False
    returns_value: bool = False


class HelpRequested(Exception):
    """``--help`` was given: the message is the verb's help text."""


class Parser(argparse.ArgumentParser):
    def __init__(self, verb: str, description: str, **kwargs: Any) -> None:
        super().__init__(prog=f"%maas {verb}", description=description, add_help=False, **kwargs)
        self.add_argument("-h", "--help", action="store_true", help="show this help")

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.format_usage().strip()}\n{self.prog}: error: {message}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        raise UsageError(message or self.format_usage())

    def parse(self, argv: list[str]) -> argparse.Namespace:
        if "-h" in argv or "--help" in argv:
            raise HelpRequested(self.format_help())
        return self.parse_args(argv)


def split(line: str) -> list[str]:
    try:
        return shlex.split(line)
    except ValueError as exc:
        raise UsageError(f"Cannot parse the arguments {line!r}: {exc}. Check the quotes.") from None


def split_expression(line: str, parser: argparse.ArgumentParser) -> tuple[list[str], str]:
    """*line* as the leading options and the one word after them, then the rest unsplit.

    An option that takes a value (``--home DIR``) takes the next word with it; the first
    other word ends the head, and whatever follows it is Python, not shell words.
    """
    head: list[str] = []
    rest = line.strip()
    takes_value = False
    while rest:
        word, tail = [*rest.split(None, 1), ""][:2]
        head.append(word)
        rest = tail.strip()
        if takes_value:
            takes_value = False
            continue
        if not word.startswith("-"):
            break
        action = parser._option_string_actions.get(word.partition("=")[0])
        takes_value = action is not None and action.nargs != 0 and "=" not in word
    return head, rest


def literal(text: str) -> Any:
    """A Python literal if *text* is one (``3``, ``0.5``, ``'a'``, ``[1, 2]``), else the text."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def key_values(items: list[str] | None, *, option: str) -> dict[str, Any]:
    out = {}
    for item in items or []:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UsageError(f"{option} takes KEY=VALUE, got {item!r}.")
        out[key] = literal(value)
    return out
