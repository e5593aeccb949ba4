"""Registry benchmark: our operations next to the plain-library baseline, in one run.

    python bench/registry.py [--repeat N]

Prints the median time of:
- registering a 10 MB model   vs  skops.io.dump to a file (+ fsync)
- registering a small model   vs  the same (register audits it once and loads it once)
- resolving an alias          vs  one SELECT on an open sqlite3 connection
- loading a small model       vs  skops.io.load from a file (no digest check)
- listing 10,000 versions     vs  SELECT * ... fetchall() on the same database
Everything runs in a temporary directory; nothing is downloaded.
"""

from __future__ import annotations

import argparse
import os
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import KNeighborsClassifier

from maas_nb.registry import Registry


def median_ms(fn: Callable[[], object], repeat: int) -> float:
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    return statistics.median(times)


def row(what: str, ours: float, baseline: float, baseline_name: str) -> None:
    print(
        f"{what:<28} {ours:>10.3f} ms   {baseline_name:<34} {baseline:>10.3f} ms"
        f"   x{ours / baseline:>6.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="maas-bench-"))
    registry = Registry(tmp / "home")

    rng = np.random.default_rng(0)
    big = KNeighborsClassifier().fit(rng.normal(size=(80_000, 16)), rng.integers(0, 2, 80_000))
    size = len(sio.dumps(big))
    X, y = load_iris(return_X_y=True)
    small = LogisticRegression(max_iter=1000).fit(X, y)

    print(f"maas_nb registry benchmark (median of {args.repeat}; home {tmp})")
    print(f"{'operation':<28} {'maas_nb':>13}   {'baseline':<34} {'':>13}   ratio")

    def baseline_dump() -> None:
        path = tmp / "baseline.skops"
        sio.dump(big, path)
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    row(
        f"register {size / 1e6:.1f} MB model",
        median_ms(lambda: registry.register(big, "big"), args.repeat),
        median_ms(baseline_dump, args.repeat),
        "skops.io.dump + fsync",
    )

    def baseline_small_dump() -> None:
        path = tmp / "baseline-small.skops"
        sio.dump(small, path)
        fd = os.open(path, os.O_RDONLY)
        os.fsync(fd)
        os.close(fd)

    row(
        "register small model",
        median_ms(lambda: registry.register(small, "small"), args.repeat * 4),
        median_ms(baseline_small_dump, args.repeat * 4),
        "skops.io.dump + fsync",
    )

    registry.register(small, "iris", alias="production")
    conn = sqlite3.connect(registry.home / "registry.db")
    row(
        "resolve iris@production",
        median_ms(lambda: registry.get("iris@production"), args.repeat * 20),
        median_ms(
            lambda: conn.execute(
                "SELECT version FROM aliases WHERE name = 'iris' AND alias = 'production'"
            ).fetchone(),
            args.repeat * 20,
        ),
        "one sqlite3 SELECT",
    )

    small_path = tmp / "small.skops"
    sio.dump(small, small_path)
    row(
        "load small model (+sha256)",
        median_ms(lambda: registry.load("iris@production"), args.repeat * 4),
        median_ms(lambda: sio.load(small_path), args.repeat * 4),
        "skops.io.load from a file",
    )

    # 10,000 versions through the real write path, sharing one artifact to keep it quick.
    version = registry.get("iris:1")
    fields = {"flavor": "sklearn", "digest": version.digest, "size": version.size}
    fields["signature"] = version.signature
    fields["metrics"] = {"accuracy": 0.97}
    fields["params"] = dict(version.params)
    start = time.perf_counter()
    for _ in range(10_000):
        registry.store.create_version("many", fields)
    fill_s = time.perf_counter() - start
    row(
        "list 10,000 versions",
        median_ms(lambda: registry.list_versions("many"), max(3, args.repeat // 3)),
        median_ms(
            lambda: conn.execute("SELECT * FROM versions WHERE name = 'many'").fetchall(),
            max(3, args.repeat // 3),
        ),
        "SELECT * ... fetchall()",
    )
    print(f"(writing those 10,000 versions took {fill_s:.1f} s: {fill_s / 10:.2f} ms each)")
    conn.close()


if __name__ == "__main__":
    main()
