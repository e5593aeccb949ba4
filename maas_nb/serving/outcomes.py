"""What each answered request leaves behind: an `Outcome`, handed to the pool's sinks.

One record per answer, primary or shadow, for the prediction log (the live comparison's
window is told answers directly, a batch at a time: `Window.batch_answered`,
`Window.record_copies`). For every answer a sink is first asked whether it `wants` it
(its sampling draw; a deployment it does not record: False), and only then is the
`Outcome` built and given to the sinks that want it (`take`). Both run on the event loop
for every answer, so they must be O(1) and do no I/O there (append to a buffer a thread
drains). With no sink (the default) nothing is asked; an answer no sink wants costs
one `wants` per sink, and no `Outcome`.
"""

from __future__ import annotations

from collections.abc import Callable
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
    def wants(self, deployment: str) -> bool:
        """Whether to record this answer of *deployment* (asked once per answer, before
        its `Outcome` is built: a sampling sink draws here); O(1), no I/O."""

    def take(self, outcome: Outcome) -> None:
        """Keep *outcome*, an answer `wants` asked for; must not block (O(1), no I/O)."""


def tell_sinks(sinks: list[OutcomeSink], deployment: str, make: Callable[[], Outcome]) -> None:
    """Give the `Outcome` *make* builds (once, only if any sink wants it) to each of
    *sinks* that `wants` this answer of *deployment*."""
    outcome = None
    for sink in sinks:
        if sink.wants(deployment):
            if outcome is None:
                outcome = make()
            sink.take(outcome)
