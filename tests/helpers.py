"""Small helpers for tests that drive real processes."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def wait_for(
    condition: Callable[[], object],
    *,
    timeout: float,
    interval: float = 0.001,
    what: str = "condition",
):
    """Poll *condition* until it returns something truthy; fail after *timeout* seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout} s waiting for {what}")


def python_process(script: str, *args: str, **kwargs) -> subprocess.Popen:
    """Start ``python -c script args...`` with pipes, from the project root."""
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        cwd=ROOT,
        **kwargs,
    )


@contextlib.contextmanager
def running(script: str, *args: str) -> Iterator[subprocess.Popen]:
    """A `python_process` that is killed (by its own PID) and reaped on exit."""
    proc = python_process(script, *args)
    try:
        yield proc
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)


def write_notebook(
    path: Path, *cells: str, parameters: str | None = None, kernel: str = "python3"
) -> Path:
    """A notebook at *path* of code *cells*, after a ``parameters``-tagged cell holding
    *parameters* if given, on the kernelspec *kernel*."""
    import nbformat

    nb = nbformat.v4.new_notebook()
    if parameters is not None:
        nb.cells.append(nbformat.v4.new_code_cell(parameters, metadata={"tags": ["parameters"]}))
    nb.cells += [nbformat.v4.new_code_cell(c) for c in cells]
    nb.metadata["kernelspec"] = {"name": kernel, "display_name": kernel, "language": "python"}
    nbformat.write(nb, path)
    return path


def offer(sink, outcome) -> None:
    """Offer *outcome* to *sink* as the server does (`tell_sinks`): taken only if the sink
    `wants` this answer of its deployment (a prediction log draws its sample there)."""
    from maas_nb.serving.outcomes import tell_sinks

    tell_sinks([sink], outcome.deployment, lambda: outcome)
