"""The copies of requests waiting for one shadow version of one deployment (`shadowing`).

Copies are gathered into the shadow's batches as they come: a `Bundle` is the copies one
batch will hold (of one layout, at most the shadow's ``max_batch_size`` rows, a bigger
copy alone), each of its fields a list. So what the event loop pays per copy is a few
appends when it is sent, and handing a batch over (`Copies.take`) or recording its
answers needs no walk over its copies: before, gathering a batch of 64 one-row copies
and recording their answers took 230 us at once, every batch, a stall every client
in flight waited through (in a server at c=16 beside a 50 ms shadow).

The queue holds at most the rows the shadow answers within its timeout (`room`): whole
batches, each taking what the last answered one took from the queue to its answer. A
copy beyond them is cut off at once (see `shadowing`).
"""

from __future__ import annotations

import asyncio
import collections
from typing import Any

import numpy as np

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
    """The copies one batch of the shadow holds, oldest first: their rows' kind and
    layout, and per copy its data, request id, when it was sent (`time.perf_counter`)
    and the answer its client got (None: not known); copy i's rows are
    ``offsets[i]:offsets[i + 1]`` of the batch. A few lists per batch, not an object per
    copy: a thousand copies waiting do not lengthen every young garbage collection."""

    __slots__ = ("datas", "ids", "kind", "layout", "offsets", "sent", "theirs")

    def __init__(self, kind: str, layout: tuple) -> None:
        self.kind, self.layout = kind, layout
        self.datas: list[Any] = []
        self.ids: list[str] = []
        self.sent: list[float] = []
        self.theirs: list[np.ndarray | None] = []
        self.offsets = [0]

    @property
    def rows(self) -> int:
        return self.offsets[-1]

    def rows_of(self, i: int) -> Rows:
        """Copy i's rows."""
        return Rows(self.kind, self.datas[i], self.offsets[i + 1] - self.offsets[i])

    def drop_oldest(self, k: int) -> int:
        """Forget the *k* oldest copies (fewer than all); the rows they held."""
        gone = self.offsets[k]
        del self.datas[:k], self.ids[:k], self.sent[:k], self.theirs[:k]
        self.offsets = [offset - gone for offset in self.offsets[k:]]
        return gone


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
        """Queue a copy of *rows*, in the newest batch if it fits there."""
        layout = layout_of(rows.kind, rows.data)
        bundle = self.bundles[-1] if self.bundles else None
        size = self.shadow.loaded.batcher.max_batch_size
        if bundle is None or bundle.rows + rows.n > size or bundle.layout != layout:
            bundle = Bundle(rows.kind, layout)
            self.bundles.append(bundle)
        bundle.datas.append(rows.data)
        bundle.ids.append(request_id)
        bundle.sent.append(sent)
        bundle.theirs.append(theirs)
        bundle.offsets.append(bundle.rows + rows.n)
        self.rows += rows.n

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
        """The oldest batch of copies: their rows, as one, and the copies."""
        bundle = self.bundles.popleft()
        self.rows -= bundle.rows
        if len(bundle.datas) == 1:
            return bundle.rows_of(0), bundle
        return joined(bundle.kind, bundle.datas, bundle.rows), bundle
