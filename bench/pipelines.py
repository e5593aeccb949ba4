"""Pipelines benchmark: a 6-run sweep with parallel=1 and parallel=2 on the local executor
and with parallel=2 on the Ray executor, and the fixed overhead of one recorded run over the
notebook's own work.

    python bench/pipelines.py

The Ray sweep runs on ``$RAY_ADDRESS`` if set, else on a single-node cluster this script
starts (``ray start --head`` in a temporary directory, its own process group, stopped at
the end): the time is the sweep's (connecting, shipping the notebook's directory, the
pre-flight check and the points), not the cluster's start. Without Ray the row is skipped.

Uses notebooks/sweep.ipynb (a LogisticRegression on iris per run) in a temporary
registry home. Overhead per run = wall time of ``maas_nb.pipelines.run`` minus the time
the notebook's cells themselves took (from the executed notebook's papermill metadata):
kernel start, parameter injection, recording and artifact storage.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

from machine import cores

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "sweep.ipynb"
GRID = {"C": [0.01, 0.1, 1.0], "max_iter": [50, 200]}


@contextlib.contextmanager
def ray_cluster() -> Iterator[str | None]:
    """``$RAY_ADDRESS``, else a cluster started here and stopped (by its process group)."""
    if os.environ.get("RAY_ADDRESS"):
        yield os.environ["RAY_ADDRESS"]
        return
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    temp = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    ray_cli = str(Path(sys.executable).with_name("ray"))
    start = [ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(port)]
    start += ["--include-dashboard=false", "--disable-usage-stats", "--temp-dir", temp]
    starter = subprocess.Popen(
        start, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True
    )
    output, _ = starter.communicate()
    try:
        if starter.returncode != 0:
            print(output.decode())
            yield None
        else:
            yield f"127.0.0.1:{port}"
    finally:
        # Every process of the cluster is in the group of `ray start` (its PID); a grace
        # period as `ray stop` gives, then SIGKILL.
        for sig, grace in ((signal.SIGTERM, 5.0), (signal.SIGKILL, 0.0)):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(starter.pid, sig)
            time.sleep(grace)
        shutil.rmtree(temp, ignore_errors=True)


def main() -> None:
    os.environ["MAAS_HOME"] = tempfile.mkdtemp(prefix="maas-bench-pipelines-")
    from maas_nb.api import registry
    from maas_nb.pipelines import run, sweep

    timings = {}
    for parallel in (1, 2):
        start = time.perf_counter()
        result = sweep(NOTEBOOK, GRID, parallel=parallel, progress=False)
        timings[parallel] = time.perf_counter() - start
        assert set(result.table["status"]) == {"finished"}, result.table

    try:
        import ray  # noqa: F401
    except ImportError:
        ray_time = None
    else:
        with ray_cluster() as address:
            if address is not None:
                os.environ["MAAS_RAY_ADDRESS"] = address
                start = time.perf_counter()
                result = sweep(NOTEBOOK, GRID, parallel=2, progress=False, executor="ray")
                ray_time = time.perf_counter() - start
                assert set(result.table["status"]) == {"finished"}, result.table

    overheads, totals, cells = [], [], []
    for _ in range(3):
        start = time.perf_counter()
        record = run(NOTEBOOK, {"C": 1.0})
        total = time.perf_counter() - start
        executed = json.loads(registry().pipeline_notebook(record, executed=True))
        work = sum(
            c["metadata"].get("papermill", {}).get("duration") or 0 for c in executed["cells"]
        )
        totals.append(total)
        cells.append(work)
        overheads.append(total - work)

    print(f"maas_nb pipelines benchmark (notebooks/sweep.ipynb, 6-point grid, {cores()})")
    print(f"sweep parallel=1 (baseline)   {timings[1]:7.2f} s")
    print(
        f"sweep parallel=2              {timings[2]:7.2f} s   speed-up x{timings[1] / timings[2]:.2f}"
    )
    if ray_time is None:
        print("sweep executor=ray parallel=2  skipped: pip install 'maas_nb[ray]'")
    else:
        print(
            f"sweep executor=ray parallel=2 {ray_time:7.2f} s   against local parallel=2 "
            f"x{timings[2] / ray_time:.2f} (1-node cluster on this machine, 2 CPUs for tasks)"
        )
    print(
        f"one run: {statistics.median(totals):.2f} s in all, {statistics.median(cells):.2f} s in the "
        f"notebook's cells, fixed overhead {statistics.median(overheads):.2f} s (median of 3)"
    )


if __name__ == "__main__":
    main()
