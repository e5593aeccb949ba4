"""Big arrays of strings kept compact, within the memory one request may take.

A Python str in a list costs about 57 bytes besides its text (a pointer and the object),
so 16 MiB of ``["ab", "cd", ...]`` would decode to 2.4 million strings and 140 MiB.
numpy's StringDType keeps a string of up to 15 bytes in its 16-byte slot and a longer one
in an arena beside the array, and sklearn's text pipelines iterate it as they do a list.
That is still more than the body for short strings (16 bytes for the 5 of ``"ab",``), so
a request whose body and strings would together take more than twice the server's
``--max-body`` is refused with 413, saying how many strings it holds, what they would
take and what to send instead: before any string is made when their 16-byte slots alone
pass the limit, else as soon as the long ones do.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

from .decoding import MAX_BODY
from .errors import BadRequest, PayloadTooLarge

TEXT = np.dtypes.StringDType()
SLOT, INLINE = 16, 15
#: The arena holds a long string with a header, and grows ahead of its contents.
ARENA = 1.25
_CHUNK = 4096
MiB = 1024 * 1024


def is_compact(values: Any) -> bool:
    """Whether *values* is an array of strings in the compact form."""
    return isinstance(values, np.ndarray) and values.dtype.kind == "T"


class Budget:
    """The strings of one array filled in pieces, refused (413) as soon as the body and
    what they take pass twice the server's --max-body: the 16-byte slots are counted
    before the array is made, the arena for long strings as each piece arrives."""

    def __init__(self, count: int, body_size: int) -> None:
        self.count, self.body_size, self.limit = count, body_size, 2 * MAX_BODY.get()
        self.used, self.filled = SLOT * count, 0
        self._check()
        self.array = np.empty(count, dtype=TEXT)

    def add(self, piece: list[str]) -> None:
        """Put *piece* after the strings so far (it must fit in the count)."""
        self.used += int(ARENA * sum(len(s) for s in piece if len(s) > INLINE))
        self._check()
        self.array[self.filled : self.filled + len(piece)] = piece
        self.filled += len(piece)

    def _check(self) -> None:
        total = self.body_size + self.used
        if total > self.limit:
            fits = max(1, int(self.count * self.limit / total))
            raise PayloadTooLarge(
                f"The request holds {self.count} strings in one array: decoded they take "
                f"{'about' if self.filled else 'at least'} {self.used / MiB:.1f} MiB besides "
                f"the body's {self.body_size / MiB:.1f} MiB, over the {self.limit / MiB:.0f} "
                "MiB this server allows one request (twice its --max-body). Send at most "
                f"about {fits} such strings per request, or start the server with a larger "
                "--max-body."
            )


def from_binary(raw: memoryview, *, where: str) -> np.ndarray:
    """BYTES elements of the binary tensor extension (uint32 length, then UTF-8) as a
    StringDType array; the same errors, at the same element, as element by element."""
    size, i, count = len(raw), 0, 0
    while i + 4 <= size:  # the whole elements first, to allocate once
        (n,) = struct.unpack_from("<I", raw, i)
        if i + 4 + n > size:
            break
        i += 4 + n
        count += 1
    out = Budget(count, size)
    chunk: list[str] = []
    i = 0
    while i < size:
        if i + 4 > size:
            raise BadRequest(f"{where}: truncated BYTES element.")
        (n,) = struct.unpack_from("<I", raw, i)
        if i + 4 + n > size:
            raise BadRequest(f"{where}: truncated BYTES element.")
        try:
            chunk.append(str(raw[i + 4 : i + 4 + n], "utf-8"))
        except UnicodeDecodeError:
            raise BadRequest(f"{where}: BYTES elements must be UTF-8 text.") from None
        i += 4 + n
        if len(chunk) == _CHUNK:
            out.add(chunk)
            chunk = []
    out.add(chunk)
    return out.array
