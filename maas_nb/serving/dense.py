"""Big JSON arrays of numbers parsed straight into numpy, a piece at a time.

``json.loads`` turns ``[[5.1, 3.5], [4.9, 3.0], ...]`` into a Python list per row and a
float object per value: about 3x the text for floats and 24x for ``[[], [], ...]``,
before numpy copies it once more. And it holds the GIL from the first byte to the
last, so a worker thread parsing a 16 MiB body stalls the event loop for as long.

So a big body is read this way instead:

1. Find the arrays worth it: runs of at least `MIN_ARRAY` bytes that hold nothing but
   digits, signs, ``.``, ``e``, brackets, commas and whitespace (so no strings, hence no
   brackets inside strings), opening right after ``:``, ``,`` or ``[``. One pass over
   the body, `WINDOW` bytes at a time, with numpy lookup tables.
2. For each, one pass for its bracket depth finds where it closes, counts its elements
   and notes a split point (a comma at depth 1) every `WINDOW` bytes.
3. Parse each piece between split points with orjson, convert it with numpy and copy
   it into one preallocated array. A piece holds the GIL for about a millisecond, so
   the event loop keeps answering; its Python objects are freed before the next piece.
4. Parse the rest of the document with the standard library, each array replaced by a
   unique placeholder string, then put the arrays in place of their placeholders.

The result equals ``np.asarray`` of what ``json.loads`` gives for those arrays. Anything
unexpected (ragged rows, integers beyond 64 bits, a syntax error anywhere) returns None,
and the caller parses the whole body with the standard library, so results and error
messages are the standard ones. That path does not get the memory bound.
"""

from __future__ import annotations

import itertools
import json
import math
import secrets
from typing import Any

import numpy as np
import orjson

MIN_ARRAY = 64 * 1024
#: The deepest array taken here: a batch of rows of OIP's deepest tensor (8 dimensions).
#: Anything deeper goes to the standard parser, which refuses it cleanly; orjson before
#: 3.9.15 had no recursion limit and crashed the process on deep brackets (CVE-2024-27454).
MAX_DEPTH = 9
WINDOW = 64 * 1024

_NUMERIC = np.zeros(256, dtype=bool)
_NUMERIC[np.frombuffer(b"0123456789+-.eE[], \t\r\n", dtype=np.uint8)] = True
_DEPTH = np.zeros(256, dtype=np.int8)
_DEPTH[ord("[")], _DEPTH[ord("]")] = 1, -1
_FLOAT = np.zeros(256, dtype=bool)
_FLOAT[np.frombuffer(b".eE", dtype=np.uint8)] = True
_WHITESPACE = b" \t\r\n"
_COMMA = ord(",")


def loads(body: bytes) -> dict[str, Any] | None:
    """The JSON object in *body* with its big numeric arrays as ndarrays; None to fall back."""
    view = np.frombuffer(body, dtype=np.uint8)
    arrays: list[tuple[int, int, np.ndarray]] = []
    for start, stop in _numeric_runs(view):
        arrays += _arrays_in(body, view, start, stop)
    if not arrays:
        return None
    marker = f"\u0000maas-array-{secrets.token_hex(8)}-"
    pieces, at = [], 0
    for i, (start, stop, _) in enumerate(arrays):
        pieces += [bytes(body[at:start]), json.dumps(f"{marker}{i}").encode()]
        at = stop
    pieces.append(bytes(body[at:]))
    try:
        payload = json.loads(b"".join(pieces))
    except (ValueError, RecursionError):
        return None
    if not isinstance(payload, dict):
        return None
    found = _put_back(payload, marker, [a for _, _, a in arrays])
    return payload if found == len(arrays) else None


