"""Issue 16's experiment rows: what a traffic split, the prediction log and a shadow cost.

    python bench/experiments.py [--duration 10] [--rounds 3] [--rows split,shadow]
                                [--tree PATH] [--versus PATH | --together]
    python bench/serving.py --experiments    (only these rows)
    python bench/serving.py                  (these rows after the model table)

Three maas_nb servers on 127.0.0.1, each on a registry home of its own holding the
random forest of serving.py (100 trees, depth 8, make_classification(5000, 20)) as
``rf:1``; the "split" home also holds ``rf:2`` (the same trees) and ``rf:3``, a
SleepyForest (sleepy_forest.py: 50 ms of sleep per batch, no work). Deployments:

- ``rf`` (alone on its server): rf:1, no log: the reference across server processes;
- ``rf-beside``: rf:1 alone, on the server of the next two: the split's and the
  shadow's reference;
- ``rf-split``: rf:1 and rf:2 at 90/10 (``maas_nb.traffic``);
- ``rf-shadow``: rf:1 with rf:3 as a shadow of 100% of its requests;
- ``rf-log``: rf:1 with the prediction log at 1% (``deploy(log_sample=0.01)``);
- ``rf-quiet``: rf:1 not logged, on rf-log's server: the log row's reference.

Each row is compared with a reference in the same server process. Two server processes
started alike, serving the same deployment, differ here by up to 5% in requests/s and
CPU per request, for the whole of a run (memory layout, hash seeds): more than rounds
average out, and as much as the costs measured. rf-quiet pays for being beside a logged
deployment what an unlogged one does (its log sink is asked about each answer, and
says no: `OutcomeSink.wants`), not for the log. The split and the log are also printed
against ``rf`` (across processes), for comparison.

wrk drives one deployment at a time with one-row requests: rf, rf-quiet, rf-log,
rf-beside and rf-split at c=64, then rf-beside and rf-shadow at c=16, each sequence repeated
``--rounds`` times back to back (a b c a b c: a burst of load elsewhere on the machine
hits every row; after the shadowed row, until the shadow's queue has drained), and each
row's figures are the median over the rounds; the ratios are to its reference of the
same run, at the same c.
Targets (issue 16): split and log >= 0.9x their reference's requests/s; the shadowed
primary's p99 at most 10% above the same model's without a shadow, on the same server.

``--tree PATH`` serves from another checkout (``git worktree add /tmp/old REV``) with
the same setup: a change's effect, run after run. ``--versus PATH`` runs that
checkout's three servers beside ours and times each cell on ours, then on theirs, round
after round: each side's rows, and each row's ratio to its own side's reference as the
median of the rounds' ratios (a burst of load elsewhere hits both sides alike).
``--together`` times each row at the same moment as its reference, on twin servers
(together.py): the verdict this machine's changing CPU speed cannot move. Each server's
output is kept in its temporary directory (``server-*.log``).

Before timing, every deployment answers X[:1] and X[:16] as the forest's own predict,
rf-split's answers name both versions in about a 90/10 ratio (X-Maas-Version), and
after timing the prediction log and the server's count of the shadow's answers (``/metrics``)
show they did their work.
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from answers import check_answers
from drive import BENCH, ROOT, free_port, start, stop, wait_live, wrk
from experiment_report import (
    SHADOW_C,
    SPLIT_C,
    cells_text,
    medians,
    print_rows,
    print_versus,
)
from machine import cores
from sleepy_forest import SleepyForest, sleepy_forest
from together import measure_together


def load() -> str:
    one, five, fifteen = os.getloadavg()
    return f"load {one:.2f} {five:.2f} {fifteen:.2f}"


#: The server (registry home) of each deployment.
SERVERS = {
    "rf": "plain",
    "rf-quiet": "logged",
    "rf-beside": "split",
    "rf-split": "split",
    "rf-shadow": "split",
    "rf-log": "logged",
}


def setup(homes: dict[str, Path], forest, X: np.ndarray) -> None:
    """Register the versions and make the four deployments on the running servers."""
    import maas_nb
    from maas_nb.registry import Registry

    for home in homes.values():
        Registry(home).register(forest, "rf", sample=X[:5])
    split = Registry(homes["split"])
    split.register(forest, "rf", sample=X[:5])
    sleepy = sleepy_forest(forest)
    trusted = [f"{SleepyForest.__module__}.{SleepyForest.__qualname__}"]
    split.register(sleepy, "rf", sample=X[:5], trusted_types=trusted)
    maas_nb.deploy("rf:1", name="rf", home=str(homes["plain"]))
    where = str(homes["split"])
    maas_nb.deploy("rf:1", name="rf-beside", home=where)
    maas_nb.deploy("rf:1", name="rf-split", home=where)
    maas_nb.traffic("rf-split", {"1": 90, "2": 10}, home=where)
    maas_nb.deploy("rf:1", name="rf-shadow", home=where)
    maas_nb.traffic("rf-shadow", {"1": 100}, shadow={"3": 100}, home=where)
    maas_nb.deploy("rf:1", name="rf-log", home=str(homes["logged"]), log_sample=0.01)
    maas_nb.deploy("rf:1", name="rf-quiet", home=str(homes["logged"]))


def check_split(url: str, X: np.ndarray, n: int = 400) -> collections.Counter:
    """The versions that answered *n* requests to rf-split; exits unless both did."""
    body = {"instances": X[:1].tolist()}
    seen: collections.Counter = collections.Counter()
    with httpx.Client(trust_env=False, timeout=30) as client:
        for _ in range(n):
            response = client.post(url, json=body)
            response.raise_for_status()
            seen[response.headers.get("x-maas-version")] += 1
    share = seen.get("rf:2", 0) / n
    if set(seen) != {"rf:1", "rf:2"} or not 0.05 <= share <= 0.15:
        raise SystemExit(
            f"Refusing to time rf-split: {n} requests were answered by {dict(seen)}, not "
            "rf:1 and rf:2 at about 90/10. Check maas_nb.traffic and the server's split."
        )
    return seen


def logged_rows(home: Path, deployment: str) -> int:
    from maas_nb.serving.prediction_log import SUFFIX, log_dir

    directory = log_dir(home, deployment)
    if not directory.is_dir():
        return 0
    return sum(p.read_bytes().count(b"\n") for p in directory.glob(f"*{SUFFIX}"))


@dataclasses.dataclass
class Side:
    """One checkout's three servers, set up: where each deployment answers."""

    tree: Path
    homes: dict[str, Path]
    urls: dict[str, str]  # each server's base URL
    invocations: dict[str, str]


