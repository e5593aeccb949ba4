"""Rich results for notebooks: HTML for people, a deterministic text form for nbval and logs.

The text form never contains timestamps, ports, pids, digests or run ids (unless the
feedback level asks for them), so executed notebooks compare equal run after run. The
views themselves come from the command table (`maas_nb.commands`), shared with the CLI.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from ..commands import Result
from ..commands import card as card_view
from ..commands import table as table_view
from ..commands.cards import version_card as version_view
from ..commands.render import as_html, as_text
from ..commands.result import View
from ..registry import ModelVersion


class Display:
    """A result shown in a notebook: ``repr`` is the stable text, ``_repr_html_`` the card.

    ``result`` is the command table's `Result` when a shared verb made it, the same
    object the CLI prints.
    """

    def __init__(self, text: str, html_: str, value: Any = None, result: Any = None) -> None:
        self.text = text
        self.html = html_
        self.value = value
        self.result = result

    def __repr__(self) -> str:
        return self.text

    def _repr_html_(self) -> str:
        return self.html

    def __getattr__(self, name: str) -> Any:
        # `dep = %maas deploy ...` then `dep.predict(X)`: the card stands for its value.
        if name.startswith("_") or self.__dict__.get("value") is None:
            raise AttributeError(name)
        return getattr(self.value, name)


def view(shown: View, *, verbose: int = 1, value: Any = None, html_extra: str = "") -> Display:
    """*shown* as a Display; details (times, digests, ids) only at feedback level 2."""
    detail = verbose >= 2
    return Display(as_text(shown, detail=detail), as_html(shown, detail=detail) + html_extra, value)


def result(done: Result, *, verbose: int = 1) -> Display:
    shown = view(done.view, verbose=verbose, value=done.value, html_extra=done.html_extra)
    shown.result = done
    return shown


def table(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str, value: Any = None
) -> Display:
    return view(table_view(headers, rows, empty=empty), value=value)


def card(title: str, fields: Sequence[tuple[str, Any]], *, value: Any = None) -> Display:
    return view(card_view(title, fields), value=value)


def version_card(v: ModelVersion, *, verbose: int = 1, pipeline: Any = None) -> Display:
    return view(version_view(v, pipeline), verbose=verbose, value=v)
