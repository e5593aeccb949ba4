"""The answers the live window remembers for feedback: their size, how two versions'
answers agree, and how an answer scores against ground truth.

An answer is the output feedback and agreement compare (`answer_of`): one numpy array
of one row per request row (the window remembers them in chunks: see `memory`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .counts import Counts

#: What an answer of Python objects (strings) is counted per element besides its pointers.
OBJECT_BYTES = 64
#: Relative tolerance under which two regressors' answers count as agreeing.
AGREE_RTOL = 1e-6


def answer_of(outputs: dict[str, np.ndarray]) -> np.ndarray | None:
    """The output feedback and agreement compare: ``predictions``, else the first."""
    value = outputs.get("predictions")
    if value is None and outputs:
        value = next(iter(outputs.values()))
    return value


def row_bytes(answer: np.ndarray) -> int:
    """The memory of one row of *answer*; a string's characters estimated (`OBJECT_BYTES`)."""
    shape = answer.shape
    per_row = 1 if len(shape) == 1 else int(np.prod(shape[1:], dtype=np.int64))
    if answer.dtype.kind == "O":
        return per_row * (answer.itemsize + OBJECT_BYTES)
    return per_row * answer.itemsize


def answer_bytes(answer: np.ndarray) -> int:
    """The memory of one answer (`row_bytes` per row)."""
    return len(answer) * row_bytes(answer)


def agreeing(a: np.ndarray, b: np.ndarray) -> int:
    """How many rows of two answers agree (numbers within `AGREE_RTOL`, else equal);
    none for answers of different shapes."""
    if a.shape != b.shape:
        return 0
    if a.dtype.kind in "fc" or b.dtype.kind in "fc":
        try:
            same = np.isclose(a.astype(float), b.astype(float), rtol=AGREE_RTOL, atol=0.0)
        except (TypeError, ValueError):
            same = a == b
    else:
        same = a == b
    same = np.asarray(same)
    if same.ndim > 1:
        same = same.reshape(len(same), -1).all(axis=1)
    return int(same.sum())


def agreeing_pairs(theirs: Sequence[np.ndarray], mine: Sequence[np.ndarray]) -> int:
    """`agreeing` summed over pairs of answers, in one comparison when every pair has
    one length and each side one dtype (then row by row it is the same comparison)."""
    if not theirs:
        return 0
    if (
        len({a.dtype for a in theirs}) == 1
        and len({b.dtype for b in mine}) == 1
        and all(len(a) == len(b) for a, b in zip(theirs, mine, strict=True))
    ):
        try:
            return agreeing(np.concatenate(theirs), np.concatenate(mine))
        except ValueError:  # rows of different shapes: compared pair by pair
            pass
    return sum(agreeing(a, b) for a, b in zip(theirs, mine, strict=True))


def agreeing_rows(
    theirs: Sequence[np.ndarray | None],
    answer: np.ndarray,
    offsets: Sequence[int],
    joined: np.ndarray | None = None,
) -> tuple[int, int]:
    """The rows compared and the rows agreeing between each client's answer in *theirs*
    (None: not known) and the same request's rows of a shadow's *answer* (request i's
    are ``offsets[i]:offsets[i + 1]``). When every client's answer is known, all of one
    dtype, they are compared with *answer* as it is, in one comparison (each request's
    rows are as many on both sides, so row by row it is the same comparison); *joined*:
    those answers already end to end."""
    if joined is not None:
        return len(answer), agreeing(joined, answer)
    clients = [client for client in theirs if client is not None]
    if clients and len(clients) == len(theirs):
        dtype = clients[0].dtype
        if all(client.dtype == dtype for client in clients):
            with contextlib.suppress(ValueError):  # rows of different shapes: pair by pair
                return len(answer), agreeing(np.concatenate(clients), answer)
    mine = [answer[offsets[i] : offsets[i + 1]] for i, c in enumerate(theirs) if c is not None]
    return sum(map(len, mine)), agreeing_pairs(clients, mine)


def score(counts: Counts, answer: np.ndarray, truth: list[Any]) -> None:
    """Add feedback rows: right or wrong for labels, absolute errors for numbers."""
    counts.fed += len(truth)
    if answer.dtype.kind in "fc" and all(_is_number(t) for t in truth):
        errors = np.abs(
            answer.astype(float).reshape(len(truth), -1)[:, 0] - np.asarray(truth, float)
        )
        counts.abs_error += float(errors.sum())
        counts.sq_error += float((errors * errors).sum())
        counts.correct += int((errors == 0).sum())
        return
    for predicted, expected in zip(answer.tolist(), truth, strict=True):
        counts.correct += _same_label(predicted, expected)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _same_label(predicted: Any, expected: Any) -> bool:
    if predicted == expected:
        return True
    return str(predicted) == str(expected)