def serve(tree: Path, tmp: Path, forest, X: np.ndarray, procs: list) -> Side:
    """Start *tree*'s servers (added to *procs*), make the deployments, check answers."""
    tmp.mkdir(parents=True, exist_ok=True)
    homes = {key: tmp / f"experiments-{key}" for key in ("plain", "split", "logged")}
    ports = {key: free_port() for key in homes}
    urls = {key: f"http://127.0.0.1:{port}" for key, port in ports.items()}
    started = {}
    for key, home in homes.items():
        command = [sys.executable, "-m", "maas_nb.serving", "--home", str(home)]
        command += ["--port", str(ports[key]), "--log-level", "warning"]
        # BENCH on the path: the server imports sleepy_forest to load rf:3.
        env = {"PYTHONPATH": f"{tree}{os.pathsep}{BENCH}"}
        started[key] = start(command, env=env, cwd=tree, log=tmp / f"server-{key}.log")
        procs.append(started[key])
    for key, proc in started.items():
        wait_live(f"{urls[key]}/v2/health/live", proc)
    setup(homes, forest, X)
    invocations = {name: f"{urls[key]}/models/{name}/invocations" for name, key in SERVERS.items()}
    for name, target in invocations.items():
        check_answers(f"maas_nb ({name}, {tree})", target, forest, X)
    seen = check_split(invocations["rf-split"], X)
    print(
        f"{tree}: answers checked: {', '.join(invocations)} agree with the "
        f"forest's predict; rf-split answered {seen['rf:1']} by rf:1, {seen['rf:2']} by rf:2"
    )
    return Side(tree, homes, urls, invocations)


def run(
    forest,
    X: np.ndarray,
    *,
    duration: int,
    rounds: int,
    tmp: Path,
    groups: tuple[str, ...] = ("split", "shadow"),
    tree: Path = ROOT,
    versus: Path | None = None,
    together: bool = False,
) -> dict:
    """Measure the rows on servers of our own (and of the checkout *versus*, cell by
    cell in turn with ours; or, *together*, on twin servers of ours, each row at the
    same time as its reference: together.py); print them and return ours."""
    trees = {"ours": tree} if versus is None else {"ours": tree, "before": versus}
    if together:  # twin servers of *tree*, each row timed at once with its reference
        trees = {"x": tree, "y": tree}
    procs: list[subprocess.Popen] = []
    try:
        sides = {key: serve(path, tmp / key, forest, X, procs) for key, path in trees.items()}
        if together:
            ratios = measure_together(sides, X, duration, rounds, groups, _drained)
            if "shadow" in groups:
                for key, side in sides.items():
                    answered, settled = shadow_counts(side.urls["split"])
                    print(f"  {key}: rf-shadow's shadow answered {answered} copies of {settled}")
            return ratios
        return measure(sides, X, duration, rounds, groups)
    finally:
        stop(procs)


