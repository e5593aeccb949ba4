"""Big JSON arrays of any kind, found by a string-aware scan and parsed a piece at a time.

``json.loads`` holds the GIL from the first byte of a body to the last, so a worker thread
decoding 16 MiB of strings stalls the event loop (and every health check) for as long. So
a big body is read this way instead:

1. One pass over the body, `WINDOW` bytes at a time and vectorised with numpy, finds its
   structure the way simdjson does: a quote after an odd run of backslashes is escaped,
   the other quotes open and close strings (a running parity carried across windows), and
   brackets, braces and commas outside strings are structural. A container that opens and
   closes inside one window is small and ignored; one that spans a window edge goes on a
   stack (at most `MAX_DEPTH` deep), each array with its count of top-level commas and one
   split point (a top-level comma) per window.
2. Each array of at least `MIN_ARRAY` bytes that holds no such array itself is taken. One
   of nothing but numbers goes to `dense`. Any other is parsed by orjson a piece (between
   split points, about a window) at a time, so each piece holds the GIL about a
   millisecond. An array of only strings is kept compact (see `strings`), one of records
   sharing their keys as columns (see `records`); others become the lists ``json.loads``
   gives.
3. The rest of the document is parsed by the standard library with each array replaced by
   a unique placeholder string, and the arrays are put in place of their placeholders.

orjson differs from the standard library on integers beyond 64 bits (it makes floats),
NaN and Infinity, and lone surrogates. So an array with a run of `LONG_DIGITS` digits
outside strings, or any piece orjson refuses, or anything else unexpected, returns None:
the caller then parses the whole body with `stdjson`, whose results and error messages are
the standard library's.
"""

from __future__ import annotations

import itertools
import json
import secrets
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import orjson

from . import dense, records, strings

MIN_ARRAY = 64 * 1024
WINDOW = 64 * 1024
#: Containers spanning window edges nested deeper than this are left to the standard parser.
MAX_DEPTH = 64
#: orjson turns integers of 20 digits (and some of 19) into floats; json keeps them exact.
LONG_DIGITS = 19

_QUOTE, _BACKSLASH, _COMMA = ord('"'), ord("\\"), ord(",")
_OPENERS = b"[{"
_CLOSER = {ord("["): ord("]"), ord("{"): ord("}")}
_STEP = np.zeros(256, dtype=np.int8)
_STEP[list(b"[{")], _STEP[list(b"]}")] = 1, -1
_OPENER = _STEP == 1
_DIGIT = np.zeros(256, dtype=bool)
_DIGIT[list(b"0123456789")] = True
_NOT_NUMERIC = ~dense.NUMERIC
_WHITESPACE = b" \t\r\n"


@dataclass
class _Open:
    """A container open across a window edge."""

    at: int
    kind: int
    level: int
    commas: int = 0
    splits: list[int] = field(default_factory=list)
    numeric: bool = True
    holds_taken: bool = False


@dataclass(frozen=True)
class Span:
    """A big array of the body: its brackets' offsets, element count and split points."""

    opening: int
    closing: int
    count: int
    splits: list[int]
    numeric: bool


class _Scanner:
    """The structural scan of one body (step 1 of the module docstring)."""

    def __init__(self, view: np.ndarray) -> None:
        self.view = view
        self.stack: list[_Open] = []
        self.found: list[Span] = []
        self.long_runs: list[np.ndarray] = []  # where runs of LONG_DIGITS digits end

    def run(self) -> list[Span] | None:
        in_string, backslashes, depth = 0, 0, 0
        digits_tail = np.zeros(LONG_DIGITS - 1, dtype=bool)
        for lo in range(0, len(self.view), WINDOW):
            w = self.view[lo : lo + WINDOW]
            n = len(w)
            quote = w == _QUOTE
            backslash = w == _BACKSLASH
            if backslashes or backslash.any():
                ones = np.arange(1, n + 1)
                last = np.maximum.accumulate(np.where(backslash, 0, ones))
                run = ones - last + np.where(last == 0, backslashes, 0)
                before = np.empty(n, dtype=np.int64)
                before[0], before[1:] = backslashes, run[:-1]
                quote &= (before & 1) == 0
                backslashes = int(run[-1])
            parity = (np.cumsum(quote, dtype=np.int64) + in_string) & 1
            in_string = int(parity[-1])
            outside = (parity == 0) & ~quote
            digit = _DIGIT[w] & outside
            self._long_runs(lo, np.concatenate([digits_tail, digit]))
            digits_tail = np.concatenate([digits_tail, digit])[-(LONG_DIGITS - 1) :]
            depths = np.cumsum(_STEP[w] * outside, dtype=np.int64) + depth
            if not self._window(lo, w, outside, depths, depth):
                return None
            depth = int(depths[-1])
        if self.stack or in_string or depth:
            return None
        return self.found

    def _long_runs(self, lo: int, digits: np.ndarray) -> None:
        """Note where runs of `LONG_DIGITS` digits end; *digits* starts with the last
        ``LONG_DIGITS - 1`` flags of the window before."""
        total = np.cumsum(digits, dtype=np.int64)
        last = total[LONG_DIGITS - 1 :] - np.concatenate([[0], total[:-LONG_DIGITS]])
        hits = np.flatnonzero(last == LONG_DIGITS)
        if hits.size:
            hits = hits[np.diff(hits, append=-1) != 1]  # one per run (and window)
            self.long_runs.append(hits + lo)

    def _window(
        self, lo: int, w: np.ndarray, outside: np.ndarray, depths: np.ndarray, depth: int
    ) -> bool:
        low = min(depth, int(depths.min()))  # the levels open throughout the window
        if low < 0:
            return False
        commas = np.flatnonzero(outside & (w == _COMMA))
        comma_depths = depths[commas]
        other = np.flatnonzero(_NOT_NUMERIC[w])
        n = len(w)
        for entry in self.stack[:low]:
            self._account(entry, lo, commas, comma_depths, other, 0, n)
        for level in range(depth, low, -1):  # the containers closing here, innermost first
            at = int(np.argmax(depths < level))
            entry = self.stack.pop()
            if w[at] != _CLOSER[entry.kind]:
                return False
            self._account(entry, lo, commas, comma_depths, other, 0, at)
            self._close(entry, lo + at)
        opened, end = [], n
        for level in range(int(depths[-1]), low, -1):  # still open at the edge, innermost first
            below = depths[:end] < level  # the opener follows the last byte below its level
            end = len(below) - int(np.argmax(below[::-1])) if below.any() else 0
            if end >= n or not _OPENER[w[end]] or depths[end] != level:
                return False
            opened.append(end)
        for at in reversed(opened):
            entry = _Open(lo + at, int(w[at]), level=int(depths[at]))
            self._account(entry, lo, commas, comma_depths, other, at + 1, n)
            self.stack.append(entry)
        return len(self.stack) <= MAX_DEPTH

    @staticmethod
    def _account(
        entry: _Open,
        lo: int,
        commas: np.ndarray,
        comma_depths: np.ndarray,
        other: np.ndarray,
        start: int,
        stop: int,
    ) -> None:
        """Add the window's part [start, stop) of *entry* to its counts."""
        mine = commas[comma_depths == entry.level]
        mine = mine[np.searchsorted(mine, start) : np.searchsorted(mine, stop)]
        if mine.size:
            entry.commas += int(mine.size)
            entry.splits.append(lo + int(mine[-1]))
        if entry.numeric and np.searchsorted(other, start) < np.searchsorted(other, stop):
            entry.numeric = False

    def _close(self, entry: _Open, closing: int) -> None:
        taken = (
            entry.kind == ord("[") and closing + 1 - entry.at >= MIN_ARRAY and not entry.holds_taken
        )
        if taken:
            span = Span(entry.at, closing, entry.commas + 1, entry.splits, entry.numeric)
            self.found.append(span)
        if self.stack and (taken or entry.holds_taken):
            self.stack[-1].holds_taken = True

    def long_digits(self, span: Span) -> bool:
        """Whether *span* holds a run of `LONG_DIGITS` digits outside strings."""
        return any(
            np.searchsorted(runs, span.opening) < np.searchsorted(runs, span.closing)
            for runs in self.long_runs
        )


