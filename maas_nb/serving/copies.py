"""The copies of requests waiting for one shadow version of one deployment (`shadowing`).

Copies are gathered into the shadow's batches as they come: a `Bundle` is the copies one
batch will hold (of one layout, at most the shadow's ``max_batch_size`` rows, a bigger
copy alone), their rows end to end in one array. So what the event loop pays per copy
is a few appends and a copy of its rows when it is sent, and handing a batch over
(`Copies.take`) or comparing its answers with the clients' needs no walk over its
copies. Before, gathering a batch of 64 one-row copies and recording their answers
stalled the loop for 230 us at once (the median), every batch, a stall every client in
flight waited through (in a server at c=16 beside a 50 ms shadow); now for 82 us.

The queue holds at most the rows the shadow answers within its timeout (`room`): whole
batches, each taking what the last answered one took from the queue to its answer. A
copy beyond them is cut off at once (see `shadowing`).
"""

from __future__ import annotations

import asyncio
import bisect
import collections
from typing import Any

import numpy as np

from ..flavors.signature import DATAFRAME
from .batching import Batcher
from .rows import Rows, joined, layout_of
from .split import Shadow


def room(seconds: float | None, timeout_s: float, batcher: Batcher) -> int:
    """The rows a shadow's queue holds: the whole batches of *batcher* it answers within
    *timeout_s* when one takes *seconds*, besides the batch in flight and a copy's own
    (at least one); as many as the batcher queues before any is measured."""
    if seconds is None:
        return batcher.max_queue_rows
    return max(1, int(timeout_s / max(seconds, 1e-9)) - 1) * batcher.max_batch_size


