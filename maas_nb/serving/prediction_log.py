"""The prediction log: a bounded, sampled record of what each deployment answered.

A deployment logs when its config holds ``log``: ``{"sample": 0.01, "max_bytes": N}``
(`LogSettings`; absent, the default, logs nothing). For each answered request (an
`Outcome`), `PredictionLog.wants` draws one random number, before the outcome is
built, and, with probability *sample*, `take` appends the outcome to an in-memory
queue; that is all it does on the event loop (an answer not drawn costs no `Outcome`).
The queue is bounded: when the writer falls behind, outcomes are dropped (and counted
in `dropped`), never waited for.

A writer thread turns queued outcomes into JSON lines, one per input row (at most
`MAX_ROWS` rows of one request): ``at``, ``request_id``, ``model``, ``version``,
``latency_ms``, ``shadow``, ``row``, ``inputs`` (by feature name, as
`maas_nb.registry.reference.features` names them; an array, a DataFrame, a dict of
columns or the server's decoded `Rows`) and ``outputs``. They go to
``<home>/predictions/<deployment>/<start ns>-<pid>.jsonl``; a file is closed once it
holds a tenth of *max_bytes*, and before a new one is begun the oldest files of the
deployment are removed until the rest, with room for the new file, fit in *max_bytes*.
Each worker process of a server writes files of its own.

The log lives beside the registry home of the server that answered, on that machine's
disk, also when the registry itself is shared (PostgreSQL and S3): read it where the
server runs (``maas_nb.prediction_log(name, home=...)``).
"""

from __future__ import annotations

import collections
import contextlib
import logging
import os
import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import numpy as np
import orjson

from ..registry.reference import features
from .outcomes import Outcome
from .rows import Rows

log = logging.getLogger("maas_nb.serving")

DIRECTORY = "predictions"
SUFFIX = ".jsonl"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024
MIN_MAX_BYTES = 16 * 1024
#: The most rows of one request that are logged (a big batch would fill the log alone).
MAX_ROWS = 100
#: The most outcomes waiting for the writer; beyond, outcomes are dropped.
MAX_QUEUED = 10_000
#: How often the writer wakes to write what was queued.
WRITE_INTERVAL_S = 0.2


def log_dir(home: str | os.PathLike[str], deployment: str) -> Path:
    """Where the prediction log of *deployment* lives for the registry home *home*."""
    return Path(home) / DIRECTORY / deployment


