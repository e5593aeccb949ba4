"""The answers a deployment's live window remembers, so that feedback posted later is
joined to what every version answered.

Answers come in chunks: the answers of a version's requests, told by their batches or
one by one (`window.DEFER` requests or rows at a time), or of one batch of a shadow's
copies. A `Chunk` holds their request ids in a list and the answers end to end
in one numpy array (row offsets beside it), so remembering a request costs no Python
object of its own beyond its id, and the garbage collector walks a chunk's two objects,
not one per answer. A `Memory` holds one
deployment's chunks, oldest first (the arms' and the shadows' in a queue each, so the
oldest of a kind is always at a head, never searched for), and forgets the oldest answers
beyond its bounds, from the head of the oldest chunk of the kind over its bound: the ids
of the arms' answers (`remember`; a shadow's copies are bounded alike), the rows of the
arms' answers, and the bytes of every answer (any kind). What it holds is counted until
it is forgotten, joined or not.

Ids are looked up only when feedback comes (`find`): an index per version (id -> the
newest chunk holding it) is made then, from the chunks not yet indexed, so a deployment
that never gets feedback never pays for one; once made, an answer forgotten leaves it
too. An id joined is marked in its chunk and taken out of the index: a second join of
it finds nothing, and neither does an index made afresh; a shadow's copy of it answered
after the join is not remembered. A client that reuses an id is answered twice; the
newest answer is the one joined. The arrays of a chunk are read-only.
"""

from __future__ import annotations

import collections
import contextlib
import itertools
from collections.abc import Sequence

import numpy as np

from .answers import answer_bytes, row_bytes


class Chunk:
    """Answers of one version to some requests: ids, answers end to end, offsets."""

    __slots__ = (
        "answer",
        "bytes",
        "ids",
        "indexed",
        "joined",
        "label",
        "offsets",
        "seq",
        "shadow",
        "start",
    )

    def __init__(
        self,
        label: str,
        ids: list[str],
        answer: np.ndarray | list[np.ndarray],
        offsets: np.ndarray,
        sizes: np.ndarray,
        *,
        shadow: bool = False,
    ) -> None:
        self.label, self.ids, self.shadow = label, ids, shadow
        #: One array of every answer's rows end to end; a list of the answers when they
        #: do not concatenate (dtypes or row shapes differ).
        self.answer = answer
        for array in answer if isinstance(answer, list) else (answer,):
            array.flags.writeable = False  # what a join scores cannot be changed by a reader
        self.offsets = offsets  # answer i is rows offsets[i]:offsets[i + 1]
        self.bytes = sizes  # cumulative bytes: answer i holds bytes[i + 1] - bytes[i]
        self.start = 0  # answers before it are forgotten
        self.joined: set[str] | None = None  # ids already joined to feedback
        self.indexed = False  # its ids are in its memory's index
        self.seq = 0  # its place among the chunks its memory was given (`Memory.add`)

    @classmethod
    def of_pieces(
        cls,
        label: str,
        ids: list[str],
        pieces: Sequence[np.ndarray],
        offsets: Sequence[Sequence[int]],
    ) -> Chunk:
        """The chunk of the answers in *pieces* (each one or a batch's; piece j holds
        the answers to the next ``len(offsets[j]) - 1`` ids, answer i its rows
        ``offsets[j][i]:offsets[j][i + 1]``), concatenated when they can be."""
        ends, base = [0], 0
        for local in offsets:
            ends += [base + stop for stop in local[1:]]
            base += local[-1]
        at = np.asarray(ends, np.int64)
        answer: np.ndarray | list[np.ndarray] | None = None
        if len({dtype.kind for dtype in {a.dtype for a in pieces}}) == 1:
            # In one array of their common dtype (strings of different widths and ints
            # of different sizes widen); rows of different shapes stay a list.
            with contextlib.suppress(TypeError, ValueError):
                answer = np.concatenate(pieces)
        if answer is None:  # a copy each: a view would hold its whole piece
            answer = [
                piece[local[i] : local[i + 1]].copy()
                for piece, local in zip(pieces, offsets, strict=True)
                for i in range(len(local) - 1)
            ]
        if isinstance(answer, np.ndarray):
            sizes = at * row_bytes(answer)
        else:
            n = len(ids)
            sizes = np.zeros(n + 1, np.int64)
            np.cumsum(np.fromiter(map(answer_bytes, answer), np.int64, n), out=sizes[1:])
        return cls(label, ids, answer, at, sizes)

    @classmethod
    def whole(
        cls,
        label: str,
        ids: list[str],
        answer: np.ndarray,
        offsets: Sequence[int],
        *,
        shadow: bool = False,
    ) -> Chunk:
        """The chunk of answers already end to end in *answer* (a batch's; a shadow's:
        *shadow*), copied: the array a model returned may be one it reuses, and a view
        would hold its base."""
        answer = answer.copy()
        at = np.asarray(offsets, np.int64)
        return cls(label, ids, answer, at, at * row_bytes(answer), shadow=shadow)

    def answer_at(self, i: int) -> np.ndarray:
        if isinstance(self.answer, list):
            return self.answer[i]
        return self.answer[int(self.offsets[i]) : int(self.offsets[i + 1])]

    def position(self, request_id: str) -> int | None:
        """Where the newest remembered answer to *request_id* is (None: not here)."""
        ids, at = self.ids, None
        try:
            while True:  # an id is mostly once in a chunk: one more search finds no other
                at = ids.index(request_id, self.start if at is None else at + 1)
        except ValueError:
            return at


