"""Big JSON arrays of numbers parsed straight into numpy, a piece at a time.

``json.loads`` turns ``[[5.1, 3.5], [4.9, 3.0], ...]`` into a Python list per row and a
float object per value: about 3x the text for floats and 24x for ``[[], [], ...]``,
before numpy copies it once more. And it holds the GIL from the first byte to the
last, so a worker thread parsing a 16 MiB body stalls the event loop for as long.

So an array that `scan` found to hold nothing but digits, signs, ``.``, ``e``, brackets,
commas and whitespace is read this way instead:

1. One pass for its bracket depth, `WINDOW` bytes at a time, counts its elements and
   notes a split point (a comma at depth 1) every window.
2. Each piece between split points is parsed with orjson, converted with numpy and
   copied into one preallocated array. A piece holds the GIL for about a millisecond, so
   the event loop keeps answering; its Python objects are freed before the next piece.

The result equals ``np.asarray`` of what ``json.loads`` gives for the array. Anything
unexpected (ragged rows, integers beyond 64 bits, a syntax error) returns None, and
`scan` parses the array as a list instead (or falls back to the standard parser).
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import orjson

#: The deepest array taken here: a batch of rows of OIP's deepest tensor (8 dimensions).
#: Anything deeper goes to the standard parser, which refuses it cleanly; orjson before
#: 3.9.15 had no recursion limit and crashed the process on deep brackets (CVE-2024-27454).
MAX_DEPTH = 9
WINDOW = 64 * 1024

NUMERIC = np.zeros(256, dtype=bool)
NUMERIC[np.frombuffer(b"0123456789+-.eE[], \t\r\n", dtype=np.uint8)] = True
_DEPTH = np.zeros(256, dtype=np.int8)
_DEPTH[ord("[")], _DEPTH[ord("]")] = 1, -1
_FLOAT = np.zeros(256, dtype=bool)
_FLOAT[np.frombuffer(b".eE", dtype=np.uint8)] = True
_WHITESPACE = b" \t\r\n"
_COMMA = ord(",")


def convert(
    body: bytes | bytearray, view: np.ndarray, opening: int, closing: int
) -> np.ndarray | None:
    """The array of numbers between the brackets at *opening* and *closing*, or None."""
    scanned = _scan(body, view, opening, closing + 1)
    if scanned is None or scanned[0] != closing or scanned[4] > MAX_DEPTH:
        return None
    _, count, splits, floats, depth = scanned
    return _convert(body, view, opening, closing, count, splits, floats, depth)


def _scan(
    body: bytes | bytearray, view: np.ndarray, opening: int, stop: int
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
    body: bytes | bytearray,
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
