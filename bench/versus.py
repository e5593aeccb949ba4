"""Our server against another checkout's, cell by cell, alternating: a change's cost.

    python bench/versus.py --before PATH [--models rf,lr,keras] [--connections 1,64]
                           [--duration 10] [--rounds 3]

serving.py ``--before`` times the other checkout minutes after ours (each row's servers
in turn); on a machine shared with other work that is noise. Here both servers run on
copies of one registry (serving.py's models and data), and each cell (model, c) is
timed ours, theirs, ours, theirs... ``--rounds`` times, back to back; each side's
figure is the median over the rounds, and the ratio ours/theirs is the median of the
rounds' own ratios. Both servers answer as the models' own predict before timing.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from answers import check_answers
from drive import ROOT, free_port, stop, wait_live, wrk
from machine import cores
from serving import cold_start, fit, maas_server, register_with, save
from sklearn.datasets import make_classification


def load() -> str:
    return "load " + " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--before", type=Path, required=True, help="the other checkout")
    parser.add_argument("--models", default="rf,lr,keras")
    parser.add_argument("--connections", default="1,64")
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    names = args.models.split(",")
    connections = [int(c) for c in args.connections.split(",")]
    from maas_nb.registry import Registry

    tmp = Path(tempfile.mkdtemp(prefix="maas-bench-versus-"))
    X, y = make_classification(n_samples=5000, n_features=20, random_state=0)
    models = fit(names, X, y)
    homes = {"ours": tmp / "ours", "before": tmp / "before"}
    saved = tmp / "models"
    saved.mkdir()
    registry = Registry(homes["ours"])
    for name, model in models.items():
        registry.register(model, name, sample=X[:5])
        save(model, saved, name)
    before = args.before.resolve()
    register_with(before, homes["before"], saved, list(models), X[:5])
    trees = {"ours": ROOT, "before": before}
    ports = {key: free_port() for key in homes}
    procs: dict[str, subprocess.Popen] = {}
    try:
        for key in homes:
            procs[key] = maas_server(trees[key], homes[key], ports[key])
        for key, proc in procs.items():
            wait_live(f"http://127.0.0.1:{ports[key]}/v2/health/live", proc)
        for key in homes:
            for name in models:
                cold_start(homes[key], name, name, X)  # deploys it on that home's server
        urls = {
            (key, name): f"http://127.0.0.1:{ports[key]}/models/{name}/invocations"
            for key in homes
            for name in models
        }
        for (key, name), url in urls.items():
            check_answers(f"{key} ({name})", url, models[name], X, keras=name == "keras")
        print(
            f"ours ({ROOT}) vs before ({before}): one-row requests, wrk {args.duration} s per "
            f"cell, {args.rounds} alternating rounds, {cores()}; answers checked"
        )
        body = json.dumps({"instances": X[:1].tolist()})
        table = []
        for name in models:
            for c in connections:
                runs: dict[str, list[dict]] = {"ours": [], "before": []}
                for i in range(args.rounds):
                    for key in ("ours", "before"):
                        r = wrk(urls[key, name], body, c, args.duration)
                        runs[key].append(r)
                        print(
                            f"  {name:<6}c={c:<3} round {i + 1} {key:<7}{r['rps']:>8.0f} rps "
                            f"p99 {r['p99']:>7.2f} ms err {r['errors']}  {load()}",
                            flush=True,
                        )
                ratio = np.median(
                    [o["rps"] / b["rps"] for o, b in zip(runs["ours"], runs["before"], strict=True)]
                )
                table.append((name, c, runs, float(ratio)))
        print(
            f"\n{'model':<7}{'c':>4}{'ours rps':>10}{'p99 ms':>9}{'before rps':>12}{'p99 ms':>9}"
            f"{'err':>5}{'ours/before':>13}"
        )
        for name, c, runs, ratio in table:
            med = {
                k: {f: float(np.median([r[f] for r in v])) for f in ("rps", "p99")}
                for k, v in runs.items()
            }
            errors = sum(r["errors"] for v in runs.values() for r in v)
            print(
                f"{name:<7}{c:>4}{med['ours']['rps']:>10.0f}{med['ours']['p99']:>9.2f}"
                f"{med['before']['rps']:>12.0f}{med['before']['p99']:>9.2f}{errors:>5}"
                f"{ratio:>12.2f}x"
            )
    finally:
        stop(procs.values())


if __name__ == "__main__":
    main()
