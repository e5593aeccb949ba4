"""The live comparison window: what each version of a deployment did lately.

`Window` is one per pool (`pool.window`). For each deployment it
watches (one running an experiment: several arms, a shadow or a guard; see the pool) it
keeps, per version label (``NAME:VERSION``) and per time bucket (10 s; the window is the
last 300 s), plain counts: requests, errors, a latency histogram of log-spaced buckets
(`intervals`), agreement (a shadow's answer compared, row by row, with the answer the
client got to the same request) and feedback (rows with ground truth; for a classifier
how many were right, for a regressor the sum of absolute errors and of their squares).
Counts add up, so the windows of a server's workers (published like its metrics) sum to
the server's.

It also remembers, per deployment, the answers of the last `REMEMBER` request ids (and
at most `REMEMBER_ROWS` rows and `REMEMBER_BYTES` bytes of answers, for requests of many
rows or wide answers; each version's: the arm's and the shadow's; see `memory`), so
that ground truth posted later (`join_feedback`) is counted for every version that
answered. A join is all or nothing: a truth that cannot be scored leaves every id
unjoined. The answers of a batch are told at once by its batcher (`batch_answered`, on
the event loop, no I/O): the batch's requests are counted at once, and their answers,
a copy of the batch's array, wait as one piece with the version's others. A request
split over batches tells its answer itself (`answered`): it counts at once, and its
answer waits likewise. Once `DEFER` requests or rows wait, they are remembered as one
chunk (`Chunk.of_pieces`): a chunk per batch cost more than a small batch's answers.
A shadow's batch of copies is told at once (`record_copies`), with the answers their
clients got, so agreement needs no lookup.

`summary` (in `experiment`) is the one place rates, quantiles and intervals are computed.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from .answers import agreeing_rows, answer_of, score
from .counts import Counts
from .intervals import latency_bucket, latency_buckets
from .memory import Chunk, Memory

BUCKET_S = 10
WINDOW_S = 300
#: Request ids remembered per deployment for feedback (older ones are forgotten).
REMEMBER = 100_000
#: Rows of answers remembered per deployment (a bound on memory for big requests).
REMEMBER_ROWS = 1_000_000
#: Bytes of answers remembered per deployment (every version's, shadows' included).
REMEMBER_BYTES = 64 * 1024 * 1024
_perf_counter = time.perf_counter
#: Answers of a version `Window.answered` keeps in a list before remembering them as one
#: chunk (`memory.Chunk`): each request's own answer array is freed then.
DEFER = 64

#: deployment -> version label -> bucket number (unix seconds // BUCKET_S) -> counts
Table = dict[str, dict[str, dict[int, Counts]]]


class _Pending:
    """The answers of one version of one deployment not yet remembered (`Window._flush`)."""

    __slots__ = ("answers", "deployment", "ids", "label", "offsets", "rows")

    def __init__(self, deployment: str, label: str) -> None:
        self.deployment, self.label = deployment, label
        self.ids: list[str] = []
        #: The answers in pieces (one request's, or a batch's end to end) and each
        #: piece's offsets (see `Chunk.of_pieces`), and their rows.
        self.answers: list[np.ndarray] = []
        self.offsets: list[Sequence[int]] = []
        self.rows = 0


#: The bucket `Window.answered` fills for a version: [start, end) seconds, its counts,
#: and the version's answers waiting to be remembered.
_Filling = tuple[float, float, Counts, _Pending]


class Window:
    """The counts of the watched deployments, and the answers remembered for feedback."""

    def __init__(
        self,
        describe: Callable[[str], dict[str, Any]],
        *,
        window_s: int = WINDOW_S,
        bucket_s: int = BUCKET_S,
        remember: int = REMEMBER,
        remember_rows: int = REMEMBER_ROWS,
        remember_bytes: int = REMEMBER_BYTES,
        clock: Callable[[], float] = time.time,
    ) -> None:
        #: The layout of a deployment (its versions and their roles; see `experiment`);
        #: raises `NotFound` for a deployment this server does not serve.
        self.describe = describe
        self.window_s, self.bucket_s, self.remember = window_s, bucket_s, remember
        self.remember_rows, self.remember_bytes = remember_rows, remember_bytes
        self.clock = clock
        self.watched: set[str] = set()
        self.table: Table = {}
        self._memory: dict[str, Memory] = {}
        #: (deployment, label) -> the answers not yet remembered (`_flush`).
        self._pending: dict[tuple[str, str], _Pending] = {}
        #: What the guard says of each deployment (filled by the guard; None: no guard).
        self.guards: dict[str, dict[str, Any]] = {}
        #: (deployment, label) -> the bucket `answered` fills (see `_fill`).
        self._filling: dict[tuple[str, str], _Filling] = {}

    # -- what is remembered (each read remembers what is pending first) -----------------

    @property
    def answers(self) -> dict[str, dict[str, dict[str, np.ndarray]]]:
        """Per deployment, per request id (oldest first), each version's answer a join
        would count (made on each call, for a look at what is remembered)."""
        self._flush()
        return {deployment: memory.view() for deployment, memory in self._memory.items()}

    def remembered(self, deployment: str) -> tuple[int, int]:
        """The rows (the arms') and the bytes (every version's) of the answers remembered
        for *deployment*, joined or not."""
        self._flush()
        memory = self._memory.get(deployment)
        return (0, 0) if memory is None else (memory.rows, memory.bytes)

    def _memory_of(self, deployment: str) -> Memory:
        memory = self._memory.get(deployment)
        if memory is None:
            memory = Memory(self.remember, self.remember_rows, self.remember_bytes)
            self._memory[deployment] = memory
        return memory

    # -- what is watched --------------------------------------------------------------

    def watch(self, deployment: str) -> None:
        self.watched.add(deployment)

    def forget(self, deployment: str) -> None:
        """Stop watching *deployment* and drop what was kept of it (it was undeployed)."""
        self.watched.discard(deployment)
        self.table.pop(deployment, None)
        self._memory.pop(deployment, None)
        self.guards.pop(deployment, None)
        for key in [k for k in self._filling if k[0] == deployment]:
            del self._filling[key]
        for key in [k for k in self._pending if k[0] == deployment]:
            del self._pending[key]

    # -- counting (on the event loop: O(1), no I/O) -------------------------------------

    def _counts(self, deployment: str, label: str, at: float) -> Counts:
        buckets = self.table.setdefault(deployment, {}).setdefault(label, {})
        number = int(at // self.bucket_s)
        counts = buckets.get(number)
        if counts is None:
            counts = buckets[number] = Counts()
            oldest = number - self.window_s // self.bucket_s + 1
            for old in [b for b in buckets if b < oldest]:  # once per new bucket
                del buckets[old]
        return counts

    def answered(
        self,
        deployment: str,
        label: str,
        request_id: str,
        latency_s: float,
        outputs: dict[str, np.ndarray],
        *,
        at: float | None = None,
    ) -> None:
        """Count the answer *outputs* version *label* gave request *request_id* of
        *deployment* in *latency_s*, at *at* (the window's clock: now), and remember it
        (`DEFER` at a time, see `_flush`).

        It runs on the event loop, called by a request whose batch did not tell its
        answer (`batch_answered`): one split over batches, one whose deployment was
        not watched yet when it was queued, or one whose batcher has no such hook.
        The bucket being filled and the answers waiting are kept per (deployment,
        label) and looked up once."""
        if deployment not in self.watched:
            return
        filling = self._fill(deployment, label, self.clock() if at is None else at)
        counts = filling[2]
        counts.requests += 1
        counts.latency[latency_bucket(latency_s)] += 1
        answer = answer_of(outputs)
        if answer is not None:
            self._wait(filling[3], request_id, answer)

    def batch_answered(
        self,
        deployment: str,
        label: str,
        notes: Sequence[tuple[str, float]],
        outputs: dict[str, np.ndarray],
        offsets: Sequence[int],
    ) -> None:
        """Count and remember, as `answered` does each, version *label*'s answers to the
        requests of one batch (its batcher's `Batcher.answered`): *notes* holds each
        one's (request id, `time.perf_counter()` when it came), *outputs* the answers end
        to end (request i's rows are ``offsets[i]:offsets[i + 1]``). The batch's answers
        wait, as one piece (a copy: a model may reuse its output arrays), with the
        version's others until `DEFER` requests or rows wait, then are remembered as
        one chunk: a chunk a batch would cost more than a batch's answers, on every
        batch. A request's latency runs to its batch's answer."""
        if deployment not in self.watched:
            return
        now = _perf_counter()
        filling = self._fill(deployment, label, self.clock())
        counts = filling[2]
        counts.requests += len(notes)
        histogram = counts.latency
        for _, start in notes:  # a search each: for a batch's few, dearer as an array
            histogram[latency_bucket(now - start)] += 1
        answer = answer_of(outputs)
        if answer is None:
            return
        pending = filling[3]
        pending.ids += [note[0] for note in notes]
        pending.answers.append(answer.copy())
        pending.offsets.append(offsets)
        pending.rows += offsets[-1]
        if len(pending.ids) >= DEFER or pending.rows >= DEFER:
            self._remember(pending)

    def _wait(self, pending: _Pending, request_id: str, answer: np.ndarray) -> None:
        """Add one request's answer to *pending*, remembered once `DEFER` requests or
        rows wait."""
        pending.ids.append(request_id)
        pending.answers.append(answer)
        pending.offsets.append((0, len(answer)))
        pending.rows += len(answer)
        if len(pending.ids) >= DEFER or pending.rows >= DEFER:
            self._remember(pending)

    def _remember(self, pending: _Pending) -> None:
        """Remember *pending*'s answers as one chunk (see `memory`)."""
        chunk = Chunk.of_pieces(pending.label, pending.ids, pending.answers, pending.offsets)
        pending.ids, pending.answers, pending.offsets, pending.rows = [], [], [], 0
        self._memory_of(pending.deployment).add(chunk)

    def _flush(self, deployment: str | None = None) -> None:
        """Remember the answers `answered` left waiting (*deployment*'s: only those)."""
        for pending in self._pending.values():
            if pending.ids and (deployment is None or pending.deployment == deployment):
                self._remember(pending)

    def record_copies(
        self,
        deployment: str,
        label: str,
        request_ids: Sequence[str],
        answer: np.ndarray | None,
        offsets: Sequence[int],
        latencies: Sequence[float],
        at: float,
        theirs: Sequence[np.ndarray | None],
        clients: np.ndarray | None = None,
    ) -> None:
        """Count shadow version *label*'s answers to the copies of one of its batches, as
        `answered` counts one each, and remember them as one chunk: *answer* holds them
        end to end (copy i's rows are ``offsets[i]:offsets[i + 1]``). Each copy whose
        client's answer is in *theirs* (None: not known) is compared with it, all in one
        comparison (`agreeing_rows`; *clients*: all of them known, end to end)."""
        if deployment not in self.watched:
            return
        counts = self._fill(deployment, label, at)[2]
        counts.requests += len(request_ids)
        histogram = counts.latency
        for bucket in latency_buckets(latencies):
            histogram[bucket] += 1
        if answer is None:
            return
        self._flush(deployment)  # the copies' own requests are remembered before them
        compared, agreed = agreeing_rows(theirs, answer, offsets, clients)
        counts.compared += compared
        counts.agreed += agreed
        self._memory_of(deployment).add_copies(label, list(request_ids), answer, offsets)

    def _fill(self, deployment: str, label: str, at: float) -> _Filling:
        """The bucket of *at* of version *label*, as `answered` keeps it: (its start, its
        end, its counts, the answers waiting); the one kept unless *at* is past it."""
        key = (deployment, label)
        filling = self._filling.get(key)
        if filling is not None and filling[0] <= at < filling[1]:
            return filling
        pending = self._pending.get(key)
        if pending is None:
            pending = self._pending[key] = _Pending(deployment, label)
        number = int(at // self.bucket_s)
        filling = (
            number * self.bucket_s,
            (number + 1) * self.bucket_s,
            self._counts(deployment, label, at),
            pending,
        )
        self._filling[key] = filling
        return filling

    def record_error(self, deployment: str, label: str, count: int = 1) -> None:
        """Count *count* failed predictions (or a shadow's failures or timeouts) of *label*."""
        if deployment in self.watched:
            self._counts(deployment, label, self.clock()).errors += count

    # -- feedback -----------------------------------------------------------------------

    def join_feedback(self, deployment: str, items: Iterable[tuple[str, Any]]) -> dict[str, Any]:
        """Count the ground truth of each (request id, truth) for every version that
        answered it with as many rows as the truth has; the ids not remembered (never
        seen, forgotten, or already joined) and those whose truth fits no version's
        answer are reported, not counted."""
        self._flush()
        memory = self._memory.get(deployment)
        joined, unknown, mismatched = 0, [], []
        versions: dict[str, int] = {}
        added: dict[str, Counts] = {}  # scored here first: a join is all or nothing
        found: dict[str, dict[str, tuple[Chunk, int]]] = {}  # the ids joined, in order
        for request_id, truth in items:
            where = None if memory is None or request_id in found else memory.find(request_id)
            if not where:
                unknown.append(request_id)
                continue
            expected = truth if isinstance(truth, list) else [truth]
            answers = {label: chunk.answer_at(at) for label, (chunk, at) in where.items()}
            fitting = {label: a for label, a in answers.items() if len(a) == len(expected)}
            if not fitting:
                mismatched.append(request_id)
                continue
            found[request_id] = where
            joined += 1
            for label, answer in fitting.items():  # (a reused id: versions may differ)
                counts = added.get(label)
                if counts is None:
                    counts = added[label] = Counts()
                score(counts, answer, expected)
                versions[label] = versions.get(label, 0) + 1
        now = self.clock()
        for label, counts in added.items():
            self._counts(deployment, label, now).add_list(counts.to_list())
        if memory is not None:
            for request_id, where in found.items():
                memory.joined(request_id, where)
        return {
            "joined": joined,
            "unknown": unknown,
            "mismatched": mismatched,
            "versions": versions,
        }

    # -- between workers ----------------------------------------------------------------

    def snapshot(self) -> dict[str, dict[str, dict[str, list[Any]]]]:
        """Every count as plain data (JSON), to be summed with other workers' (`merge`)."""
        return {
            d: {
                label: {str(b): c.to_list() for b, c in list(buckets.items())}
                for label, buckets in list(by_label.items())
            }
            for d, by_label in list(self.table.items())
        }

    def counts(
        self, deployment: str, others: Sequence[dict[str, Any]] = ()
    ) -> dict[str, dict[int, Counts]]:
        """This window's counts of *deployment* plus those of other workers' snapshots."""
        total: dict[str, dict[int, Counts]] = {}
        own = self.table.get(deployment, {})
        snapshots = [{k: {str(b): c.to_list() for b, c in list(v.items())} for k, v in own.items()}]
        snapshots += [s.get(deployment, {}) for s in others]
        for by_label in snapshots:
            for label, buckets in by_label.items():
                into = total.setdefault(label, {})
                for number, values in buckets.items():
                    counts = into.get(int(number))
                    if counts is None:
                        counts = into[int(number)] = Counts()
                    counts.add_list(values)
        return total

    def summary(self, deployment: str, others: Sequence[dict[str, Any]] = ()) -> dict[str, Any]:
        """The live comparison of *deployment* (see `experiment.summarize`), over this
        window and the snapshots *others* of the server's other workers."""
        from .experiment import summarize

        layout = self.describe(deployment)
        return summarize(
            layout,
            self.counts(deployment, others),
            now=self.clock(),
            window_s=self.window_s,
            bucket_s=self.bucket_s,
            watched=deployment in self.watched,
            guard=self.guards.get(deployment),
        )
