"""The answers a deployment's live window remembers, so that feedback posted later is
joined to what every version answered.

Answers come in chunks: the answers of up to `window.DEFER` requests to one version
(label ``NAME:VERSION``), or of one batch of a shadow's copies. A `Chunk` holds their
request ids in a list and the answers end to end in one numpy array (row offsets beside
it), so remembering a request costs no Python object of its own beyond its id: the
requests' own answer arrays are freed once their chunk is made, and the garbage
collector never walks what is remembered. A `Memory` holds one deployment's chunks,
oldest first, and forgets the oldest answers (from the head of the oldest chunk) beyond
its bounds: the ids of the arms' answers (`remember`; a shadow's copies are bounded
alike), the rows of the arms' answers, and the bytes of every answer. What it holds is
counted until it is forgotten, joined or not.

Ids are looked up only when feedback comes (`find`): an index per version (id -> the
newest chunk holding it) is made then, from the chunks not yet indexed, so a deployment
that never gets feedback never pays for one. An id joined is marked in its chunk and
taken out of the index: a second join of it finds nothing, and neither does a rebuilt
index (made afresh when most of its entries point at forgotten answers). A client that
reuses an id is answered twice; the newest answer is the one joined.
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

    __slots__ = ("answer", "bytes", "gone", "ids", "joined", "label", "offsets", "shadow", "start")

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
        self.offsets = offsets  # answer i is rows offsets[i]:offsets[i + 1]
        self.bytes = sizes  # cumulative bytes: answer i holds bytes[i + 1] - bytes[i]
        self.start = 0  # answers before it are forgotten
        self.gone = False  # every answer forgotten
        self.joined: set[str] | None = None  # ids already joined to feedback

    @classmethod
    def of(cls, label: str, ids: list[str], answers: Sequence[np.ndarray]) -> Chunk:
        """The chunk of *answers* (one per id), concatenated when they can be."""
        n = len(ids)
        offsets = np.zeros(n + 1, np.int64)
        np.cumsum(np.fromiter(map(len, answers), np.int64, n), out=offsets[1:])
        answer: np.ndarray | list[np.ndarray] = list(answers)
        if len({dtype.kind for dtype in {a.dtype for a in answers}}) == 1:
            # In one array of their common dtype (strings of different widths and ints
            # of different sizes widen); rows of different shapes stay a list.
            with contextlib.suppress(TypeError, ValueError):
                answer = np.concatenate(answers)
        if isinstance(answer, np.ndarray):
            sizes = offsets * row_bytes(answer)
        else:
            sizes = np.zeros(n + 1, np.int64)
            np.cumsum(np.fromiter(map(answer_bytes, answers), np.int64, n), out=sizes[1:])
        return cls(label, ids, answer, offsets, sizes)

    @classmethod
    def joined_up(
        cls, label: str, ids: list[str], answer: np.ndarray, offsets: Sequence[int]
    ) -> Chunk:
        """The chunk of answers already end to end in *answer* (a shadow's batch)."""
        at = np.asarray(offsets, np.int64)
        return cls(label, ids, answer, at, at * row_bytes(answer), shadow=True)

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
        self.chunks: collections.deque[Chunk] = collections.deque()
        self.requests = 0  # ids of the arms' answers held
        self.copies = 0  # ids of the shadows' answers held
        self.rows = 0  # rows of the arms' answers held
        self.bytes = 0  # bytes of every answer held
        #: label -> id -> the newest chunk holding it (see `find`); None: not made yet.
        self._index: dict[str, dict[str, Chunk]] | None = None
        self._indexed = 0  # chunks added (`_added`) the index covers
        self._added = 0

    def add(self, chunk: Chunk) -> None:
        """Remember *chunk*'s answers, forgetting the oldest beyond the bounds."""
        n = len(chunk.ids)
        if chunk.shadow:
            self.copies += n
        else:
            self.requests += n
            self.rows += int(chunk.offsets[n])
        self.bytes += int(chunk.bytes[n])
        self.chunks.append(chunk)
        self._added += 1
        self._keep()

    def _over(self) -> bool:
        return (
            self.requests > self.remember
            or self.copies > self.remember
            or self.rows > self.remember_rows
            or self.bytes > self.remember_bytes
        )

    def _keep(self) -> None:
        """Forget from the oldest chunk's head until every bound holds."""
        while self.chunks and self._over():
            head = self.chunks[0]
            start, end = head.start, len(head.ids)
            excess = (self.copies if head.shadow else self.requests) - self.remember
            k = max(0, excess)
            if not head.shadow and self.rows > self.remember_rows:
                want = int(head.offsets[start]) + self.rows - self.remember_rows
                k = max(k, int(np.searchsorted(head.offsets, want)) - start)
            if self.bytes > self.remember_bytes:
                want = int(head.bytes[start]) + self.bytes - self.remember_bytes
                k = max(k, int(np.searchsorted(head.bytes, want)) - start)
            k = min(end - start, k) if k > 0 else end - start  # another kind is over
            self._forget(head, start + k)

    def _forget(self, head: Chunk, to: int) -> None:
        """Forget *head*'s answers before position *to* (all of them: drop it)."""
        start = head.start
        if head.shadow:
            self.copies -= to - start
        else:
            self.requests -= to - start
            self.rows -= int(head.offsets[to] - head.offsets[start])
        self.bytes -= int(head.bytes[to] - head.bytes[start])
        head.start = to
        if to == len(head.ids):
            head.gone = True
            self.chunks.popleft()

    # -- lookups (feedback) --------------------------------------------------------------

    def find(self, request_id: str) -> dict[str, tuple[Chunk, int]]:
        """Per version, the chunk and position of its remembered, unjoined answer to
        *request_id* (`index` first)."""
        found: dict[str, tuple[Chunk, int]] = {}
        for label, by_id in self.index().items():
            chunk = by_id.get(request_id)
            if chunk is None:
                continue
            at = None if chunk.gone else chunk.position(request_id)
            if at is None:  # forgotten since it was indexed
                del by_id[request_id]
                continue
            found[label] = (chunk, at)
        return found

    def client_answer(self, request_id: str) -> np.ndarray | None:
        """The answer an arm gave *request_id*, if remembered and not joined."""
        for chunk, at in self.find(request_id).values():
            if not chunk.shadow:
                return chunk.answer_at(at)
        return None

    def joined(self, request_id: str, found: dict[str, tuple[Chunk, int]]) -> None:
        """Mark *request_id* joined in each chunk of *found* (see `find`)."""
        index = self.index()
        for label, (chunk, _) in found.items():
            if chunk.joined is None:
                chunk.joined = set()
            chunk.joined.add(request_id)
            index.get(label, {}).pop(request_id, None)

    def index(self) -> dict[str, dict[str, Chunk]]:
        """The index of ids, brought up to date with the chunks added since it was (and
        made afresh when mostly stale)."""
        index = self._index
        afresh = (
            index is None
            or sum(map(len, index.values())) > 2 * (self.requests + self.copies) + 1024
        )
        if index is None or afresh:
            index = self._index = {}
            self._indexed = self._added - len(self.chunks)
        new = min(self._added - self._indexed, len(self.chunks))
        if new:
            fresh = itertools.islice(self.chunks, len(self.chunks) - new, None)
            for chunk in fresh:  # oldest first: the newest answer to an id wins
                by_id = index.setdefault(chunk.label, {})
                by_id.update(zip(chunk.ids[chunk.start :], itertools.repeat(chunk)))
            self._indexed = self._added
        if afresh:  # an id joined in the chunk of its newest answer stays joined
            for chunk in self.chunks:
                for request_id in chunk.joined or ():
                    by_id = index[chunk.label]
                    if by_id.get(request_id) is chunk:
                        del by_id[request_id]
        return index

    def view(self) -> dict[str, dict[str, np.ndarray]]:
        """Per request id, each version's answer a join would count; the ids in the order
        of their oldest such answer, the versions in the order they answered."""
        chosen: dict[str, dict[str, tuple[int, int, np.ndarray]]] = {}
        seen: dict[str, set[str]] = {}
        for n in range(len(self.chunks) - 1, -1, -1):  # newest first: the newest wins
            chunk = self.chunks[n]
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
