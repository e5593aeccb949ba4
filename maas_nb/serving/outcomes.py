"""What each answered request leaves behind: an `Outcome`, handed to the pool's sinks.

One record per answer, primary or shadow, for the prediction log (the live comparison's
window is told answers directly, a batch at a time: `Window.batch_answered`,
`Window.record_copies`). A sink's `record` runs on the event loop for
every answer, so it must be O(1) and do no I/O there (append to a buffer a thread
drains). With no sink (the default) no `Outcome` is built at all.
"""

from __future__ import annotations

from typing import Any, NamedTuple, Protocol

import numpy as np


class Outcome(NamedTuple):
    """One answer of one version of a deployment (a tuple: one is made per answer)."""

    deployment: str
    model: str
    version: int
    request_id: str
    latency_s: float
    rows: int
    inputs: Any | None  # the request's decoded rows (`Rows`)
    outputs: dict[str, np.ndarray]
    shadow: bool
    at: float  # time.time() of the answer


class OutcomeSink(Protocol):
    def record(self, outcome: Outcome) -> None:
        """Take *outcome*; must not block (O(1), no I/O on the event loop)."""
