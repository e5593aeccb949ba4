"""Whether a process is alive: used for abandoned temporary files and the server's pid file."""

from __future__ import annotations

import os


def pid_alive(pid: int) -> bool:
    """Whether *pid* runs (a zombie, exited but not yet reaped, does not count)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            return f.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except (OSError, IndexError):
        return True
