"""A listing a tab shows a page at a time, newest first, with a "More ..." button: the one
definition of paging in the panel (the Runs tab's pipeline runs, the Models tab's versions).

It holds the records shown and the keyset cursor of the page after them (`Page.next`). A
refresh re-reads as many as are shown (at least a page), so a refresh never hides what More
showed; More reads the next page after the cursor, never re-reading a row.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Generic, TypeVar

import ipywidgets as widgets

from ...registry import Page

if TYPE_CHECKING:
    from .log import StatusLog

T = TypeVar("T")

#: Records a tab reads at a time; its "More" button reads the next page.
PAGE = 50

#: ``fetch(limit=, after=)``: one page of the listing, newest first.
Fetch = Callable[..., Page[T]]


class Pager(Generic[T]):
    """The records of *fetch* shown so far, and the button that shows more (hidden when
    there are no more). *shown* is called after every read, to redraw the tab."""

    def __init__(
        self,
        what: str,
        fetch: Fetch[T],
        shown: Callable[[], None],
        log: StatusLog,
    ) -> None:
        self.fetch = fetch
        self.shown = shown
        self.items: list[T] = []
        self.next: str | None = None  # the cursor of the page after the records shown
        self.more = widgets.Button(description=f"More {what}", icon="angle-double-down")
        self.more.layout.display = "none"
        self.more.on_click(log.guard(f"More {what}")(self.read_more))

    def refresh(self) -> None:
        """Re-read the newest records: a page, or as many as More has shown."""
        page = self.fetch(limit=max(PAGE, len(self.items)), after=None)
        self.items, self.next = list(page), page.next
        self._done()

    def read_more(self, _button: object = None) -> None:
        """Add the page of older records after the ones shown (keyset: never re-read)."""
        if self.next is None:
            return
        page = self.fetch(limit=PAGE, after=self.next)
        self.items += page
        self.next = page.next
        self._done()

    def _done(self) -> None:
        self.more.layout.display = None if self.next else "none"
        self.shown()
