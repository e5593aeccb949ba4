"""A model version called in a process of its own (a shadow's: see `loaded`).

A shadow's calls must cost the primary's clients nothing. Called on a worker thread of
the server they cost the event loop the GIL: the thread takes it back after each wait
(a sleep, a system call), and the busy loop is made to let go each time. Measured at
c=16 beside a shadow sleeping 50 ms a batch, the loop's thread blocked 0.011-0.012
times a request (0.005 with no shadow), the shadow's thread 0.023-0.027. So a shadow's
model runs in a child process: the server sends it a batch's rows and reads its outputs
back through pipes, on the event loop, with no thread; the loop's thread then blocks
0.005 times a request, as with no shadow. A shadow that crashes (a segfault in a
library, an `os._exit`) takes only its process down: the next batch starts it afresh,
unless it died soon after its start twice in a row (then the next start waits,
`RESTART_S` doubled for each more, at most `RESTART_MOST_S`; its batches fail meanwhile).

Messages are pickled, each after its length (4 bytes). The child's are read with an
allow-list of the objects numpy arrays are rebuilt from (resolved in modules already
imported, and compared as objects, never by name): a child's answer cannot run code
in the server. The registry's home and the server's ``sys.path`` go to the child on its
standard input, never in its arguments (its environment is the server's, less the
server's token); the child loads the version as the server would
(digests verified, trusted types only), and its standard output carries the messages
alone (what the model prints goes to standard error, the server's log).

Run as ``python -m maas_nb.serving.model_process`` by `ModelProcess.start` only.
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import logging
import os
import pickle
import struct
import sys
import time
from typing import Any, BinaryIO

import numpy as np

from .rows import Rows

Outputs = dict[str, np.ndarray]
log = logging.getLogger("maas_nb.serving")
_LENGTH = struct.Struct("!I")
#: How long a child is given to exit once its input is closed, before it is killed.
EXIT_S = 5.0
#: A child that dies (or fails to load) sooner than this after its start died quickly:
#: after two such in a row, the next start waits this long, doubled for each more.
RESTART_S = 5.0
#: The longest wait before a start.
RESTART_MOST_S = 60.0


class ModelProcessError(RuntimeError):
    """The child failed to load, died, or sent what it must not."""


def frame(message: Any) -> bytes:
    """*message* pickled, after its length."""
    data = pickle.dumps(message, protocol=5)
    return _LENGTH.pack(len(data)) + data


def _allowed() -> frozenset[int]:
    """The ids of the objects pickles of numpy arrays (of every kind outputs have) are
    rebuilt from, as the unpickler resolves them."""
    samples: list[Any] = [
        np.zeros((2, 2), np.float32),
        np.array([1, 2]),
        np.array([True]),
        np.array(["a", None], dtype=object),
        np.array(["a", "bc"]),
        np.array([b"a"]),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.array([1], dtype="timedelta64[s]"),
        np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]),
        np.array([np.float64(1), np.int64(2), np.bool_(True), np.str_("a")], dtype=object),
    ]
    with contextlib.suppress(AttributeError):  # numpy >= 2 only
        samples.append(np.array(["a"], dtype=np.dtypes.StringDType()))
    found: set[int] = set()

    class Recording(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            obj = super().find_class(module, name)
            found.add(id(obj))
            return obj

    for sample in samples:
        Recording(io.BytesIO(pickle.dumps(sample, protocol=5))).load()
    return frozenset(found)


_ALLOWED = _allowed()


class _Answers(pickle.Unpickler):
    """Unpickles only what numpy arrays are made of (see the module)."""

    def find_class(self, module: str, name: str) -> Any:
        obj: Any = sys.modules.get(module)  # never imported for a pickle's sake
        for part in name.split("."):
            obj = getattr(obj, part, None)
        if obj is None or id(obj) not in _ALLOWED:
            raise ModelProcessError(
                f"the model's process sent {module}.{name}, which is not part of a numpy "
                "array: outputs must be arrays of numbers, strings or booleans"
            )
        return obj


def answer(data: bytes) -> Any:
    """A message from a child (*data*: its pickle), unpickled with the allow-list."""
    return _Answers(io.BytesIO(data)).load()


class ModelProcess:
    """One child process with one model version loaded; one call at a time."""

    def __init__(self, home: str, uri: str) -> None:
        self.home, self.uri = home, uri
        self.labels: tuple[str, ...] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self.restart_s = RESTART_S
        self._started = 0.0  # time.monotonic() of the latest start
        self.quick_deaths = 0  # children in a row that died soon after their start
        self._not_before = 0.0  # no start before this time.monotonic()

    @classmethod
    async def start(cls, home: os.PathLike[str] | str, uri: str) -> ModelProcess:
        """A child with version *uri* of the registry at *home* loaded and warmed."""
        process = cls(os.fspath(home), uri)
        await process._spawn()
        return process

    @property
    def pid(self) -> int | None:
        return None if self._proc is None else self._proc.pid

    async def _spawn(self) -> None:
        from .server import TOKEN_ENV

        self._started = time.monotonic()
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            __name__,
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env={k: v for k, v in os.environ.items() if k != TOKEN_ENV},  # not its business
        )
        self._proc = proc
        try:
            reply = await self._exchange(("load", self.home, self.uri, list(sys.path)))
        except BaseException:
            await self._stop(proc)
            raise
        if reply[0] != "ready":
            await self._stop(proc)
            self._died()
            raise ModelProcessError(f"{self.uri} could not be loaded in its process: {reply[1]}")
        self.labels = reply[1]

    def _died(self) -> None:
        """Count a child's death (or failed load), and so when the next may start."""
        now = time.monotonic()
        self.quick_deaths = self.quick_deaths + 1 if now - self._started < self.restart_s else 0
        wait = 0.0 if self.quick_deaths < 2 else self.restart_s * 2 ** (self.quick_deaths - 2)
        self._not_before = now + min(wait, RESTART_MOST_S)

    async def _exchange(self, message: Any) -> Any:
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(frame(message))
            await proc.stdin.drain()
            (length,) = _LENGTH.unpack(await proc.stdout.readexactly(_LENGTH.size))
            return answer(await proc.stdout.readexactly(length))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self._stop(proc)
            self._died()
            code = proc.returncode
            log.warning("the process of %s (pid %d) exited with code %s", self.uri, proc.pid, code)
            raise ModelProcessError(
                f"the process of {self.uri} (pid {proc.pid}) exited with code {code}; "
                "the next batch starts it again (see the server's log for its last words)"
            ) from exc

    async def call(self, rows: Rows) -> Outputs:
        """The model's outputs for *rows*; raises what the model raised (as a
        `RuntimeError` naming its type), or `ModelProcessError` if the child died. After
        a death, or a call cancelled mid-way (its child killed), the next call starts a
        new child."""
        async with self._lock:
            if self._proc is None or self._proc.returncode is not None:
                wait = self._not_before - time.monotonic()
                if wait > 0:
                    raise ModelProcessError(
                        f"the process of {self.uri} died {self.quick_deaths} times in a row, "
                        f"each within {self.restart_s:g} s of its start; it starts again in "
                        f"{wait:.1f} s (see the server's log for why it died)"
                    )
                await self._spawn()
            try:
                reply = await self._exchange(("predict", rows))
            except ModelProcessError:
                if self._proc is not None and self._proc.returncode is not None:
                    self._proc = None  # died: the next call starts another
                raise
            except BaseException:  # cancelled: its answer would be read as the next call's
                proc, self._proc = self._proc, None
                if proc is not None and proc.returncode is None:
                    proc.kill()
                raise
        if reply[0] == "ok":
            return reply[1]
        raise RuntimeError(f"{reply[1]}: {reply[2]}")

    async def close(self) -> None:
        """Stop the child: its input closed, then killed if it has not exited in time."""
        async with self._lock:
            if self._proc is not None:
                await self._stop(self._proc)
                self._proc = None

    @staticmethod
    async def _stop(proc: asyncio.subprocess.Process) -> None:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), EXIT_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()