class Bundle:
    """The copies one batch of the shadow holds, oldest first. Per copy: its request id,
    when it was sent (`time.perf_counter`), the answer its client got (None: not known),
    and its rows, ``offsets[i]:offsets[i + 1]`` of the batch's. A few lists per batch,
    not an object per copy: a thousand copies waiting do not lengthen every young
    garbage collection.

    From its second copy on, a batch's rows are copied end to end into one array as
    each copy comes (while they are still in the processor's cache: gathering 64 small
    arrays later, each cold, stalled the loop 64 us), and so are the clients' answers
    while every one is known and of one layout (`clients`); a lone copy is kept as it
    is, and a table's columns as they came, joined when the batch is taken."""

    __slots__ = (
        "_clients",
        "_rows",
        "capacity",
        "datas",
        "ids",
        "kind",
        "layout",
        "offsets",
        "sent",
        "theirs",
    )

    def __init__(self, kind: str, layout: tuple, capacity: int) -> None:
        self.kind, self.layout, self.capacity = kind, layout, capacity
        #: From the second copy on, the rows end to end (any kind but a table's); until
        #: then, and for a table's columns, each copy's data (`datas`).
        self._rows: np.ndarray | None = None
        self.datas: list[Any] = []
        self.ids: list[str] = []
        self.sent: list[float] = []
        self.theirs: list[np.ndarray | None] = []
        self._clients: np.ndarray | None = None  # the clients' answers end to end
        self.offsets = [0]

    @property
    def rows(self) -> int:
        return self.offsets[-1]

    def fits(self, layout: tuple, n: int) -> bool:
        """Whether a copy of *n* rows of *layout* goes in this batch."""
        return self.rows + n <= self.capacity and self.layout == layout

    def add(self, data: Any, n: int, request_id: str, sent: float, theirs: Any) -> None:
        """Add a copy of *n* rows of *data* (that `fits`)."""
        at = self.offsets[-1]
        if self._rows is None and len(self.ids) == 1 and self.kind != DATAFRAME:
            self._join_first()
        if self._rows is None:
            self.datas.append(data)
        else:
            self._rows[at : at + n] = data
        clients = self._clients
        if clients is not None:
            if _fits_in(theirs, n, clients):
                clients[at : at + n] = theirs
            else:
                self._clients = None  # not all known and of one layout: pair by pair
        self.ids.append(request_id)
        self.sent.append(sent)
        self.theirs.append(theirs)
        self.offsets.append(at + n)

    def add_all(
        self,
        data: np.ndarray,
        offsets: list[int],
        ids: list[str],
        sent: float,
        clients: np.ndarray | None,
    ) -> None:
        """Add at once two or more copies (that `fits` together, not a table's) whose rows
        are end to end in *data*, copy i's ``offsets[i]:offsets[i + 1]`` (``offsets[0]``
        is 0), all sent at *sent*; *clients*: their clients' answers end to end (None:
        not known). Their rows are one block copied, not one copy each."""
        if self._rows is None:
            if self.ids:
                self._join_first()
            else:
                self._rows = np.empty((self.capacity, *data.shape[1:]), data.dtype)
                if clients is not None:
                    self._clients = np.empty((self.capacity, *clients.shape[1:]), clients.dtype)
        assert self._rows is not None
        at, n = self.offsets[-1], offsets[-1]
        self._rows[at : at + n] = data
        if self._clients is not None:
            if _fits_in(clients, n, self._clients):
                self._clients[at : at + n] = clients
            else:
                self._clients = None
        k = len(ids)
        self.ids += ids
        self.sent += [sent] * k
        if clients is None:
            self.theirs += [None] * k
        else:
            self.theirs += [clients[offsets[i] : offsets[i + 1]] for i in range(k)]
        self.offsets += [at + offset for offset in offsets[1:]]

    def _join_first(self) -> None:
        """A second copy comes: the batch's rows (and its clients' answers) are kept end
        to end from now on, in arrays of the batch's room (not for a lone copy: a batch
        of one, or of another layout, holds no room it does not use)."""
        first = self.datas.pop()
        n = self.offsets[1]
        self._rows = np.empty((self.capacity, *first.shape[1:]), first.dtype)
        self._rows[:n] = first
        theirs = self.theirs[0]
        if isinstance(theirs, np.ndarray) and len(theirs) == n:
            self._clients = np.empty((self.capacity, *theirs.shape[1:]), theirs.dtype)
            self._clients[:n] = theirs

    @property
    def clients(self) -> np.ndarray | None:
        """Every client's answer end to end, when each is known and all are of one layout."""
        return None if self._clients is None else self._clients[: self.rows]

    def data(self) -> Any:
        """The batch's rows, as one."""
        if self._rows is not None:
            return self._rows[: self.rows]
        if len(self.datas) == 1:
            return self.datas[0]
        return joined(self.kind, self.datas, self.rows).data

    def _data_of(self, i: int) -> Any:
        if self._rows is not None:
            return self._rows[self.offsets[i] : self.offsets[i + 1]]
        return self.datas[i]

    def rows_of(self, i: int) -> Rows:
        """Copy i's rows: its own (a view would hold the whole batch's array, for as
        long as a sink keeps it)."""
        data = self._data_of(i)
        if self._rows is not None:
            data = data.copy()
        return Rows(self.kind, data, self.offsets[i + 1] - self.offsets[i])

    def take_from(self, other: Bundle) -> int:
        """Move *other*'s oldest copies here while they fit (as `fits` says); how many."""
        k = 0
        while k < len(other.ids):
            n = other.offsets[k + 1] - other.offsets[k]
            if not self.fits(other.layout, n):
                break
            theirs = other.theirs[k]
            self.add(other._data_of(k), n, other.ids[k], other.sent[k], theirs)
            k += 1
        return k

    def drop_oldest(self, k: int) -> int:
        """Forget the *k* oldest copies (fewer than all); the rows they held. The rest
        move to the front, so the batch has room for as many rows as before."""
        gone, rows = self.offsets[k], self.rows
        if self._rows is not None:  # (numpy copies overlapping slices correctly)
            self._rows[: rows - gone] = self._rows[gone:rows]
        if self._clients is not None:
            self._clients[: rows - gone] = self._clients[gone:rows]
        del self.datas[:k], self.ids[:k], self.sent[:k], self.theirs[:k]
        self.offsets = [offset - gone for offset in self.offsets[k:]]
        return gone


def _fits_in(theirs: Any, n: int, clients: np.ndarray) -> bool:
    """Whether a client's answer to *n* rows is known and of the layout of *clients*."""
    return (
        isinstance(theirs, np.ndarray)
        and len(theirs) == n
        and theirs.dtype == clients.dtype
        and theirs.shape[1:] == clients.shape[1:]
    )


