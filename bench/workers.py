"""``maas serve --workers 1`` against ``--workers 2``: logistic regression, 64 connections.

    python bench/workers.py [--duration 10] [--connections 64]
    python bench/serving.py --workers    (the same rows after serving.py's table)

One server at a time on the same registry (make_classification(5000, 20), the
LogisticRegression of serving.py), driven by wrk with one-row requests, wrk sharing the
machine's cores with the workers. Each row prints requests/s, p50, p99, errors, the
requests ``/metrics`` counted (the sum over the workers, which must match wrk's count)
and how they split between the workers (from what each worker published).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from machine import cores
from serving import BENCH, ROOT, free_port, start, wait_live, wrk
from sklearn.datasets import make_classification
from sklearn.linear_model import LogisticRegression


def requests_counted(url: str) -> int:
    """``maas_requests_total`` for lr, as whichever worker answers /metrics sums it."""
    text = httpx.get(f"{url}/metrics", timeout=30, trust_env=False).text
    line = next(
        x for x in text.splitlines() if x.startswith('maas_requests_total{deployment="lr"}')
    )
    return int(float(line.split()[-1]))


def split(home: Path, supervisor: int) -> list[int]:
    """The requests each worker counted, from the files the workers publish."""
    directory = home / "run" / f"server-{supervisor}"
    if not directory.is_dir():
        return []  # one worker: no run directory
    published = [json.loads(p.read_text()) for p in sorted(directory.glob("*.json"))]
    return [w["metrics"].get("lr", {}).get("requests", 0) for w in published]


def compare(home: Path, body: str, *, duration: int, connections: int = 64) -> None:
    """Print one row per worker count for the lr deployment already in *home*."""
    print(f"\nlr, {connections} connections, wrk {duration} s, {cores()}: --workers 1 vs 2")
    print(f"{'workers':>7}  {'rps':>7} {'p50 ms':>7} {'p99 ms':>7} {'err':>4}  counted  split")
    for workers in (1, 2):
        port = free_port()
        command = [sys.executable, "-m", "maas_nb.serving", "--home", str(home)]
        command += ["--port", str(port), "--log-level", "warning", "--workers", str(workers)]
        # BENCH on the path: serving.py's home also holds rf-sklearn (sklearn_forest.py).
        proc = start(command, env={"PYTHONPATH": f"{ROOT}{os.pathsep}{BENCH}"})
        url = f"http://127.0.0.1:{port}"
        try:
            wait_live(f"{url}/v2/health/live", proc, timeout=120)
            states = httpx.post(f"{url}/maas/reconcile", timeout=120, trust_env=False).json()
            lr = next(e for e in states if e["name"] == "lr")
            assert lr["status"] == "ready", lr
            before = requests_counted(url)
            row = wrk(f"{url}/models/lr/invocations", body, connections, duration)
            time.sleep(0.6)  # the workers publish their counts every half second
            counted = requests_counted(url) - before
            shares = "/".join(str(n) for n in split(home, proc.pid)) or "-"
            print(
                f"{workers:>7}  {row['rps']:>7.0f} {row['p50']:>7.2f} {row['p99']:>7.2f} "
                f"{row['errors']:>4}  {counted:>7}  {shares}",
                flush=True,
            )
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64)
    args = parser.parse_args()
    sys.path.insert(0, str(ROOT))
    from maas_nb.registry import Registry

    home = Path(tempfile.mkdtemp(prefix="maas-bench-workers-")) / "home"
    X, y = make_classification(n_samples=5000, n_features=20, random_state=0)
    registry = Registry(home)
    registry.register(LogisticRegression(max_iter=1000).fit(X, y), "lr", sample=X[:5])
    registry.put_deployment("lr", "lr", {})
    body = json.dumps({"instances": X[:1].tolist()})
    compare(home, body, duration=args.duration, connections=args.connections)


if __name__ == "__main__":
    main()
