"""A deployment row's ``guard`` config: its settings, their defaults and their checks.

`maas traffic --guard-*` (`maas_nb.deploying.splits`) writes it and the server's guard
(`maas_nb.serving.watch`) applies it; both read what it may say from here, a small module
of the layer both import (the server's modules stay out of the deploy client).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

from ..exceptions import ConfigurationError

#: The thresholds: config key -> what it measures (a ``min_`` threshold fails below it,
#: a ``max_`` one above it).
THRESHOLDS = {
    "max_error_rate": "error rate",
    "max_p99_ms": "p99 latency (ms)",
    "min_accuracy": "live accuracy",
}
DEFAULTS = {"interval_s": 10.0, "failures_allowed": 2, "min_sample": 50}
KEYS = (*DEFAULTS, *THRESHOLDS)


def guard_config(values: Mapping[str, Any]) -> dict[str, Any]:
    """The row's ``guard`` entry of *values* (the defaults filled in); a `ConfigurationError`
    naming the setting and the fix for anything unusable."""
    unknown = sorted(set(values) - set(KEYS))
    if unknown:
        raise ConfigurationError(
            f"Unknown guard settings {unknown}; the guard takes {', '.join(KEYS)}."
        )
    given = {k: v for k, v in values.items() if v is not None}
    if not set(given) & set(THRESHOLDS):
        raise ConfigurationError(
            f"A guard needs at least one threshold ({', '.join(THRESHOLDS)}), got "
            f"{sorted(given) or 'none'}; for example max_error_rate=0.05 "
            "(--guard-error-rate 0.05)."
        )
    made: dict[str, Any] = {**DEFAULTS, **given}
    for key, value in made.items():
        number = _number(key, value)
        whole = key in ("failures_allowed", "min_sample")
        if whole and (number != int(number) or number < (0 if key == "failures_allowed" else 1)):
            least = 0 if key == "failures_allowed" else 1
            raise ConfigurationError(
                f"The guard's {key} must be a whole number of at least {least}, got {value!r}."
            )
        if key in ("max_error_rate", "min_accuracy") and not 0 <= number <= 1:
            raise ConfigurationError(
                f"The guard's {key} is a fraction from 0 to 1, got {value!r}; for example 0.05."
            )
        if key in ("interval_s", "max_p99_ms") and not number > 0:
            raise ConfigurationError(f"The guard's {key} must be above 0, got {value!r}.")
        made[key] = int(number) if whole else float(number)
    return made


def _number(key: str, value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise ConfigurationError(f"The guard's {key} must be a number, got {value!r}.")
    return float(value)