def _numeric_runs(view: np.ndarray) -> list[tuple[int, int]]:
    """Maximal runs of at least `MIN_ARRAY` numeric-array bytes, as (start, stop)."""
    runs: list[tuple[int, int]] = []
    open_at: int | None = None
    before = False
    for lo in range(0, len(view), WINDOW):
        numeric = _NUMERIC[view[lo : lo + WINDOW]]
        previous = np.empty_like(numeric)
        previous[0], previous[1:] = before, numeric[:-1]
        edges = np.flatnonzero(numeric != previous)
        starts = (edges[numeric[edges]] + lo).tolist()
        stops = (edges[~numeric[edges]] + lo).tolist()
        if open_at is not None and stops:
            if stops[0] - open_at >= MIN_ARRAY:
                runs.append((open_at, stops[0]))
            open_at, stops = None, stops[1:]
        closed = np.asarray(stops[: len(starts)], dtype=np.int64)
        opened = np.asarray(starts[: len(closed)], dtype=np.int64)
        for k in np.flatnonzero(closed - opened >= MIN_ARRAY).tolist():
            runs.append((int(opened[k]), int(closed[k])))
        if len(starts) > len(stops):
            open_at = starts[-1]
        before = bool(numeric[-1])
    if open_at is not None and len(view) - open_at >= MIN_ARRAY:
        runs.append((open_at, len(view)))
    return runs


def _arrays_in(
    body: bytes, view: np.ndarray, start: int, stop: int
) -> list[tuple[int, int, np.ndarray]]:
    """The big arrays in one numeric run: (start, stop, array) each."""
    found: list[tuple[int, int, np.ndarray]] = []
    while True:
        opening = body.find(b"[", start, stop)
        if opening < 0 or not _value_starts(body, opening):
            return found
        scanned = _scan(body, view, opening, stop)
        if scanned is None:
            return found
        closing, count, splits, floats, depth = scanned
        if depth > MAX_DEPTH:
            return found
        if closing + 1 - opening < MIN_ARRAY or not _value_ends(body, closing + 1):
            return found
        array = _convert(body, view, opening, closing, count, splits, floats, depth)
        if array is None:
            return found
        found.append((opening, closing + 1, array))
        start = closing + 1


def _value_starts(body: bytes, at: int) -> bool:
    i = at - 1
    while i >= 0 and body[i] in _WHITESPACE:
        i -= 1
    return i >= 0 and body[i] in b":,["


def _value_ends(body: bytes, at: int) -> bool:
    i = at
    while i < len(body) and body[i] in _WHITESPACE:
        i += 1
    return i < len(body) and body[i] in b",]}"


def _scan(
    body: bytes, view: np.ndarray, opening: int, stop: int
) -> tuple[int, int, list[int], bool, int] | None:
    """Where the array at *opening* closes: its element count, split points, whether any
    number is a float, and its depth."""
    depth, deepest, commas, splits, floats = 0, 0, 0, [], False
    for lo in range(opening, stop, WINDOW):
        window = view[lo : min(lo + WINDOW, stop)]
        depths = np.cumsum(_DEPTH[window], dtype=np.int64) + depth
        closed = np.flatnonzero(depths == 0)
        end = int(closed[0]) if closed.size else len(window)
        top = np.flatnonzero((window[:end] == _COMMA) & (depths[:end] == 1))
        commas += top.size
        if top.size:
            splits.append(lo + int(top[-1]))
        floats = floats or bool(_FLOAT[window[:end]].any())
        deepest = max(deepest, int(depths[:end].max(initial=0)))
        if closed.size:
            return lo + end, commas + 1, splits, floats, deepest
        depth = int(depths[-1])
    return None


