"""The machine a benchmark ran on, as its header should state it."""

from __future__ import annotations

import os


def cores() -> str:
    """The cores this process may run on, e.g. "2 cores" or "4 of 16 cores"."""
    total = os.cpu_count() or 1
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else total
    if usable == total:
        return f"{total} cores"
    return f"{usable} of {total} cores"