#: The cells of each group of rows: (deployment, connections), timed in this order.
CELLS = {
    "split": [
        ("rf", SPLIT_C),
        ("rf-quiet", SPLIT_C),
        ("rf-log", SPLIT_C),
        ("rf-beside", SPLIT_C),
        ("rf-split", SPLIT_C),
    ],
    "shadow": [("rf-beside", SHADOW_C), ("rf-shadow", SHADOW_C)],
}


def measure(
    sides: dict[str, Side],
    X: np.ndarray,
    duration: int,
    rounds: int,
    groups: tuple[str, ...] = ("split", "shadow"),
) -> dict:
    body = json.dumps({"instances": X[:1].tolist()})
    runs: dict[str, dict[tuple[str, int], list[dict]]] = {
        key: collections.defaultdict(list) for key in sides
    }
    logged_before = {k: logged_rows(s.homes["logged"], "rf-log") for k, s in sides.items()}
    shadow_before = {k: shadow_counts(s.urls["split"])[0] for k, s in sides.items()}
    print(
        f"\nissue 16 experiment rows: rf (100 trees, depth 8), one-row requests, wrk "
        f"{duration} s per cell, {rounds} round(s) back to back, {cores()}"
    )
    for i in range(rounds):
        for name, c in [cell for group in groups for cell in CELLS[group]]:
            for key, side in sides.items():  # each cell on every side in turn
                r = wrk(side.invocations[name], body, c, duration)
                r["load"] = load()
                runs[key][name, c].append(r)
                if name == "rf-shadow":
                    _drained(side.urls["split"])  # the shadow's queue drained before the next row
                where = f"{key:<7}" if len(sides) > 1 else ""
                print(f"  round {i + 1} {where}{name:<9} c={c:<3} {cells_text(r)}  {r['load']}")
    rows = {}
    for key, side in sides.items():
        shadow_rows = shadow_counts(side.urls["split"])[0] - shadow_before[key]
        logged = 0
        if "split" in groups:
            logged = _wait_logged(side.homes["logged"], logged_before[key])
        rows[key] = {cell: medians(value) for cell, value in runs[key].items()}
        if len(sides) > 1:
            print(f"\n{key}: {side.tree}")
        print_rows(rows[key], runs[key], logged, shadow_rows, duration)
    if len(sides) > 1:
        print_versus(runs["ours"], runs["before"])
    return rows["ours"]


def _wait_logged(home: Path, before: int, timeout: float = 10.0) -> int:
    """The rows rf-log logged during the runs, once its writer has caught up."""
    deadline, last = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        now = logged_rows(home, "rf-log") - before
        if now == last and now > 0:
            return now
        last = now
        time.sleep(0.5)  # the writer thread writes every 0.2 s
    return max(last, 0)


def shadow_counts(base: str) -> tuple[int, int]:
    """rf-shadow's copies its shadow answered, and those answered, timed out or failed,
    from the server's ``/metrics`` (one-row requests: a copy is a row)."""
    text = httpx.get(f"{base}/metrics", trust_env=False, timeout=30).text
    counts = {}
    for name in ("answered", "timeouts", "errors"):
        found = re.search(rf'^maas_shadow_{name}_total{{deployment="rf-shadow"}} (\d+)', text, re.M)
        counts[name] = int(found.group(1)) if found else 0
    return counts["answered"], sum(counts.values())


def _drained(base: str, timeout: float = 30.0) -> None:
    """Wait until rf-shadow's shadow has settled no copy for half a second."""
    deadline, last = time.monotonic() + timeout, -1
    while time.monotonic() < deadline:
        now = shadow_counts(base)[1]
        if now == last:
            return
        last = now
        time.sleep(0.5)  # a batch of the shadow takes 50 ms


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, default=3, help="repeats of the row sequence")
    parser.add_argument("--rows", default="split,shadow", help="split (a, b, c), shadow")
    parser.add_argument(
        "--tree", type=Path, default=ROOT, help="serve from another checkout (git worktree)"
    )
    parser.add_argument(
        "--versus", type=Path, help="also serve from this checkout, cell by cell in turn"
    )
    parser.add_argument(
        "--together",
        action="store_true",
        help="time each row at once with its reference, on twin servers (together.py)",
    )
    args = parser.parse_args()
    from serving import fit
    from sklearn.datasets import make_classification

    X, y = make_classification(n_samples=5000, n_features=20, random_state=0)
    forest = fit(["rf"], X, y)["rf"]
    tmp = Path(tempfile.mkdtemp(prefix="maas-bench-experiments-"))
    print(load())
    groups = tuple(g for g in CELLS if g in args.rows.split(","))
    tree = args.tree.resolve()
    versus = args.versus.resolve() if args.versus else None
    print(f"serving from {tree}" + (f" and, in turn, {versus}" if versus else ""))
    run(
        forest,
        X,
        duration=args.duration,
        rounds=args.rounds,
        tmp=tmp,
        groups=groups,
        tree=tree,
        versus=versus,
        together=args.together,
    )


if __name__ == "__main__":
    main()
