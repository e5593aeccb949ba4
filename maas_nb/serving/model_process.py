"""A model version called in a process of its own (a shadow's: see `loaded`).

A shadow's calls must cost the primary's clients nothing. Called on a worker thread of
the server they cost the event loop the GIL: the thread takes it back after each wait
(a sleep, a system call), and the busy loop is made to let go each time. Measured at
c=16 beside a shadow sleeping 50 ms a batch, the loop's thread blocked 0.011-0.012
times a request (0.005 with no shadow), the shadow's thread 0.023-0.027. So a shadow's
model runs in a child process (`model_child`): the server sends it a batch's rows and
reads its outputs back through pipes (`model_pipe`), on the event loop, with no thread;
the loop's thread then blocks 0.005 times a request, as with no shadow.

A shadow that crashes (a segfault in a library, an `os._exit`) takes only its process
down: a later call starts another, at once, unless the process died soon after it was
ready (or failed to load) twice in a row: then the next start waits `RESTART_S`,
doubled for each more such death, at most `RESTART_MOST_S`, and calls fail meanwhile.
A call cancelled midway, or answered with more than `model_pipe.MOST_BYTES`, kills its
child: the pipes are out of step.

The child gets the registry's home and the version on its standard input, never in its
arguments; its environment is the server's, less the server's token, with the server's
``sys.path`` as ``PYTHONPATH``. It loads the version as the server would (digests
verified, trusted types only).
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import time

import numpy as np

from .model_pipe import LENGTH, MOST_BYTES, ModelProcessError, answer, frame
from .rows import Rows

Outputs = dict[str, np.ndarray]
log = logging.getLogger("maas_nb.serving")
#: How long a child is given to exit once its input is closed, before it is killed.
EXIT_S = 5.0
#: A child that dies this soon after it was ready (or fails to load) died quickly: after
#: two such deaths in a row, the next start waits this long, doubled for each more.
RESTART_S = 5.0
#: The longest wait before a start.
RESTART_MOST_S = 60.0


class ModelProcess:
    """One child process with one model version loaded; one call at a time."""

    def __init__(self, home: str, uri: str) -> None:
        self.home, self.uri = home, uri
        self.labels: tuple[str, ...] | None = None
        self._proc: asyncio.subprocess.Process | None = None
        self._lock = asyncio.Lock()
        self._closed = False
        self.restart_s = RESTART_S
        self._ready_at = 0.0  # time.monotonic() when the latest child was ready
        self.quick_deaths = 0  # children in a row that died soon after they were ready
        self._not_before = 0.0  # no start before this time.monotonic()
        self.fresh = False  # the latest call started a child (its time was the load's)

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

        env = {k: v for k, v in os.environ.items() if k != TOKEN_ENV}  # not its business
        env["PYTHONPATH"] = os.pathsep.join(p for p in sys.path if p)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "maas_nb.serving.model_child",
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            env=env,
        )
        self._proc = proc
        try:
            reply = answer(await self._exchange(frame(("load", self.home, self.uri))))
            if reply[0] != "ready":
                raise ModelProcessError(
                    f"{self.uri} could not be loaded in its process: {reply[1]}"
                )
        except BaseException as exc:
            self._proc = None
            await self._stop(proc)
            if not isinstance(exc, asyncio.CancelledError):
                self._died(quick=True)
            raise
        self.labels, self._ready_at = reply[1], time.monotonic()

    def _died(self, *, quick: bool) -> None:
        """Count a child's death, and so when the next may start."""
        now = time.monotonic()
        self.quick_deaths = self.quick_deaths + 1 if quick else 0
        wait = 0.0 if self.quick_deaths < 2 else self.restart_s * 2 ** (self.quick_deaths - 2)
        self._not_before = now + min(wait, RESTART_MOST_S)

    def _died_serving(self) -> None:
        """Count the death of the child that was ready (it exited by itself)."""
        self._proc = None
        self._died(quick=time.monotonic() - self._ready_at < self.restart_s)

    def _exited(self, proc: asyncio.subprocess.Process) -> str:
        """Say in the log that *proc* exited by itself; the same words for an error."""
        code = proc.returncode
        log.warning("the process of %s (pid %d) exited with code %s", self.uri, proc.pid, code)
        return f"the process of {self.uri} (pid {proc.pid}) exited with code {code}"

    async def _exchange(self, data: bytes) -> bytes:
        """Send *data* (a frame) to the child; its answer's pickle."""
        proc = self._proc
        assert proc is not None and proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write(data)
            await proc.stdin.drain()
            (length,) = LENGTH.unpack(await proc.stdout.readexactly(LENGTH.size))
        except (asyncio.IncompleteReadError, ConnectionError) as exc:
            await self._stop(proc)
            raise ModelProcessError(
                f"{self._exited(proc)}; a later call starts it again (see the server's log "
                "for its last words)"
            ) from exc
        if length > MOST_BYTES:
            raise ModelProcessError(
                f"the process of {self.uri} sent an answer of {length} bytes, over the "
                f"{MOST_BYTES} allowed: it was stopped"
            )
        return await proc.stdout.readexactly(length)

    async def call(self, rows: Rows) -> Outputs:
        """The model's outputs for *rows*; raises what the model raised (as a
        `RuntimeError` naming its type), or `ModelProcessError` (see the module)."""
        data = frame(("predict", rows))  # a pickling error leaves the child as it is
        async with self._lock:
            if self._closed:
                raise ModelProcessError(f"the process of {self.uri} is closed")
            if self._proc is not None and self._proc.returncode is not None:
                self._exited(self._proc)  # between calls
                self._died_serving()
            self.fresh = self._proc is None
            if self._proc is None:
                wait = self._not_before - time.monotonic()
                if wait > 0:
                    raise ModelProcessError(
                        f"the process of {self.uri} died {self.quick_deaths} times in a "
                        f"row, each within {self.restart_s:g} s of being ready; it starts "
                        f"again in {wait:.1f} s (see the server's log for why it died)"
                    )
                await self._spawn()
            proc = self._proc
            try:
                raw = await self._exchange(data)
            except BaseException:  # died, cancelled or too big: the pipes are out of step
                if proc is not None and proc.returncode is not None:
                    self._died_serving()
                elif proc is not None:
                    self._proc = None
                    proc.kill()  # reaped by the event loop's child watcher
                raise
        reply = answer(raw)  # refused: the whole answer was read, the pipes are in step
        if reply[0] == "ok":
            return reply[1]
        raise RuntimeError(f"{reply[1]}: {reply[2]}")

    async def close(self) -> None:
        """Stop the child: its input closed, then killed if it has not exited in time.
        Later calls are refused."""
        self._closed = True
        async with self._lock:
            if self._proc is not None:
                proc, self._proc = self._proc, None
                await self._stop(proc)

    @staticmethod
    async def _stop(proc: asyncio.subprocess.Process) -> None:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            await asyncio.wait_for(proc.wait(), EXIT_S)
        except asyncio.TimeoutError:  # (not the builtin's alias before Python 3.11)
            proc.kill()
            await proc.wait()
