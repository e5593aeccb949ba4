"""Dropdowns whose choices change under the person using them, without losing their pick.

Assigning ``options`` resets an ipywidgets dropdown to its first choice, which fires its
observers: a form would be rebuilt (losing what was typed) or a name field overwritten.
`set_options` keeps the pick, and the callbacks registered with `on_pick` run once, only
when the pick really changed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

_handlers: dict[int, list[Callable[[Any], None]]] = {}
_updating: set[int] = set()


def on_pick(dropdown: widgets.Dropdown, callback: Callable[[Any], None]) -> None:
    """Call *callback* when the person (or `set_options`) changes the picked value."""
    _handlers.setdefault(id(dropdown), []).append(callback)

    def handler(change: Any) -> None:
        if id(dropdown) not in _updating:
            callback(change)

    dropdown.observe(handler, names="value")


def set_options(dropdown: widgets.Dropdown, options: Sequence[str], default: str | None) -> None:
    """Offer *options*; keep the current pick if still offered, else pick *default*."""
    options = tuple(options)
    before = dropdown.value
    if before in options:
        keep = before
    elif default in options:
        keep = default
    else:
        keep = options[0] if options else None
    if tuple(dropdown.options) == options and before == keep:
        return
    _updating.add(id(dropdown))
    try:
        dropdown.options = options
        dropdown.value = keep
    finally:
        _updating.discard(id(dropdown))
    if keep != before:
        for callback in _handlers.get(id(dropdown), []):
            callback({"name": "value", "old": before, "new": keep, "owner": dropdown})


def forget(dropdown: widgets.Dropdown) -> None:
    """Drop *dropdown*'s callbacks (when its panel closes)."""
    _handlers.pop(id(dropdown), None)