class Copies:
    """The copies waiting for one shadow version of one deployment, in the batches they
    will go in (oldest first)."""

    __slots__ = ("bundles", "cut", "limit", "rows", "shadow", "task")

    def __init__(self, shadow: Shadow) -> None:
        self.shadow = shadow  # the latest split's: its batcher, timeout and label
        self.bundles: collections.deque[Bundle] = collections.deque()
        self.rows = 0  # the rows waiting
        batcher = shadow.loaded.batcher
        self.limit = room(batcher.costs.cost, shadow.timeout_s, batcher)
        self.cut = 0  # copies cut off since the window last counted them
        self.task: asyncio.Task | None = None

    @property
    def waiting(self) -> int:
        """The copies waiting."""
        return sum(len(bundle.ids) for bundle in self.bundles)

    def add(self, rows: Rows, request_id: str, sent: float, theirs: np.ndarray | None) -> None:
        """Queue a copy of *rows*, in the newest batch if it fits there (a copy of more
        rows than a batch: in one of its own, split by the shadow's batcher)."""
        layout = layout_of(rows.kind, rows.data)
        bundle = self.bundles[-1] if self.bundles else None
        if bundle is None or not bundle.fits(layout, rows.n):
            size = max(self.shadow.loaded.batcher.max_batch_size, rows.n)
            bundle = Bundle(rows.kind, layout, size)
            self.bundles.append(bundle)
        bundle.add(rows.data, rows.n, request_id, sent, theirs)
        self.rows += rows.n

    def add_all(
        self,
        rows: Rows,
        offsets: list[int],
        ids: list[str],
        sent: float,
        clients: np.ndarray | None,
    ) -> None:
        """Queue copies of the requests whose rows are end to end in *rows* (request i's
        ``offsets[i]:offsets[i + 1]``; a batch of the primary's, as its model got them),
        all sent at *sent*, with their clients' answers end to end in *clients* (None:
        not known): as `add` would each, but a run of them that goes in one batch at once."""
        if rows.kind == DATAFRAME:
            for i, request_id in enumerate(ids):
                start, stop = offsets[i], offsets[i + 1]
                theirs = None if clients is None else clients[start:stop]
                self.add(rows.part(start, stop), request_id, sent, theirs)
            return
        data, layout = rows.data, layout_of(rows.kind, rows.data)
        size = self.shadow.loaded.batcher.max_batch_size
        i, k = 0, len(ids)
        while i < k:
            start = offsets[i]
            bundle = self.bundles[-1] if self.bundles else None
            if bundle is None or not bundle.fits(layout, offsets[i + 1] - start):
                bundle = Bundle(rows.kind, layout, max(size, offsets[i + 1] - start))
                self.bundles.append(bundle)
            # The copies from i on that fit in this batch's room (the first one does).
            j = bisect.bisect_right(offsets, start + bundle.capacity - bundle.rows, i + 1) - 1
            stop = offsets[j]
            theirs = None if clients is None else clients[start:stop]
            if j == i + 1:  # kept as it is: its own, not a view holding the whole batch
                bundle.add(rows.part(start, stop).data, stop - start, ids[i], sent, theirs)
            else:
                at = [offset - start for offset in offsets[i : j + 1]]
                bundle.add_all(data[start:stop], at, ids[i:j], sent, theirs)
            i = j
        self.rows += offsets[k] - offsets[0]

    def expire(self, now: float) -> int:
        """Drop the copies that waited past the timeout; how many."""
        timeout, dropped = self.shadow.timeout_s, 0
        while self.bundles:
            bundle = self.bundles[0]
            sent, k = bundle.sent, 0
            while k < len(sent) and sent[k] + timeout <= now:
                k += 1
            dropped += k
            if k < len(sent):
                if k:
                    self.rows -= bundle.drop_oldest(k)
                return dropped
            self.rows -= self.bundles.popleft().rows
        return dropped

    def take(self) -> tuple[Rows, Bundle]:
        """The oldest batch of copies: their rows, as one, and the copies. A batch left
        short by `expire` is filled up from the next ones first, while their oldest
        copies fit (a shadow behind, the one time copies expire, gets whole batches)."""
        bundle = self.bundles.popleft()
        while self.bundles and bundle.rows < bundle.capacity:
            after = self.bundles[0]
            moved = bundle.take_from(after)
            if moved < len(after.ids):
                if moved:
                    after.drop_oldest(moved)
                break
            self.bundles.popleft()
        self.rows -= bundle.rows
        return Rows(bundle.kind, bundle.data(), bundle.rows), bundle
