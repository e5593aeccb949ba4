"""A version's counts in one bucket of the live window: plain numbers that add up, so
the windows of a server's workers (and their snapshots, as plain data) sum."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from .intervals import LATENCY_BUCKETS

# The fields of `Counts`, in snapshot order.
FIELDS = ("requests", "errors", "compared", "agreed", "fed", "correct", "abs_error", "sq_error")


class Counts:
    """One version's counts in one bucket; plain numbers that add up."""

    __slots__ = (*FIELDS, "latency")

    def __init__(self) -> None:
        self.requests = self.errors = self.compared = self.agreed = 0
        self.fed = self.correct = 0
        self.abs_error = self.sq_error = 0.0
        self.latency = [0] * LATENCY_BUCKETS

    def to_list(self) -> list[Any]:
        """The counts as plain data; the latency histogram as its nonzero [bucket, count]."""
        latency = [[k, c] for k, c in enumerate(self.latency) if c]
        return [*(getattr(self, f) for f in FIELDS), latency]

    def add_list(self, values: Sequence[Any]) -> None:
        """Add counts given as `to_list` gives them."""
        for name, value in zip(FIELDS, values, strict=False):
            setattr(self, name, getattr(self, name) + value)
        latency = self.latency
        for k, c in values[-1]:
            latency[k] += c