# -- the child --------------------------------------------------------------------------


def _read(source: BinaryIO) -> Any:
    header = source.read(_LENGTH.size)
    if len(header) < _LENGTH.size:
        return None  # the server closed our input: exit
    (length,) = _LENGTH.unpack(header)
    return pickle.loads(source.read(length))  # noqa: S301  (from the server that started us)


def _write(sink: BinaryIO, message: Any) -> None:
    sink.write(frame(message))
    sink.flush()


def main() -> int:
    """Load the version the server names, then answer its batches until input ends."""
    source = sys.stdin.buffer
    sink = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # what the model prints goes to standard error, not into the messages
    first = _read(source)
    if first is None:
        return 0
    _, home, uri, path = first
    sys.path[:] = path
    try:
        predict, labels = _load(home, uri)
    except Exception as exc:
        _write(sink, ("failed", f"{type(exc).__name__}: {exc}"))
        return 1
    _write(sink, ("ready", labels))
    while (message := _read(source)) is not None:
        try:
            _write(sink, ("ok", predict(message[1])))
        except Exception as exc:
            _write(sink, ("error", type(exc).__name__, str(exc)))
    return 0


def _load(home: str, uri: str) -> tuple[Any, tuple[str, ...] | None]:
    from .. import flavors
    from ..registry import Registry
    from . import warming
    from .batching import predictor
    from .loaded import class_labels

    registry = Registry(home)
    record, model = registry.get(uri), registry.load(uri)
    flavor = flavors.get(record.flavor)
    predict = predictor(flavor, model)
    if record.signature is not None:
        warming.warm(predict, record.signature, uri)
    return predict, class_labels(flavor.classes(model))


if __name__ == "__main__":
    sys.exit(main())