def loads(body: bytes | bytearray) -> dict[str, Any] | None:
    """The JSON object in *body* with its big arrays parsed piecewise; None to fall back.

    Raises `PayloadTooLarge` for an array of strings too big to decode (see `strings`)."""
    if not bytes(body[:WINDOW]).lstrip(_WHITESPACE).startswith(b"{"):
        return None  # not an object: the standard parser says what it is
    view = np.frombuffer(body, dtype=np.uint8)
    scanner = _Scanner(view)
    spans = scanner.run()
    if not spans:
        return None
    arrays: list[Any] = []
    for span in spans:
        array = None
        if span.numeric:
            array = dense.convert(body, view, span.opening, span.closing)
        if array is None and not scanner.long_digits(span):
            array = _pieces(body, span)
        if array is None:
            return None
        arrays.append(array)
    marker = f"\u0000maas-array-{secrets.token_hex(8)}-"
    parts, at = [], 0
    for i, span in enumerate(spans):
        parts += [bytes(body[at : span.opening]), json.dumps(f"{marker}{i}").encode()]
        at = span.closing + 1
    parts.append(bytes(body[at:]))
    skeleton = b"".join(parts)
    if len(skeleton) >= MIN_ARRAY:
        return None  # a big document of small pieces: the yielding parser's job
    try:
        payload = json.loads(skeleton)
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    return payload if _put_back(payload, marker, arrays) == len(arrays) else None


def _pieces(body: bytes | bytearray, span: Span) -> Any:
    """The array of *span*, parsed by orjson a piece at a time, or None to fall back."""
    text: strings.Budget | None = None
    table: records.Builder | None = None
    items: list | None = None
    filled = 0
    for a, b in itertools.pairwise([span.opening, *span.splits, span.closing]):
        try:
            piece = orjson.loads(b"[" + bytes(body[a + 1 : b]) + b"]")
        except orjson.JSONDecodeError:
            return None
        if not piece or filled + len(piece) > span.count:
            return None  # an empty piece is ",," or ",]" (json refuses those)
        if items is not None:
            items.extend(piece)
        elif text is not None or (not filled and all(type(v) is str for v in piece)):
            text = text or strings.Budget(span.count, len(body))
            if all(type(v) is str for v in piece):
                text.add(piece)
            else:
                items, text = [*text.array[:filled].tolist(), *piece], None
        elif table is not None or (not filled and type(piece[0]) is dict and piece[0]):
            table = table or records.Builder(piece[0], span.count)
            if not table.add(piece):
                items, table = [*table.to_list(), *piece], None
        else:
            items = piece
        filled += len(piece)
    if filled != span.count:
        return None
    if text is not None:
        return text.array
    return table.finish() if table is not None else items


def _put_back(payload: Any, marker: str, arrays: list[Any]) -> int:
    """Replace each placeholder string in *payload* with its array; return how many."""
    found = 0
    stack = [payload]
    while stack:
        node = stack.pop()
        items = node.items() if isinstance(node, dict) else enumerate(node)
        for key, value in items:
            if isinstance(value, str) and value.startswith(marker):
                node[key] = arrays[int(value[len(marker) :])]
                found += 1
            elif isinstance(value, (dict, list)):
                stack.append(value)
    return found
