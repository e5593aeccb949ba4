"""How values are kept in the registry's SQLite columns: JSON text and ISO 8601 times."""

from __future__ import annotations

import functools
import json
from datetime import datetime, timezone
from typing import Any

from ..flavors.signature import Signature


def now() -> datetime:
    return datetime.now(timezone.utc)


def dumps(value: Any) -> str:
    return json.dumps(value if value is not None else {}, sort_keys=True)


@functools.lru_cache(maxsize=256)
def signature(text: str) -> Signature:
    # Versions of one model usually share a signature: parse each distinct text once.
    return Signature.from_dict(json.loads(text))


def time(text: str) -> datetime:
    return datetime.fromisoformat(text)
