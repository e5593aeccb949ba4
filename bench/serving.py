"""Serving benchmark: our server beside hand-written FastAPI apps and the HTTP floor.

    python bench/serving.py [--duration 10] [--connections 1,64] [--before PATH]
                            [--models rf,rf-skl,lr,keras] [--ray]
                            [--ray-ingress proxy|haproxy|both] [--workers]
                            [--experiments | --no-experiments]

Every server runs on 127.0.0.1 in one run, on the same data (make_classification(5000,
20)), and is driven with one-row ``{"instances": [[...]]}`` requests by wrk (Debian's
``wrk``; ``apt-get install wrk``), bounded in time, at each connection count:

- maas_nb (``python -m maas_nb.serving``), its default batching;
- the lean FastAPI app a careful user writes (lean_app.py: ``async def``, orjson, the
  model called inline on the event loop: ``model.predict(x)``, Keras's ``model(x)``);
- today's FastAPI baseline (baseline_app.py: a pydantic body, a sync ``def``, so
  ``model.predict(x)`` on FastAPI's thread pool; for Keras, ``model.predict(x)``);
- the HTTP floor (floor_app.py: a constant JSON answer from a bare ASGI app, no model);
- with ``--before PATH`` (another checkout of maas_nb, e.g. ``git worktree add /tmp/old
  <commit>``), that checkout's server on a copy of the same registry: a change's cost,
  measured in one run.

The models: a RandomForestClassifier (100 trees, depth 8), a LogisticRegression and a
Keras MLP 20-64-64-1 (keras_mlp.py, built and fitted here). The forest is served twice
by our server: ``rf`` with maas_nb's exact tree-walking kernel, ``rf-skl`` (the same
trees, see sklearn_forest.py) with scikit-learn's own ``predict_proba``; so rf/rf-skl is
the kernel's effect and rf-skl/baseline the server's.

Then issue 16's experiment rows (experiments.py: the forest alone, in a 90/10 split,
with a 1% prediction log, and with a slow shadow), on a server of their own;
``--experiments`` runs only those, ``--no-experiments`` skips them.

With ``--ray``, then the forest on Ray Serve (serving_ray.py): the ``ray`` deploy target
with 1 and 2 replicas beside hand-written Ray Serve deployments and this run's local rows;
``--ray-ingress haproxy`` (or ``both``) through Ray Serve's HAProxy ingress.

It prints requests/s, p99 and errors per cell, the ratios ours/other (measured minutes
apart in one run on the same machine: on a busy machine, repeat), the issue 13 targets
met or not, and the cold start from deploy() to the first prediction. Before timing,
every model server must answer the timed request and a 16-row request as the model's
own ``predict`` does (Keras: to float32 rounding); one that answers wrongly is not
timed. The floor answers a constant by design and is not checked.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import numpy as np
import skops.io as sio
from answers import check_answers, check_kernel_rows
from drive import BENCH, ROOT, free_port, start, stop, wait_live, wrk
from machine import cores
from serving_table import print_table, print_targets
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn_forest import ScikitLearnForest, same_forest

#: model row -> (our deployment, the FastAPI apps' model, servers besides ours)
ROWS = {
    "rf": ("rf", "rf", ["lean", "baseline", "before"]),
    "rf-skl": ("rf-sklearn", None, []),
    "lr": ("lr", "lr", ["lean", "baseline", "before"]),
    "keras": ("keras", "keras", ["lean", "baseline", "before"]),
}
LABELS = {
    "ours": "maas_nb",
    "lean": "lean FastAPI (async, orjson, inline predict)",
    "baseline": "FastAPI (pydantic, sync def, model.predict)",
    "before": "maas_nb --before",
}
KERAS_LABELS = {
    "lean": "lean FastAPI calling model(x)",
    "baseline": "FastAPI calling model.predict(x)",
}


def save(model, directory: Path, name: str) -> None:
    if name == "keras":
        model.save(directory / "keras.keras")
    else:
        sio.dump(model, directory / f"{name}.skops")


def register_with(tree: Path, home: Path, models_dir: Path, names: list[str], sample) -> None:
    """Register the benchmark's models with another checkout's own code (its own schema)."""
    np.save(models_dir / "sample.npy", sample)
    code = (
        "import sys, numpy as np, skops.io as sio\n"
        "from maas_nb.registry import Registry\n"
        "home, models, names = sys.argv[1], sys.argv[2], sys.argv[3:]\n"
        "sample = np.load(f'{models}/sample.npy')\n"
        "registry = Registry(home)\n"
        "for name in names:\n"
        "    if name == 'keras':\n"
        "        import keras\n"
        "        model = keras.saving.load_model(f'{models}/keras.keras')\n"
        "    else:\n"
        "        path = f'{models}/{name}.skops'\n"
        "        model = sio.load(path, trusted=sio.get_untrusted_types(file=path))\n"
        "    registry.register(model, name, sample=sample)\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(home), str(models_dir), *names],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
    )


def cold_start(home: Path, uri: str, name: str, X: np.ndarray) -> float:
    """Seconds from deploy() to the first successful prediction, in a fresh process."""
    code = (
        "import time, sys, numpy as np, maas_nb\n"
        "t = time.perf_counter()\n"
        f"d = maas_nb.deploy({uri!r}, name={name!r})\n"
        f"d.predict(np.asarray({X[:1].tolist()!r}))\n"
        "print(time.perf_counter() - t)\n"
    )
    env = {**os.environ, "MAAS_HOME": str(home), "MAAS_PORT": "0"}
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=True,
    )
    return float(out.stdout.strip().splitlines()[-1])


def uvicorn_app(app: str, port: int, env: dict | None = None) -> subprocess.Popen:
    command = [sys.executable, "-m", "uvicorn", "--app-dir", str(BENCH), app]
    command += ["--port", str(port), "--log-level", "warning", "--no-access-log"]
    return start(command, env=env)


def maas_server(tree: Path, server_home: Path, port: int) -> subprocess.Popen:
    command = [sys.executable, "-m", "maas_nb.serving", "--home", str(server_home)]
    command += ["--port", str(port), "--log-level", "warning"]
    # BENCH on the path: the server imports sklearn_forest to load rf-sklearn.
    return start(command, env={"PYTHONPATH": f"{tree}{os.pathsep}{BENCH}"}, cwd=tree)


def fit(names: list[str], X: np.ndarray, y: np.ndarray) -> dict:
    models: dict = {}
    if "rf" in names or "rf-skl" in names:
        models["rf"] = RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0)
        models["rf"].fit(X, y)
    if "lr" in names:
        models["lr"] = LogisticRegression(max_iter=1000).fit(X, y)
    if "keras" in names:
        from keras_mlp import keras_mlp

        models["keras"] = keras_mlp(X, y)
    return models


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,64")
    parser.add_argument("--models", default="rf,rf-skl,lr,keras")
    parser.add_argument(
        "--before", type=Path, default=None, help="another maas_nb checkout to run beside ours"
    )
    parser.add_argument(
        "--ray", action="store_true", help="then rf on Ray Serve (serving_ray.py), same run"
    )
    parser.add_argument(
        "--ray-ingress",
        choices=["proxy", "haproxy", "both"],
        default="proxy",
        help="with --ray: Serve's Python proxy, HAProxy (RAY_SERVE_ENABLE_HA_PROXY), or both",
    )
    parser.add_argument(
        "--workers", action="store_true", help="then lr at c=64 with --workers 1 and 2 (workers.py)"
    )
    parser.add_argument(
        "--experiments", action="store_true", help="only issue 16's rows (experiments.py)"
    )
    parser.add_argument("--no-experiments", action="store_true", help="skip issue 16's rows")
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("This benchmark needs wrk: apt-get install wrk")
    if args.experiments:
        from experiments import main as experiments

        sys.argv = [sys.argv[0], "--duration", str(args.duration)]
        experiments()
        return
    connections = [int(c) for c in args.connections.split(",")]
    rows = [r for r in ROWS if r in args.models.split(",")]

    from maas_nb.registry import Registry

    tmp = Path(tempfile.mkdtemp(prefix="maas-bench-serving-"))
    X, y = make_classification(n_samples=5000, n_features=20, random_state=0)
    models = fit(rows, X, y)
    home = tmp / "home"
    registry = Registry(home)
    baseline_dir = tmp / "baseline"
    baseline_dir.mkdir()
    for name, model in models.items():
        registry.register(model, name, sample=X[:5])
        save(model, baseline_dir, name)
    served = dict(models)
    if "rf-skl" in rows:
        twin = same_forest(models["rf"])
        check_kernel_rows(models["rf"], twin, X)
        twin_type = f"{ScikitLearnForest.__module__}.{ScikitLearnForest.__qualname__}"
        registry.register(twin, "rf-sklearn", sample=X[:5], trusted_types=[twin_type])
        served["rf-sklearn"] = twin
    if "rf" in models and len(set(models["rf"].predict(X[:16]))) < 2:
        raise SystemExit("The answer check needs both classes in X[:16]; pick other rows.")

    ports = {key: free_port() for key in ("ours", "lean", "baseline", "floor", "before")}
    urls = {key: f"http://127.0.0.1:{port}" for key, port in ports.items()}
    procs: dict[str, subprocess.Popen] = {}
    try:
        procs["ours"] = maas_server(ROOT, home, ports["ours"])
        if args.before is not None:
            before_home = tmp / "before-home"
            register_with(args.before.resolve(), before_home, baseline_dir, list(models), X[:5])
            procs["before"] = maas_server(args.before.resolve(), before_home, ports["before"])
        env = {"MAAS_BENCH_MODELS": str(baseline_dir), "TF_CPP_MIN_LOG_LEVEL": "2"}
        procs["lean"] = uvicorn_app("lean_app:app", ports["lean"], env)
        procs["baseline"] = uvicorn_app("baseline_app:app", ports["baseline"], env)
        procs["floor"] = uvicorn_app("floor_app:app", ports["floor"])
        live = {"ours": "/v2/health/live", "before": "/v2/health/live", "floor": "/"}
        for key, proc in procs.items():
            wait_live(urls[key] + live.get(key, "/docs"), proc)

        os.environ["MAAS_HOME"] = str(home)
        warm = {name: cold_start(home, name, name, X) for name in served}  # server running
        if args.before is not None:
            for name in models:
                cold_start(before_home, name, name, X)

        targets: dict[tuple[str, str], str] = {}
        for row in rows:
            ours_name, peer, others = ROWS[row]
            targets[row, "ours"] = f"{urls['ours']}/models/{ours_name}/invocations"
            for key in others:
                if key in procs and peer is not None:
                    targets[row, key] = f"{urls[key]}/models/{peer}/invocations"
        for (row, key), url in targets.items():
            model = served[ROWS[row][0]]
            check_answers(f"{LABELS[key]} ({row})", url, model, X, keras=row == "keras")
        print("answers checked: every model server agrees with the model's own predict")

        body = json.dumps({"instances": X[:1].tolist()})
        print(
            f"maas_nb serving benchmark: one-row requests, wrk {args.duration} s per cell, "
            f"{cores()}; every figure below is from this one run\n"
        )
        results: dict[tuple[str, str, int], dict] = {}
        for c in connections:
            results["floor", "ours", c] = wrk(f"{urls['floor']}/", body, c, args.duration)
        for row in rows:
            for c in connections:
                for (r, key), url in targets.items():
                    if r == row:
                        results[row, key, c] = wrk(url, body, c, args.duration)
        table = []
        for row in rows:
            labels = {**LABELS, **(KERAS_LABELS if row == "keras" else {})}
            keys = [k for r, k in targets if r == row]
            table.append((row, [(k, labels[k]) for k in keys]))
        table.append(("floor", [("ours", "constant JSON, bare ASGI on uvicorn (no model)")]))
        print_table(results, table, connections)
        for c in connections:
            if ("rf", "ours", c) in results and ("rf-skl", "ours", c) in results:
                kernel = results["rf", "ours", c]["rps"] / results["rf-skl", "ours", c]["rps"]
                print(f"rf at c={c}: the forest kernel's share rf/rf-skl x{kernel:.2f}")
        for row in rows:
            for c in connections:
                ours, floor = results.get((row, "ours", c)), results["floor", "ours", c]
                if ours is not None:
                    print(f"{row} at c={c}: ours/floor x{ours['rps'] / floor['rps']:.2f}")
        print()
        print_targets(results)
        print()
        for name, seconds in warm.items():
            print(
                f"cold start {name}: deploy() -> first prediction, server already running: "
                f"{seconds:.3f} s"
            )
    finally:
        stop(procs.values())

    if "rf" in models and not args.no_experiments:
        from experiments import run as experiment_rows

        experiment_rows(models["rf"], X, duration=args.duration, rounds=3, tmp=tmp)
    if args.ray and "rf" in rows:
        from serving_ray import measure

        ingresses = ("proxy", "haproxy") if args.ray_ingress == "both" else (args.ray_ingress,)
        measure(home, baseline_dir, served, X, body, connections, args.duration, results, ingresses)
    if args.workers:
        from workers import compare

        compare(home, json.dumps({"instances": X[:1].tolist()}), duration=args.duration)
    if "rf" in models:
        spawned_cold_start(tmp / "spawned", models["rf"], X)


def spawned_cold_start(spawned_home: Path, model, X: np.ndarray) -> None:
    """Cold start when deploy() must first start the server itself."""
    from maas_nb.registry import Registry

    Registry(spawned_home).register(model, "rf", sample=X[:5])
    try:
        seconds = cold_start(spawned_home, "rf", "rf", X)
        print(
            f"cold start rf: deploy() -> first prediction, server spawned by deploy(): "
            f"{seconds:.3f} s"
        )
    finally:
        info = (
            json.loads((spawned_home / "server.json").read_text())
            if (spawned_home / "server.json").exists()
            else None
        )
        if info:
            os.kill(info["pid"], signal.SIGTERM)


if __name__ == "__main__":
    main()
