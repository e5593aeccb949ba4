"""Dropdowns whose choices change under the person using them, without losing their pick.

Assigning ``options`` resets an ipywidgets dropdown to its first choice, which fires its
observers: a form would be rebuilt (losing what was typed) or a name field overwritten.
`set_options` keeps the pick, and the callbacks registered with `on_pick` run once, only
when the pick really changed. A pick `set_options` made itself (a default, such as the
newest version) is not the person's: `picked_by_person` tells the two apart, so that a
default can follow what is new while a person's pick stays put.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import ipywidgets as widgets

_handlers: dict[int, list[Callable[[Any], None]]] = {}
_updating: set[int] = set()
_defaults: dict[int, Any] = {}  # what set_options last picked, by dropdown


def on_pick(dropdown: widgets.Dropdown, callback: Callable[[Any], None]) -> None:
    """Call *callback* when the person (or `set_options`) changes the picked value."""
    _handlers.setdefault(id(dropdown), []).append(callback)

    def handler(change: Any) -> None:
        if id(dropdown) not in _updating:
            callback(change)

    dropdown.observe(handler, names="value")


def set_options(
    dropdown: widgets.Dropdown,
    options: Sequence[str],
    default: str | None,
    *,
    follow: bool = False,
) -> None:
    """Offer *options*; keep the current pick if still offered, else pick *default*.

    With *follow*, pick *default* (when offered) even if the current pick still is.
    """
    options = tuple(options)
    before = dropdown.value
    keep: str | None
    if follow and default in options:
        keep = default
    elif before in options:
        keep = before
    elif default in options:
        keep = default
    else:
        keep = options[0] if options else None
    if keep != before or id(dropdown) not in _defaults:
        _defaults[id(dropdown)] = keep
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


def picked_by_person(dropdown: widgets.Dropdown) -> bool:
    """Whether the current pick differs from the one `set_options` made last."""
    return id(dropdown) in _defaults and dropdown.value != _defaults[id(dropdown)]


def forget(dropdown: widgets.Dropdown) -> None:
    """Drop *dropdown*'s callbacks (when its panel closes)."""
    _handlers.pop(id(dropdown), None)
    _defaults.pop(id(dropdown), None)