@dataclass(frozen=True)
class LogSettings:
    """A deployment's ``log`` config: the fraction of requests logged and the log's cap."""

    sample: float
    max_bytes: int = DEFAULT_MAX_BYTES

    @property
    def file_bytes(self) -> int:
        return max(1, self.max_bytes // 10)

    @classmethod
    def parse(cls, value: Any) -> LogSettings | None:
        """The settings a deployment's ``log`` config says; None for "do not log".

        Raises ValueError (with what, got, fix) on a value that is not settings.
        """
        if value is None:
            return None
        if not isinstance(value, Mapping):
            raise ValueError(
                'log must be a dict such as {"sample": 0.01, "max_bytes": 67108864}, '
                f"got {type(value).__name__}: {value!r:.80}."
            )
        sample = value.get("sample", 0.0)
        max_bytes = value.get("max_bytes", DEFAULT_MAX_BYTES)
        if isinstance(sample, bool) or not isinstance(sample, (int, float)):
            raise ValueError(f"log sample must be a number from 0 to 1, got {sample!r:.80}.")
        if not 0.0 <= sample <= 1.0:
            raise ValueError(
                f"log sample is the fraction of requests logged, from 0 to 1, got {sample}; "
                "for 1% write 0.01."
            )
        if isinstance(max_bytes, bool) or not isinstance(max_bytes, int):
            raise ValueError(f"log max_bytes must be a whole number, got {max_bytes!r:.80}.")
        if max_bytes < MIN_MAX_BYTES:
            raise ValueError(
                f"log max_bytes must be at least {MIN_MAX_BYTES} (16 KiB), got {max_bytes}."
            )
        return cls(float(sample), max_bytes) if sample > 0 else None


class PredictionLog:
    """An `OutcomeSink` that logs a sample of each deployment's outcomes to files.

    *config_of(deployment)* returns the deployment's ``log`` config (None: not logged);
    it is called on the event loop, so it must be a lookup, not I/O.
    """

    def __init__(
        self,
        home: str | os.PathLike[str],
        config_of: Callable[[str], Any],
        *,
        rng: random.Random | None = None,
        interval_s: float = WRITE_INTERVAL_S,
    ) -> None:
        self.home = Path(home)
        self._config_of = config_of
        # Sampling, not secrecy: a seeded generator makes the sample reproducible in tests.
        self._random = (rng or random.Random()).random  # noqa: S311
        self._interval_s = interval_s
        self._queue: collections.deque[tuple[Outcome, LogSettings]] = collections.deque()
        self._settings: dict[str, tuple[Any, LogSettings | None]] = {}
        self._files: dict[str, _File] = {}
        self._wake = threading.Event()
        self._stopping = False
        self._thread: threading.Thread | None = None
        self.dropped = 0  # outcomes sampled but not queued: the writer was behind
        self.written = 0  # outcomes written

    # -- on the event loop --------------------------------------------------------------

    def wants(self, deployment: str) -> bool:
        """The sampling draw for one answer of *deployment* (never, unless it is logged)."""
        settings = self._settings_of(deployment)
        return settings is not None and self._random() < settings.sample

    def take(self, outcome: Outcome) -> None:
        """Queue *outcome*, which `wants` drew, for the writer (dropped if it is behind)."""
        settings = self._settings_of(outcome.deployment)
        if settings is None:
            return
        if len(self._queue) >= MAX_QUEUED:
            self.dropped += 1
            return
        self._queue.append((outcome, settings))

    def _settings_of(self, deployment: str) -> LogSettings | None:
        raw = self._config_of(deployment)
        cached = self._settings.get(deployment)
        if cached is not None and cached[0] is raw:
            return cached[1]
        try:
            settings = LogSettings.parse(raw)
        except ValueError as exc:
            log.warning("Deployment %r is not logged: %s", deployment, exc)
            settings = None
        self._settings[deployment] = (raw, settings)
        return settings

    # -- the writer thread ----------------------------------------------------------------

    def start(self) -> PredictionLog:
        self._thread = threading.Thread(target=self._run, name="maas-prediction-log", daemon=True)
        self._thread.start()
        return self

    def close(self, timeout: float = 10.0) -> None:
        """Write what is queued, close the files and stop the writer."""
        self._stopping = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
        else:
            self.flush()
        for file in self._files.values():
            file.close()
        self._files.clear()

    def _run(self) -> None:
        while not self._stopping:
            self._wake.wait(self._interval_s)
            self._wake.clear()
            self.flush()
        self.flush()

    def flush(self) -> None:
        """Write every queued outcome (the writer thread's work; tests call it directly)."""
        while self._queue:
            outcome, settings = self._queue.popleft()
            try:
                self._write(outcome, settings)
            except Exception:
                log.exception("The prediction log of %r could not be written", outcome.deployment)
            else:
                self.written += 1
        for file in self._files.values():
            file.handle.flush()

    def _write(self, outcome: Outcome, settings: LogSettings) -> None:
        data = b"".join(lines(outcome))
        file = self._files.get(outcome.deployment)
        if file is not None and file.size >= settings.file_bytes:
            file.close()
            file = None
        if file is None:
            directory = log_dir(self.home, outcome.deployment)
            directory.mkdir(parents=True, exist_ok=True)
            trim(directory, settings.max_bytes - settings.file_bytes)
            file = self._files[outcome.deployment] = _File.open(directory)
        file.write(data)


def lines(outcome: Outcome) -> list[bytes]:
    """The JSON lines of *outcome*: one per input row, up to `MAX_ROWS`."""
    rows = min(outcome.rows, MAX_ROWS)
    columns: dict[str, list[Any]] = {}
    inputs = outcome.inputs.data if isinstance(outcome.inputs, Rows) else outcome.inputs
    if inputs is not None:
        columns = {name: _values(values[:rows]) for name, values in features(inputs).items()}
    outputs = {name: _values(np.asarray(values)[:rows]) for name, values in outcome.outputs.items()}
    head = {
        "at": outcome.at,
        "request_id": outcome.request_id,
        "model": outcome.model,
        "version": outcome.version,
        "latency_ms": round(outcome.latency_s * 1000.0, 3),
        "shadow": outcome.shadow,
    }
    out = []
    for i in range(rows):
        record = {
            **head,
            "row": i,
            "inputs": {name: values[i] for name, values in columns.items() if i < len(values)},
            "outputs": {name: values[i] for name, values in outputs.items() if i < len(values)},
        }
        out.append(orjson.dumps(record, option=orjson.OPT_APPEND_NEWLINE))
    return out


def _values(array: Any) -> list[Any]:
    """Plain JSON values (orjson writes NaN and infinities as null)."""
    array = np.asarray(array)
    if array.dtype.kind in "biuf":
        return array.tolist()
    return [_plain(v) for v in array.tolist()]


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, (str, int, float, bool, list, dict)) or value is None:
        return value
    return str(value)


def trim(directory: Path, budget: int) -> None:
    """Remove the oldest log files in *directory* until the rest take at most *budget*."""
    files = sorted(directory.glob(f"*{SUFFIX}"))
    sizes = {}
    for path in files:
        try:
            sizes[path] = path.stat().st_size
        except FileNotFoundError:  # another worker trimmed it
            continue
    total = sum(sizes.values())
    for path, size in sizes.items():
        if total <= budget:
            return
        with contextlib.suppress(FileNotFoundError):
            path.unlink()
        total -= size


@dataclass
class _File:
    path: Path
    handle: IO[bytes]
    size: int = 0

    @classmethod
    def open(cls, directory: Path) -> _File:
        path = directory / f"{time.time_ns():020d}-{os.getpid()}{SUFFIX}"
        return cls(path, path.open("ab"))

    def write(self, data: bytes) -> None:
        self.handle.write(data)
        self.size += len(data)

    def close(self) -> None:
        self.handle.close()
