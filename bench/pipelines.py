"""Pipelines benchmark: a 6-run sweep with parallel=1 and parallel=2, and the fixed
overhead of one recorded run over the notebook's own work.

    python bench/pipelines.py

Uses notebooks/sweep.ipynb (a LogisticRegression on iris per run) in a temporary
registry home. Overhead per run = wall time of ``maas_nb.pipelines.run`` minus the time
the notebook's cells themselves took (from the executed notebook's papermill metadata):
kernel start, parameter injection, recording and artifact storage.
"""

from __future__ import annotations

import json
import os
import statistics
import tempfile
import time
from pathlib import Path

from machine import cores

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = ROOT / "notebooks" / "sweep.ipynb"
GRID = {"C": [0.01, 0.1, 1.0], "max_iter": [50, 200]}


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
    print(
        f"one run: {statistics.median(totals):.2f} s in all, {statistics.median(cells):.2f} s in the "
        f"notebook's cells, fixed overhead {statistics.median(overheads):.2f} s (median of 3)"
    )


if __name__ == "__main__":
    main()
