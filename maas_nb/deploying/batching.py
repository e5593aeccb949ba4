"""A deployment's batching settings: declared once for both front ends, checked once.

`settings` is the one check, called where `deploy` builds the deployment's config, so
the CLI, the magics, the panel and ``maas_nb.deploy()`` refuse the same values with the
same message.
"""

from __future__ import annotations

import argparse
import math
import numbers
from typing import Any

from ..exceptions import ConfigurationError

DEFAULT_MAX_BATCH_SIZE = 64
DEFAULT_MAX_LATENCY_MS = 5.0


def settings(
    max_batch_size: Any, max_latency_ms: Any, max_queue_rows: Any = None
) -> dict[str, Any]:
    """The batching part of a deployment config; `ConfigurationError` on a bad value."""
    config: dict[str, Any] = {
        "max_batch_size": _whole(
            "max_batch_size",
            max_batch_size,
            f"the most rows per model call (the default is {DEFAULT_MAX_BATCH_SIZE})",
        ),
        "max_latency_ms": _latency(max_latency_ms),
    }
    if max_queue_rows is not None:
        config["max_queue_rows"] = _whole(
            "max_queue_rows",
            max_queue_rows,
            "the most rows waiting before requests answer 503 "
            "(the default is the larger of 4096 and 16 batches)",
        )
    return config


def _whole(option: str, value: Any, meaning: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral) or value < 1:
        raise ConfigurationError(
            f"{option} is {value!r}; give a whole number of at least 1: {meaning}."
        )
    return int(value)


def _latency(value: Any) -> float:
    number = value if isinstance(value, numbers.Real) and not isinstance(value, bool) else None
    if number is None or not math.isfinite(number) or number < 0:
        raise ConfigurationError(
            f"max_latency_ms is {value!r}; give a number of milliseconds of at least 0: how long "
            f"a request waits for batch mates (the default is {DEFAULT_MAX_LATENCY_MS}, "
            "0 sends each request at once)."
        )
    return float(number)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The batching options of ``maas deploy`` and ``%maas deploy`` (checked by `settings`)."""
    parser.add_argument(
        "--max-batch-size",
        type=int,
        default=DEFAULT_MAX_BATCH_SIZE,
        help="the most rows per model call",
    )
    parser.add_argument(
        "--max-latency-ms",
        type=float,
        default=DEFAULT_MAX_LATENCY_MS,
        help="how long a request waits for batch mates",
    )
    parser.add_argument(
        "--max-queue-rows",
        type=int,
        default=None,
        help="the most rows waiting before requests answer 503 (default: max(4096, 16 batches))",
    )
