"""The local model server as a process: find the home's server, start one, stop it.

The server is a detached process (it outlives the notebook kernel that started it); its
pid and address live in ``<home>/server.json``. When the port asked for by default
(8765) is taken, the server listens on a free one, and starting it says so.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

from ..exceptions import ServerUnavailableError
from ..processes import pid_alive
from ..registry import Registry
from ..serving.limits import ConnectionLimits
from ..serving.server import DEFAULT_PORT, PORT_ENV, check_workers, read_server_file
from . import remote
from .remote import START_TIMEOUT_S

LOG_FILE = "server.log"


def ensure_server(
    reg: Registry,
    *,
    port: int | None = None,
    timeout: float = START_TIMEOUT_S,
    limits: ConnectionLimits | None = None,
    workers: int | None = None,
) -> str:
    """The URL of the server for *reg*'s home, starting a detached one if none answers.

    A server started here gets *limits* and *workers* processes (default 1); one already
    running keeps its own (a warning says so when they differ from what was asked).
    """
    info = read_server_file(reg.home)
    if info is not None and remote.alive(info["url"]):
        if limits is not None and info.get("limits") != limits.as_dict():
            warnings.warn(
                f"The model server at {info['url']} already runs with other connection "
                f"limits ({info.get('limits')}); it keeps them. To apply {limits}, stop it "
                "first (maas server stop).",
                stacklevel=4,
            )
        if workers is not None and info.get("workers", 1) != workers:
            warnings.warn(
                f"The model server at {info['url']} already runs with "
                f"{info.get('workers', 1)} worker(s); it keeps them. To run {workers}, stop "
                "it first (maas server stop).",
                stacklevel=4,
            )
        return str(info["url"])
    explicit = port is not None or PORT_ENV in os.environ
    port = port if port is not None else int(os.environ.get(PORT_ENV, DEFAULT_PORT))
    command = [
        sys.executable,
        "-m",
        "maas_nb.serving",
        "--home",
        str(reg.home),
        "--port",
        str(port),
    ]
    if limits is not None:
        command += limits.as_args()
    if workers is not None:
        command += ["--workers", str(check_workers(workers))]
    if not explicit:
        command.append("--port-fallback")  # another home's server may hold the default port
    log_path = reg.home / LOG_FILE
    pid = _spawn_detached(command, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise ServerUnavailableError(
                f"The model server exited while starting:\n{_tail(log_path)}"
            )
        info = read_server_file(reg.home)
        if info is not None and info.get("pid") == pid and remote.alive(info["url"]):
            _announce_fallback(info, port)
            return str(info["url"])
        time.sleep(0.02)
    raise ServerUnavailableError(
        f"The model server did not start within {timeout:.0f} s:\n{_tail(log_path)}"
    )


def fallback_message(asked: int, info: dict[str, object]) -> str:
    """What to tell the user when the server could not have port *asked*."""
    return (
        f"Port {asked} is taken (by another program, or the server of another registry "
        f"home), so the model server started on port {info['port']} instead: {info['url']}. "
        f"Set {PORT_ENV} to choose the port."
    )


def _announce_fallback(info: dict[str, object], asked: int) -> None:
    # Only a server started with --port-fallback can land elsewhere; 0 asks for any port.
    if asked != 0 and info.get("port") != asked:
        warnings.warn(fallback_message(asked, info), stacklevel=5)


# Started through a short-lived launcher, the server is not our child: it outlives us
# (the notebook kernel) and is never left a zombie waiting for us to reap it.
_LAUNCHER = """
import subprocess, sys
log = open(sys.argv[1], "ab")
proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log,
                        stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
print(proc.pid)
"""


def _spawn_detached(command: list[str], log_path: Path) -> int:
    launcher = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, str(log_path), *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if launcher.returncode != 0:
        raise ServerUnavailableError(f"Could not start the model server: {launcher.stderr.strip()}")
    return int(launcher.stdout.strip())


def stop_server(home: Path, *, timeout: float = 60.0) -> int | None:
    """SIGTERM *home*'s server and wait for it to exit; return its pid (None if none ran).

    A server with several workers exits once all of them have."""
    info = read_server_file(home)
    if info is None:
        return None
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return pid
        time.sleep(0.02)
    raise ServerUnavailableError(
        f"The model server (pid {pid}) did not stop within {timeout:.0f} s."
    )


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"
