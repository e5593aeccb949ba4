"""What the server answered, one record per request, for whoever listens (the prediction
log, the live comparison): `Outcome`, and the `OutcomeSink` protocol listeners follow.

A sink's `record` runs on the event loop for every answered request, so it must not
block: O(1) work, no I/O (a sink that writes hands the outcome to a thread of its own).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np


@dataclass(frozen=True)
class Outcome:
    """One answered request: which version answered, how fast, on what, with what."""

    deployment: str
    model: str
    version: int
    request_id: str
    latency_s: float
    rows: int
    inputs: Any | None
    outputs: dict[str, np.ndarray]
    shadow: bool
    at: float  # time.time() when the answer was ready


class OutcomeSink(Protocol):
    def record(self, outcome: Outcome) -> None:
        """Take *outcome*; must not block (O(1), no I/O on the event loop)."""
