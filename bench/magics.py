"""Notebook magics benchmark: what ``%%maas train`` adds to a training cell, and the
cost of ``%load_ext maas_nb``.

    python bench/magics.py [--repeat 30]

The cell fits a LogisticRegression on the iris data (150 rows). Overhead = median time of
the cell under ``%%maas train`` minus the median of the same cell without it, in the same
IPython shell. ``%load_ext`` is timed in fresh processes (median of 5), and we check that
it imports no TensorFlow.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time

CELL = """from sklearn.linear_model import LogisticRegression
model = LogisticRegression(max_iter=1000).fit(X_train, y_train)
"""

LOAD_EXT = """
import sys, time
from IPython.core.interactiveshell import InteractiveShell
shell = InteractiveShell.instance()
start = time.perf_counter()
shell.run_line_magic("load_ext", "maas_nb")
print(time.perf_counter() - start, "tensorflow" in sys.modules, "sklearn" in sys.modules)
"""


def median_ms(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=30)
    args = parser.parse_args()
    os.environ["MAAS_HOME"] = tempfile.mkdtemp(prefix="maas-bench-magics-")

    from IPython.core.interactiveshell import InteractiveShell
    from sklearn.datasets import load_iris

    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "maas_nb")
    X, y = load_iris(return_X_y=True)
    shell.user_ns.update(
        {"X_train": X[::2], "y_train": y[::2], "X_test": X[1::2], "y_test": y[1::2]}
    )

    def run(source: str) -> None:
        result = shell.run_cell(source, silent=True)
        result.raise_error()

    for source in (CELL, "%%maas train bench\n" + CELL):  # warm up imports and caches
        run(source)
    plain = median_ms(lambda: run(CELL), args.repeat)
    tracked = median_ms(lambda: run("%%maas train bench\n" + CELL), args.repeat)
    evaluated = median_ms(
        lambda: run("%%maas train bench --eval X_test y_test\n" + CELL), args.repeat
    )
    registered = median_ms(lambda: run("%%maas train bench --register\n" + CELL), args.repeat)

    loads = []
    for _ in range(5):
        out = subprocess.run(
            [sys.executable, "-c", LOAD_EXT], capture_output=True, text=True, check=True
        ).stdout.split()
        loads.append((float(out[0]) * 1000, out[1] == "True", out[2] == "True"))

    print(f"maas_nb magics benchmark (median of {args.repeat})")
    print(f"plain cell (LogisticRegression fit on iris)        {plain:8.2f} ms   (baseline)")
    print(
        f"%%maas train NAME                                   {tracked:8.2f} ms   overhead {tracked - plain:7.2f} ms"
    )
    print(
        f"%%maas train NAME --eval X_test y_test              {evaluated:8.2f} ms   overhead {evaluated - plain:7.2f} ms"
    )
    print(
        f"%%maas train NAME --register                        {registered:8.2f} ms   overhead {registered - plain:7.2f} ms"
    )
    load_ms = statistics.median(t for t, _, _ in loads)
    print(
        f"%load_ext maas_nb (fresh process, median of 5)     {load_ms:8.2f} ms   "
        f"imports tensorflow: {any(tf for _, tf, _ in loads)}, scikit-learn: {any(sk for _, _, sk in loads)}"
    )


if __name__ == "__main__":
    main()
