"""Big JSON arrays of records kept as one array per key, as they are parsed.

``[{"sl": 5.1, "sw": 3.5}, ...]`` costs about 300 bytes per record as Python dicts and
floats (seven times its text), and freeing or garbage-collecting hundreds of thousands of
dicts holds the GIL for tens of milliseconds. When every record of a big array has the
same keys in the same order and each key holds only numbers or only strings, `scan`
turns each parsed piece into columns straight away and keeps `Records` instead.
`record_rows` and `rows_from` read it as they read the list ``json.loads`` gives, with the
same results and messages; anything else stays (or becomes) that list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from .strings import TEXT

_NUMBERS = frozenset({int, float})


@dataclass(frozen=True)
class Records:
    """Records that share their keys (in order), as one array per key."""

    keys: tuple[str, ...]
    columns: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.columns[self.keys[0]])

    def numeric(self) -> bool:
        return all(column.dtype.kind in "iuf" for column in self.columns.values())

    def to_list(self) -> list[dict[str, Any]]:
        """The records as ``json.loads`` gives them."""
        values = [self.columns[k].tolist() for k in self.keys]
        return [dict(zip(self.keys, row, strict=True)) for row in zip(*values, strict=True)]


class Builder:
    """Columns filled piece by piece; `add` says False when a piece does not fit them.

    Each column is made once for all *count* records (an integer column becomes a float
    one when floats arrive, as numpy does for the whole list), so no piece is kept."""

    def __init__(self, first: dict, count: int) -> None:
        self.keys = tuple(first)
        self.count = count
        self.columns: dict[str, np.ndarray] = {}
        self.filled = 0

    def add(self, piece: list) -> bool:
        keys = self.keys
        if not keys or not all(type(r) is dict and tuple(r) == keys for r in piece):
            return False
        converted: dict[str, np.ndarray] = {}
        for key in keys:
            values = [r[key] for r in piece]
            kinds = {type(v) for v in values}
            if kinds == {str}:
                converted[key] = np.asarray(values, dtype=TEXT)
            elif kinds <= _NUMBERS:
                converted[key] = np.asarray(values)
            else:
                return False
            column = self.columns.get(key)
            if column is not None and (column.dtype.kind == "T") != (kinds == {str}):
                return False
        end = self.filled + len(piece)
        for key, part in converted.items():
            column = self.columns.get(key)
            if column is None:
                column = self.columns[key] = np.empty(self.count, dtype=part.dtype)
            elif column.dtype.kind == "i" and part.dtype.kind == "f":
                column = self.columns[key] = column.astype(np.float64)
            column[self.filled : end] = part
        self.filled = end
        return True

    def to_list(self) -> list[dict[str, Any]]:
        return self.finish().to_list() if self.filled else []

    def finish(self) -> Records:
        return Records(self.keys, {k: v[: self.filled] for k, v in self.columns.items()})
