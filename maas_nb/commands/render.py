"""Views as text (the CLI, and every magic's stable form) and as HTML (notebooks)."""

from __future__ import annotations

import html

from ..tables import text_table
from .result import Card, Table, Text, View


def as_text(view: View, *, detail: bool, upper: bool = False) -> str:
    """*view* as plain text; *upper*: table headers in capitals, as shell tools print them."""
    if isinstance(view, Text):
        return view.text
    if isinstance(view, Table):
        if not view.rows:
            return view.empty
        headers, rows = view.shown(detail=detail)
        text = text_table([h.upper() if upper else h for h in headers], rows)
        return f"{text}\n{view.more}" if view.more else text
    shown = view.shown(detail=detail)
    width = max((len(k) for k, _ in shown), default=0)
    return "\n".join([view.title, *(f"  {k.ljust(width)}  {v}" for k, v in shown)])


def as_html(view: View, *, detail: bool) -> str:
    if isinstance(view, Text):
        return view.html if view.html is not None else f"<pre>{html.escape(view.text)}</pre>"
    if isinstance(view, Table):
        if not view.rows:
            return f"<p>{html.escape(view.empty)}</p>"
        headers, rows = view.shown(detail=detail)
        head = "".join(f"<th>{html.escape(str(h))}</th>" for h in headers)
        body = "".join(
            "<tr>"
            + "".join(f"<td>{html.escape('' if c is None else str(c))}</td>" for c in row)
            + "</tr>"
            for row in rows
        )
        more = f"<p>{html.escape(view.more)}</p>" if view.more else ""
        return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>{more}"
    return _card_html(view, detail=detail)


def _card_html(view: Card, *, detail: bool) -> str:
    rows = "".join(
        f"<tr><th style='text-align:left'>{html.escape(k)}</th>"
        f"<td><code>{html.escape(str(v))}</code></td></tr>"
        for k, v in view.shown(detail=detail)
    )
    return f"<div><b>{html.escape(view.title)}</b><table>{rows}</table></div>"
