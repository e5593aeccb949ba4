"""The supervisor of a server run with ``--workers N``: N worker processes, one port.

On Linux each worker listens on the port itself (``SO_REUSEPORT``) and the kernel
spreads new connections evenly over them; the supervisor holds the port with a bound
socket that does not listen, so it stays theirs while a worker restarts (a crashing
worker loses the connections waiting in its own queue). Elsewhere the workers share one
listening socket the supervisor passes them. Measured with wrk's 64 connections on two
workers sharing one socket, every connection went to the worker that woke first; with
``SO_REUSEPORT`` they split about evenly (bench/workers.py). The supervisor serves
nothing itself; it records the server in ``server.json`` once every worker serves, and
then:

- a worker that crashes (a non-zero exit, a signal) is reported in the log and replaced;
  more than `MAX_RESTARTS` crashes in `RESTART_WINDOW_S` stop the server, exit 1;
- a worker that exits 0 on its own (its registry home was deleted) stops the server;
- SIGTERM or SIGINT stops every worker gracefully (each drains its requests), then the
  supervisor exits 0. The workers are in a session of their own, so a Ctrl-C reaches
  the supervisor only, and they stop (SIGTERM) when the supervisor dies, whatever killed
  it (``PR_SET_PDEATHSIG`` on Linux, and each worker watches its parent pid).
"""

from __future__ import annotations

import collections
import logging
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..exceptions import ServerUnavailableError
from ..processes import pid_alive

log = logging.getLogger("maas_nb.serving")

MAX_RESTARTS = 5
RESTART_WINDOW_S = 60.0
#: A worker's graceful stop (uvicorn drains for up to 30 s) and some margin.
STOP_TIMEOUT_S = 40.0
START_TIMEOUT_S = 300.0  # a worker starts serving once its models are loaded


class Supervisor:
    """Run *workers* copies of *command* (told their index), passing them *fds*."""

    def __init__(
        self, command: list[str], fds: tuple[int, ...], *, workers: int, directory: Path
    ) -> None:
        self.command = command
        self.fds = fds
        self.directory = directory
        self.procs: list[subprocess.Popen | None] = [None] * workers
        self.stopping: str | None = None
        self.exit_code = 0
        self.crashes: collections.deque[float] = collections.deque()

    def run(self, on_ready: Callable[[], None]) -> int:
        """Start the workers, call *on_ready* once all serve, supervise until told to stop."""
        _clean_run_dirs(self.directory.parent)
        self.directory.mkdir(parents=True, mode=0o700)
        previous = {
            sig: signal.signal(sig, self._stop_signal) for sig in (signal.SIGTERM, signal.SIGINT)
        }
        try:
            for index in range(len(self.procs)):
                self._spawn(index)
            self._wait_ready()
            if self.stopping is None:
                on_ready()
            while self.stopping is None:
                time.sleep(0.1)
                self._check()
        finally:
            self._stop_all()
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            shutil.rmtree(self.directory, ignore_errors=True)
        return self.exit_code

    def _stop_signal(self, sig: int, frame: Any) -> None:
        self.stopping = signal.Signals(sig).name

    def _spawn(self, index: int) -> None:
        self.procs[index] = subprocess.Popen(
            [*self.command, "--worker-index", str(index)],
            pass_fds=self.fds,
            stdin=subprocess.DEVNULL,
            start_new_session=True,  # a Ctrl-C meant for the supervisor is not theirs
        )

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.stopping is None:
            for index, proc in enumerate(self.procs):
                assert proc is not None
                if proc.poll() is not None:
                    raise ServerUnavailableError(
                        f"Worker {index} of the model server exited with status "
                        f"{proc.returncode} while starting; its log is above."
                    )
            if all((self.directory / f"{p.pid}.json").exists() for p in self.procs if p):
                return
            if time.monotonic() > deadline:
                raise ServerUnavailableError(
                    f"The model server's workers did not start within {START_TIMEOUT_S:.0f} s."
                )
            time.sleep(0.02)

    def _check(self) -> None:
        for index, proc in enumerate(self.procs):
            if proc is None or proc.poll() is None:
                continue
            with_status = _status(proc.returncode)
            (self.directory / f"{proc.pid}.json").unlink(missing_ok=True)
            self.procs[index] = None
            if proc.returncode == 0:
                log.warning("worker %d (pid %d) stopped on its own: stopping", index, proc.pid)
                self.stopping = "a worker stopped"
                return
            now = time.monotonic()
            self.crashes.append(now)
            while self.crashes and self.crashes[0] < now - RESTART_WINDOW_S:
                self.crashes.popleft()
            if len(self.crashes) > MAX_RESTARTS:
                log.error(
                    "worker %d (pid %d) %s, the %d%s crash in %.0f s: stopping the server",
                    *(index, proc.pid, with_status, len(self.crashes)),
                    *("th", RESTART_WINDOW_S),
                )
                self.stopping, self.exit_code = "workers keep crashing", 1
                return
            log.warning("worker %d (pid %d) %s: starting another", index, proc.pid, with_status)
            self._spawn(index)

    def _stop_all(self) -> None:
        live = [p for p in self.procs if p is not None and p.poll() is None]
        for proc in live:
            proc.send_signal(signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for proc in live:
            try:
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                log.warning("worker pid %d did not stop in time: killing it", proc.pid)
                proc.kill()
                proc.wait()


def _status(returncode: int) -> str:
    if returncode < 0:
        return f"was killed by {signal.Signals(-returncode).name}"
    return f"exited with status {returncode}"


def _clean_run_dirs(run: Path) -> None:
    """Remove what the workers of dead supervisors left (a supervisor killed by SIGKILL)."""
    if not run.is_dir():
        return
    for path in run.glob("server-*"):
        pid = path.name.removeprefix("server-")
        if pid.isdigit() and not pid_alive(int(pid)):
            shutil.rmtree(path, ignore_errors=True)


def die_with_parent(parent: int) -> None:
    """Have the kernel SIGTERM this process when its parent dies (Linux); exit now if the
    parent already has."""
    if os.getppid() != parent:
        raise SystemExit(f"maas: the model server's supervisor (pid {parent}) is gone")
    try:
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        pr_set_pdeathsig = 1
        libc.prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    except (OSError, AttributeError):
        return  # not Linux: the worker's watch on its parent pid stops it instead
    if os.getppid() != parent:  # the parent died before the kernel was told
        raise SystemExit(f"maas: the model server's supervisor (pid {parent}) is gone")
