"""Checking and normalising what users attach to versions: metrics, params, tags, lineage."""

from __future__ import annotations

import math
import numbers
import uuid
from collections.abc import Mapping
from typing import Any

from ..exceptions import InvalidMetadataError


def metrics(values: Mapping[str, Any] | None) -> dict[str, float]:
    """Metrics are finite numbers keyed by name."""
    out: dict[str, float] = {}
    for key, value in _mapping(values, "metrics").items():
        if isinstance(value, bool) or not isinstance(value, numbers.Real):
            raise InvalidMetadataError(
                f"Metric {key!r} must be a number, got {type(value).__name__}: {value!r}."
            )
        value = float(value)
        if not math.isfinite(value):
            raise InvalidMetadataError(
                f"Metric {key!r} is {value}; metrics must be finite numbers."
            )
        out[key] = value
    return out


def tags(values: Mapping[str, Any] | None) -> dict[str, str]:
    """Tags are short strings keyed by name; other values are stored as their ``str``."""
    return {key: str(value) for key, value in _mapping(values, "tags").items()}


def idempotency_key(key: Any) -> str:
    """*key*, or a fresh one: a registration made with a key is made once, however retried."""
    if key is None:
        return uuid.uuid4().hex
    if not isinstance(key, str) or not key or len(key) > 200:
        raise InvalidMetadataError(
            "idempotency_key must be a non-empty string of at most 200 characters (such as a "
            f"job's id), got {type(key).__name__}: {key!r:.80}."
        )
    return key


def jsonable(values: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    """Keep JSON values as they are; store anything else (estimators, functions) as its repr."""
    return {key: _to_json(value) for key, value in _mapping(values, what).items()}


def _to_json(value: Any) -> Any:
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        value = float(value)
        return value if math.isfinite(value) else str(value)
    if isinstance(value, Mapping):
        return {str(k): _to_json(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_to_json(v) for v in value]
    tolist = getattr(value, "tolist", None)
    if callable(tolist) and getattr(value, "size", 1000) <= 100:
        return _to_json(tolist())
    text = repr(value)
    return text if len(text) <= 1000 else text[:997] + "..."


def _mapping(values: Mapping[str, Any] | None, what: str) -> dict[str, Any]:
    if values is None:
        return {}
    if not isinstance(values, Mapping):
        raise InvalidMetadataError(
            f"{what} must be a dict, got {type(values).__name__}: {values!r}."
        )
    for key in values:
        if not isinstance(key, str) or not key:
            raise InvalidMetadataError(f"{what} keys must be non-empty strings, got {key!r}.")
    return dict(values)