class Memory:
    """One deployment's remembered answers, within bounds (see the module)."""

    def __init__(self, remember: int, remember_rows: int, remember_bytes: int) -> None:
        self.remember, self.remember_rows = remember, remember_rows
        self.remember_bytes = remember_bytes
        #: The chunks of the arms' answers and those of the shadows', each oldest first
        #: (the oldest of a kind is forgotten first: one at the head, never a search).
        self._arms: collections.deque[Chunk] = collections.deque()
        self._copies: collections.deque[Chunk] = collections.deque()
        self.requests = 0  # ids of the arms' answers held
        self.copies = 0  # ids of the shadows' answers held
        self.rows = 0  # rows of the arms' answers held
        self.bytes = 0  # bytes of every answer held
        #: label -> id -> the newest chunk holding it (see `find`); None: not made yet.
        self._index: dict[str, dict[str, Chunk]] | None = None
        self._indexed = 0  # chunks added (`_added`) the index covers
        self._added = 0
        #: The ids joined lately (at most `remember`, oldest first): a shadow's copy of
        #: one, answered after the join, is not remembered (it would join a second time).
        self._joined: collections.OrderedDict[str, None] = collections.OrderedDict()

    def add(self, chunk: Chunk) -> None:
        """Remember *chunk*'s answers, forgetting the oldest beyond the bounds."""
        n = len(chunk.ids)
        if chunk.shadow:
            self.copies += n
        else:
            self.requests += n
            self.rows += int(chunk.offsets[n])
        self.bytes += int(chunk.bytes[n])
        chunk.seq = self._added
        (self._copies if chunk.shadow else self._arms).append(chunk)
        self._added += 1
        self._keep()

    @property
    def chunks(self) -> list[Chunk]:
        """Every chunk held, oldest first."""
        return sorted((*self._arms, *self._copies), key=lambda chunk: chunk.seq)

    def add_copies(
        self, label: str, ids: list[str], answer: np.ndarray, offsets: Sequence[int]
    ) -> None:
        """Remember a shadow's answers to a batch of copies (end to end in *answer*),
        but those to ids joined already."""
        if self._joined and not self._joined.keys().isdisjoint(ids):
            keep = [i for i, request_id in enumerate(ids) if request_id not in self._joined]
            if not keep:
                return
            parts = [answer[offsets[i] : offsets[i + 1]] for i in keep]
            ids, answer = [ids[i] for i in keep], np.concatenate(parts)
            offsets = [0, *itertools.accumulate(map(len, parts))]
        self.add(Chunk.whole(label, ids, answer, offsets, shadow=True))

    def _keep(self) -> None:
        """Forget the oldest answers until every bound holds: the oldest arm answers for
        the rows and the ids of arms, the oldest copies for theirs, the oldest answers
        of any version for the bytes."""
        while True:
            if self.rows > self.remember_rows:
                chunk = self._arms[0]
                want = int(chunk.offsets[chunk.start]) + self.rows - self.remember_rows
                k = int(np.searchsorted(chunk.offsets, want)) - chunk.start
            elif self.bytes > self.remember_bytes:
                chunk = self._oldest()
                want = int(chunk.bytes[chunk.start]) + self.bytes - self.remember_bytes
                k = int(np.searchsorted(chunk.bytes, want)) - chunk.start
            elif self.requests > self.remember:
                chunk = self._arms[0]
                k = self.requests - self.remember
            elif self.copies > self.remember:
                chunk = self._copies[0]
                k = self.copies - self.remember
            else:
                return
            self._forget(chunk, chunk.start + min(max(k, 1), len(chunk.ids) - chunk.start))

    def _oldest(self) -> Chunk:
        """The oldest chunk held, of either kind."""
        if not self._copies or (self._arms and self._arms[0].seq < self._copies[0].seq):
            return self._arms[0]
        return self._copies[0]

    def _forget(self, chunk: Chunk, to: int) -> None:
        """Forget the answers before position *to* of *chunk*, the oldest of its kind
        (all of them: drop it)."""
        start = chunk.start
        if chunk.shadow:
            self.copies -= to - start
        else:
            self.requests -= to - start
            self.rows -= int(chunk.offsets[to] - chunk.offsets[start])
        self.bytes -= int(chunk.bytes[to] - chunk.bytes[start])
        chunk.start = to
        index = self._index
        if index is not None and chunk.indexed:  # no entry outlives its answer
            by_id = index[chunk.label]
            for request_id in chunk.ids[start:to]:
                if by_id.get(request_id) is chunk:
                    del by_id[request_id]
        if to == len(chunk.ids):
            (self._copies if chunk.shadow else self._arms).popleft()

    # -- lookups (feedback) --------------------------------------------------------------

    def find(self, request_id: str) -> dict[str, tuple[Chunk, int]]:
        """Per version, the chunk and position of its remembered, unjoined answer to
        *request_id* (`index` first)."""
        found: dict[str, tuple[Chunk, int]] = {}
        for label, by_id in self.index().items():
            chunk = by_id.get(request_id)
            if chunk is None:
                continue
            at = chunk.position(request_id)  # (an answer forgotten left the index)
            if at is not None:
                found[label] = (chunk, at)
        return found

    def joined(self, request_id: str, found: dict[str, tuple[Chunk, int]]) -> None:
        """Mark *request_id* joined in each chunk of *found* (see `find`)."""
        index = self.index()
        for label, (chunk, _) in found.items():
            if chunk.joined is None:
                chunk.joined = set()
            chunk.joined.add(request_id)
            index.get(label, {}).pop(request_id, None)
        self._joined[request_id] = None
        if len(self._joined) > self.remember:
            self._joined.popitem(last=False)

    def index(self) -> dict[str, dict[str, Chunk]]:
        """The index of ids, brought up to date with the chunks added since it was."""
        index = self._index
        afresh = index is None
        if index is None:
            index = self._index = {}
            self._indexed = 0
        if self._indexed < self._added:
            fresh = sorted(
                (*self._newer(self._arms), *self._newer(self._copies)), key=lambda c: c.seq
            )
            for chunk in fresh:  # oldest first: the newest answer to an id wins
                by_id = index.setdefault(chunk.label, {})
                by_id.update(zip(chunk.ids[chunk.start :], itertools.repeat(chunk)))
                chunk.indexed = True
            self._indexed = self._added
            if afresh:  # what was joined stays joined
                for chunk in fresh:
                    for request_id in chunk.joined or ():
                        if index[chunk.label].get(request_id) is chunk:
                            del index[chunk.label][request_id]
        return index

    def _newer(self, chunks: collections.deque[Chunk]) -> list[Chunk]:
        """The chunks of *chunks* added since the index was brought up to date."""
        newer = []
        for chunk in reversed(chunks):
            if chunk.seq < self._indexed:
                break
            newer.append(chunk)
        return newer

    def view(self) -> dict[str, dict[str, np.ndarray]]:
        """Per request id, each version's answer a join would count; the ids in the order
        of their oldest such answer, the versions in the order they answered."""
        chosen: dict[str, dict[str, tuple[int, int, np.ndarray]]] = {}
        seen: dict[str, set[str]] = {}
        for chunk in reversed(self.chunks):  # newest first: the newest wins
            n = chunk.seq
            older = seen.setdefault(chunk.label, set())
            for i in range(len(chunk.ids) - 1, chunk.start - 1, -1):
                request_id = chunk.ids[i]
                if request_id in older:
                    continue
                older.add(request_id)
                if chunk.joined is None or request_id not in chunk.joined:
                    answer = chunk.answer_at(i)
                    chosen.setdefault(request_id, {})[chunk.label] = (n, i, answer)
        return {
            request_id: {
                label: answer for label, (*_, answer) in sorted(by.items(), key=lambda x: x[1][:2])
            }
            for request_id, by in sorted(
                chosen.items(), key=lambda item: min(v[:2] for v in item[1].values())
            )
        }