def _convert(
    body: bytes,
    view: np.ndarray,
    opening: int,
    closing: int,
    count: int,
    splits: list[int],
    floats: bool,
    depth: int,
) -> np.ndarray | None:
    """The array between *opening* and *closing*, parsed piece by piece, or None."""
    out: np.ndarray | None = None
    filled = 0
    bounds = [opening, *splits, closing]
    for a, b in itertools.pairwise(bounds):
        try:
            if depth == 2:
                piece = _rows(view[a + 1 : b], None if out is None else out.shape[1])
            else:
                piece = np.asarray(orjson.loads(b"[" + bytes(body[a + 1 : b]) + b"]"))
        except (ValueError, TypeError, OverflowError, RecursionError):
            return None
        if piece is None or piece.dtype.kind not in "iuf" or piece.ndim == 0:
            return None
        if out is None:
            inner = piece.shape[1:]
            # What np.asarray gives: float64 if there is any float (or no number at all).
            dtype = np.float64 if floats or math.prod(inner) == 0 else np.int64
            out = np.empty((count, *inner), dtype=dtype)
        if piece.shape[1:] != out.shape[1:] or filled + len(piece) > count:
            return None
        if piece.size and piece.dtype != out.dtype and out.dtype != np.float64:
            return None  # integers beyond int64 (orjson makes those floats or uint64)
        out[filled : filled + len(piece)] = piece
        filled += len(piece)
    return out if filled == count else None


# Tokens of a piece of rows: each class, and its depth after it (0 between rows, 1 in one).
_WS, _NUM, _OPEN, _CLOSE, _SEP = range(5)
_CLASS = np.full(256, _NUM, dtype=np.int8)
_CLASS[np.frombuffer(_WHITESPACE, dtype=np.uint8)] = _WS
_CLASS[ord("[")], _CLASS[ord("]")], _CLASS[_COMMA] = _OPEN, _CLOSE, _SEP
_STEP = np.array([0, 0, 1, -1, 0], dtype=np.int8)
_ALLOWED = np.zeros((10, 10), dtype=bool)
for _before, _after in [
    ((_OPEN, 1), (_NUM, 1)),
    ((_OPEN, 1), (_CLOSE, 0)),
    ((_NUM, 1), (_SEP, 1)),
    ((_NUM, 1), (_CLOSE, 0)),
    ((_SEP, 1), (_NUM, 1)),
    ((_CLOSE, 0), (_SEP, 0)),
    ((_SEP, 0), (_OPEN, 1)),
]:
    _ALLOWED[_before[0] * 2 + _before[1], _after[0] * 2 + _after[1]] = True


def _rows(piece: np.ndarray, width: int | None) -> np.ndarray | None:
    """``[a, b], [c, d], ...`` (rows of numbers) as a 2-D array, without a list per row.

    The grammar is checked on tokens with numpy; the numbers, with the brackets blanked
    out, are parsed by orjson as one flat list (which checks each number is JSON)."""
    if piece.size == 0:
        return None
    kind = _CLASS[piece]
    previous = np.empty_like(kind)
    previous[0], previous[1:] = _WS, kind[:-1]
    tokens = kind[(kind != _WS) & ((kind != _NUM) | (previous != _NUM))]
    if tokens.size == 0:
        return None
    depth = np.cumsum(_STEP[tokens], dtype=np.int64)
    if depth.min() < 0 or depth.max() > 1 or tokens[0] != _OPEN or tokens[-1] != _CLOSE:
        return None
    code = tokens.astype(np.int64) * 2 + depth
    if not _ALLOWED[code[:-1], code[1:]].all():
        return None
    numbers = np.cumsum(tokens == _NUM)[tokens == _CLOSE]
    widths = np.diff(numbers, prepend=0)
    n = int(widths.size)
    if width is None:
        width = int(widths[0])
    if not (widths == width).all():
        return None
    if width == 0:
        return np.empty((n, 0), dtype=np.float64)
    text = piece.copy()
    text[(kind == _OPEN) | (kind == _CLOSE)] = ord(" ")
    flat = np.asarray(orjson.loads(b"[" + text.tobytes() + b"]"))
    return flat.reshape(n, width) if flat.size == n * width else None


def _put_back(payload: Any, marker: str, arrays: list[np.ndarray]) -> int:
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
