"""Listings a page at a time: a listing's filters, its order, and the cursors between pages.

Keyset pagination, never OFFSET. A listing has a key that orders it totally: (started_at,
id) for training and pipeline runs, the version number for a model's versions; the id
breaks ties between runs started in the same microsecond. A page is the first *limit*
rows whose key comes after the last key of the page before (``WHERE (started_at, id) >
(?, ?) ORDER BY started_at, id LIMIT ?``), so a deep page costs what the first one does,
served by an index that starts with the filtered column and ends with the key (schema 7),
and a row added meanwhile neither repeats nor hides a row of a later page.

A cursor is that last key and a fingerprint of the listing's filters and order, as
URL-safe base64: opaque to callers, and refused by a listing with other filters (which
would page through different rows). Every filter is SQL, the metric one included: the
stores give the expression that reads one metric from the JSON column (`MetricValue`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from ..exceptions import InvalidQueryError

T = TypeVar("T")

#: The comparisons a metric filter may use (two-character ones are matched first).
OPERATORS = (">=", "<=", ">", "<", "=")
#: The most rows one page may hold.
MAX_LIMIT = 10_000

_METRIC = re.compile(r"^\s*([A-Za-z0-9_.:/-]+)\s*(>=|<=|>|<|=)\s*(\S+)\s*$")

#: A store's SQL for the value of one metric (given by name) in the ``metrics`` column,
#: and the parameter that names it: ``("json_extract(metrics, ?)", '$."accuracy"')``.
MetricValue = Callable[[str], tuple[str, Any]]


class Page(list[T], Generic[T]):
    """One page of a listing: its records (a list) and `next`, the cursor of the page
    after it (pass it as ``after=``), None when this page is the last."""

    def __init__(self, items: Iterable[T] = (), next: str | None = None) -> None:
        super().__init__(items)
        self.next = next

    def __repr__(self) -> str:
        return f"Page({list.__repr__(self)}, next={self.next!r})"


@dataclass(frozen=True)
class MetricFilter:
    """Rows whose metric *name* compares with *value* by *op* (rows without it: never)."""

    name: str
    op: str
    value: float

    @classmethod
    def parse(cls, text: str | MetricFilter) -> MetricFilter:
        """``accuracy>0.9``, ``loss<=0.2``, ``f1=1``; operators: > >= < <= =."""
        if isinstance(text, MetricFilter):
            return text
        found = _METRIC.match(text) if isinstance(text, str) else None
        value = _number(found.group(3)) if found else None
        if found is None or value is None:
            raise InvalidQueryError(
                f"A metric filter is NAME OP NUMBER with OP one of {' '.join(OPERATORS)}, "
                f"got {text!r}. Write it like 'accuracy>0.9' (metric='accuracy>0.9' in "
                "Python; --metric 'accuracy>0.9' in maas and %maas)."
            )
        return cls(found.group(1), found.group(2), value)

    def __str__(self) -> str:
        return f"{self.name}{self.op}{self.value:g}"


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


@dataclass(frozen=True)
class Listing:
    """What a listing asks for beyond its table and model: who made the rows, a metric
    they must meet, the order, and which page."""

    user: str | None = None
    metric: MetricFilter | None = None
    newest_first: bool = False
    limit: int | None = None
    after: str | None = None

    @classmethod
    def of(
        cls,
        *,
        user: str | None = None,
        metric: str | MetricFilter | None = None,
        newest_first: bool = False,
        limit: int | None = None,
        after: str | None = None,
    ) -> Listing:
        """A checked `Listing` from the keywords of the registry's ``list_*`` methods."""
        if limit is not None and (
            isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT
        ):
            raise InvalidQueryError(
                f"A page holds 1 to {MAX_LIMIT} rows, got limit={limit!r}. Pass a whole "
                "number in that range (--limit N in maas and %maas), or no limit for every row."
            )
        return cls(
            user=user,
            metric=None if metric is None else MetricFilter.parse(metric),
            newest_first=bool(newest_first),
            limit=limit,
            after=after or None,
        )

    def select(
        self, table: str, keys: Sequence[str], *, name: str | None, metric_value: MetricValue
    ) -> tuple[str, list[Any]]:
        """The SQL (``?`` placeholders) and parameters of this page of *table*, ordered
        by the columns *keys*; one row more than the page, to tell if another follows."""
        where: list[str] = []
        params: list[Any] = []
        if name is not None:
            where.append("name = ?")
            params.append(name)
        if self.user is not None:
            where.append("created_by = ?")
            params.append(self.user)
        if self.metric is not None:
            value, named = metric_value(self.metric.name)
            where.append(f"{value} {self.metric.op} ?")
            params += [named, self.metric.value]
        start = self.position(table, name, len(keys))
        if start is not None:
            marks = ", ".join("?" for _ in keys)
            where.append(f"({', '.join(keys)}) {'<' if self.newest_first else '>'} ({marks})")
            params += start
        direction = " DESC" if self.newest_first else ""
        # The table and key columns are the stores' own names; every value is a parameter.
        sql = f"SELECT * FROM {table}"  # noqa: S608
        if where:
            sql += " WHERE " + " AND ".join(where)
        sql += " ORDER BY " + ", ".join(k + direction for k in keys)
        if self.limit is not None:
            sql += " LIMIT ?"
            params.append(self.limit + 1)
        return sql, params

    def page(
        self,
        rows: Sequence[Any],
        record: Callable[[Any], T],
        *,
        table: str,
        name: str | None,
        keys: Sequence[str],
    ) -> Page[T]:
        """The records of *rows* (fetched by `select`) and the cursor of the next page."""
        if self.limit is None or len(rows) <= self.limit:
            return Page(record(r) for r in rows)
        shown = rows[: self.limit]
        last = [shown[-1][k] for k in keys]
        return Page((record(r) for r in shown), _encode([self._fingerprint(table, name), *last]))

    def position(self, table: str, name: str | None, size: int) -> list[Any] | None:
        """The key the page starts after (decoded from `after`), or None for the first."""
        if self.after is None:
            return None
        decoded = _decode(self.after)
        if (
            not isinstance(decoded, list)
            or len(decoded) != size + 1
            or decoded[0] != self._fingerprint(table, name)
        ):
            raise InvalidQueryError(
                f"The cursor {self.after!r} does not come from this listing ({table}"
                f"{f' of {name!r}' if name else ''} with these filters and this order). "
                "Pass the cursor the page before printed (next=, or --after in maas and "
                "%maas) with the same filters, or leave it out to start at the first page."
            )
        return decoded[1:]

    def _fingerprint(self, table: str, name: str | None) -> str:
        shown = json.dumps([table, name, self.user, str(self.metric), self.newest_first])
        return hashlib.sha256(shown.encode()).hexdigest()[:12]


#: Every row, oldest first, unfiltered: what ``list_*`` without keywords returns.
EVERYTHING = Listing()


def _encode(value: Any) -> str:
    text = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(text).decode().rstrip("=")


def _decode(cursor: str) -> Any:
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        return json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, TypeError):  # binascii.Error and JSONDecodeError are ValueErrors
        return None
