"""What a verb returns: a `Result` holding the value, its JSON form and a view.

A view says what to show, never how: a `Card` (a title and fields), a `Table` (columns
and rows) or a `Text`. The CLI renders views as text, the magics as HTML with the same
text as their stable form (see `render`). Fields and columns marked ``detail`` carry
what changes from run to run (times, digests, ids, ports): the CLI shows them, a
notebook only at feedback level 2, so executed notebooks compare equal run after run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from ..exceptions import MaasError


@dataclass(frozen=True)
class Field:
    key: str
    value: Any
    detail: bool = False


@dataclass(frozen=True)
class Card:
    title: str
    fields: tuple[Field, ...]

    def shown(self, *, detail: bool) -> list[tuple[str, Any]]:
        """The (key, value) pairs to show: empty values never, details only if asked."""
        return [
            (f.key, f.value)
            for f in self.fields
            if f.value not in (None, "", {}, []) and (detail or not f.detail)
        ]


def card(title: str, fields: Sequence[tuple[str, Any] | Field]) -> Card:
    """A `Card`; plain (key, value) pairs are fields shown on every front end."""
    return Card(title, tuple(f if isinstance(f, Field) else Field(*f) for f in fields))


@dataclass(frozen=True)
class Column:
    name: str
    detail: bool = False


@dataclass(frozen=True)
class Table:
    columns: tuple[Column, ...]
    rows: tuple[tuple[Any, ...], ...]
    empty: str
    more: str = ""  # under a page with more rows after it: the command for the next

    def shown(self, *, detail: bool) -> tuple[list[str], list[list[Any]]]:
        keep = [i for i, c in enumerate(self.columns) if detail or not c.detail]
        headers = [self.columns[i].name for i in keep]
        return headers, [[row[i] for i in keep] for row in self.rows]


def table(
    columns: Sequence[str | Column],
    rows: Sequence[Sequence[Any]],
    *,
    empty: str,
    more: str = "",
) -> Table:
    """A `Table`; plain column names are columns shown on every front end."""
    return Table(
        tuple(c if isinstance(c, Column) else Column(c) for c in columns),
        tuple(tuple(r) for r in rows),
        empty,
        more,
    )


@dataclass(frozen=True)
class Text:
    text: str
    html: str | None = None  # None: the text, escaped


View = Card | Table | Text


@dataclass(frozen=True)
class Result:
    """One verb's outcome, the same object whichever front end ran it.

    *data* is what ``--json`` prints; *view* what people see; *value* the Python object
    (a `ModelVersion`, a `Deployment`, predictions), which a magic's result stands for.
    *notes* are side remarks (a port fallback); *error*, when set, is raised after the
    result is shown (a failed pipeline run still has its record to show).
    """

    verb: str
    data: Any
    view: View
    value: Any = field(default=None, compare=False)
    notes: tuple[str, ...] = ()
    error: MaasError | None = field(default=None, compare=False)
    # The magic returns *value* itself, not a card (``%maas predict``, ``%maas ui``).
    returns_value: bool = field(default=False, compare=False)
    html_extra: str = field(default="", compare=False)
