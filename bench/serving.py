"""Serving benchmark: our server, a hand-written FastAPI baseline, and the HTTP floor.

    python bench/serving.py [--duration 10] [--connections 1,8,64] [--before PATH]

With ``--before PATH`` (another checkout of maas_nb, e.g. ``git worktree add /tmp/old
<commit>``), that checkout's server runs beside ours on a copy of the same registry, and
each cell also prints its requests/s and ours/before: a change's cost, measured in one run.

All three run on 127.0.0.1 in one run, on the same data: a RandomForestClassifier
(100 trees, depth 8) and a LogisticRegression on make_classification(5000, 20). Each is
driven with one-row requests by wrk (Debian's ``wrk``; ``apt-get install wrk``), bounded
in time. Prints requests/s, p50, p99 and errors, the ratios ours/baseline and
ours/floor, and the cold start from deploy() to the first prediction.

The forest is served twice by our server: ``rf`` with maas_nb's exact tree-walking
kernel, ``rf-skl`` (the same trees, see sklearn_forest.py) with scikit-learn's own
``predict_proba``. The baseline always calls scikit-learn's ``predict``, so
rf/rf-skl is the kernel's effect (what a user would also get by walking the trees in
their own app) and rf-skl/baseline is the server's (batching, decoding).

Before timing, every model server (ours, the baseline, --before) must answer the timed
request and a 16-row request exactly as the model's own ``predict`` does; a server that
answers wrongly is not timed. The floor answers a constant by design and is not checked.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
import skops.io as sio
from answers import check_answers, check_kernel_rows
from machine import cores
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression
from sklearn_forest import ScikitLearnForest, same_forest

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_live(url: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"{proc.args} exited with {proc.returncode}")
        try:
            httpx.get(url, timeout=1, trust_env=False)
            return
        except httpx.HTTPError:
            time.sleep(0.05)
    raise SystemExit(f"{url} did not come up")


def start(args: list[str], env: dict | None = None, cwd: Path = ROOT) -> subprocess.Popen:
    return subprocess.Popen(
        args,
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def wrk(url: str, body: str, connections: int, duration: int) -> dict:
    script = BENCH / "results" / "post.lua"
    script.parent.mkdir(exist_ok=True)
    script.write_text(
        'wrk.method = "POST"\n'
        f"wrk.body = {json.dumps(body)}\n"
        'wrk.headers["Content-Type"] = "application/json"\n'
    )
    threads = min(connections, 2)
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{duration}s",
            "--timeout",
            "5s",
            "--latency",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        timeout=duration + 60,
        check=True,
    ).stdout
    return {
        "rps": float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)),
        "p50": _ms(re.search(r"50%\s+([\d.]+\w+)", out).group(1)),
        "p99": _ms(re.search(r"99%\s+([\d.]+\w+)", out).group(1)),
        "errors": _errors(out),
    }


def _ms(text: str) -> float:
    value, unit = re.match(r"([\d.]+)(\w+)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}[unit]


def _errors(out: str) -> int:
    errors = 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", out)
    if m:
        errors += sum(int(x) for x in m.groups())
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    if m:
        errors += int(m.group(1))
    return errors


# (row label, our deployment, the baseline's and --before's model: None for none)
ROWS = [("rf", "rf", "rf"), ("rf-skl", "rf-sklearn", None), ("lr", "lr", "lr")]


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
        "    path = f'{models}/{name}.skops'\n"
        "    model = sio.load(path, trusted=sio.get_untrusted_types(file=path))\n"
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=int, default=10, help="seconds per wrk run")
    parser.add_argument("--connections", default="1,8,64")
    parser.add_argument(
        "--before", type=Path, default=None, help="another maas_nb checkout to run beside ours"
    )
    parser.add_argument(
        "--workers", action="store_true", help="then lr at c=64 with --workers 1 and 2 (workers.py)"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("This benchmark needs wrk: apt-get install wrk")
    connections = [int(c) for c in args.connections.split(",")]

    from maas_nb.registry import Registry

    tmp = Path(tempfile.mkdtemp(prefix="maas-bench-serving-"))
    X, y = make_classification(n_samples=5000, n_features=20, random_state=0)
    models = {
        "rf": RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0).fit(X, y),
        "lr": LogisticRegression(max_iter=1000).fit(X, y),
    }
    twin = same_forest(models["rf"])
    check_kernel_rows(models["rf"], twin, X)
    if len(set(models["rf"].predict(X[:16]))) < 2:
        raise SystemExit("The answer check needs both classes in X[:16]; pick other rows.")
    home = tmp / "home"
    registry = Registry(home)
    baseline_dir = tmp / "baseline"
    baseline_dir.mkdir()
    for name, model in models.items():
        registry.register(model, name, sample=X[:5])
        sio.dump(model, baseline_dir / f"{name}.skops")
    twin_type = f"{ScikitLearnForest.__module__}.{ScikitLearnForest.__qualname__}"
    registry.register(twin, "rf-sklearn", sample=X[:5], trusted_types=[twin_type])
    served = {**models, "rf-sklearn": twin}

    ours_port, base_port, floor_port = free_port(), free_port(), free_port()
    before_port = free_port()
    procs = []

    def maas_server(tree: Path, server_home: Path, port: int) -> subprocess.Popen:
        command = [sys.executable, "-m", "maas_nb.serving", "--home", str(server_home)]
        command += ["--port", str(port), "--log-level", "warning"]
        # BENCH on the path: the server imports sklearn_forest to load rf-sklearn.
        return start(command, env={"PYTHONPATH": f"{tree}{os.pathsep}{BENCH}"}, cwd=tree)

    try:
        ours = maas_server(ROOT, home, ours_port)
        procs.append(ours)
        before = None
        if args.before is not None:
            before_home = tmp / "before-home"
            register_with(args.before.resolve(), before_home, baseline_dir, list(models), X[:5])
            before = maas_server(args.before.resolve(), before_home, before_port)
            procs.append(before)
        base = start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(BENCH),
                "baseline_app:app",
                "--port",
                str(base_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ],
            env={"MAAS_BENCH_MODELS": str(baseline_dir)},
        )
        procs.append(base)
        floor = start(
            [
                sys.executable,
                "-m",
                "uvicorn",
                "--app-dir",
                str(BENCH),
                "floor_app:app",
                "--port",
                str(floor_port),
                "--log-level",
                "warning",
                "--no-access-log",
            ]
        )
        procs.append(floor)
        ours_url, base_url, floor_url = (
            f"http://127.0.0.1:{p}" for p in (ours_port, base_port, floor_port)
        )
        wait_live(ours_url + "/v2/health/live", ours)
        before_url = f"http://127.0.0.1:{before_port}"
        if before is not None:
            wait_live(before_url + "/v2/health/live", before)
        wait_live(base_url + "/docs", base)
        wait_live(floor_url + "/", floor)

        env_home = {"MAAS_HOME": str(home)}
        os.environ.update(env_home)
        warm = {name: cold_start(home, name, name, X) for name in served}  # server already running
        if before is not None:
            for name in models:
                cold_start(before_home, name, name, X)

        for label, ours_name, other in ROWS:
            model = served[ours_name]
            check_answers(
                f"our server ({label})", f"{ours_url}/models/{ours_name}/invocations", model, X
            )
            if other is not None:
                url = f"{base_url}/models/{other}/invocations"
                check_answers(f"the baseline ({label})", url, model, X)
                if before is not None:
                    url = f"{before_url}/models/{other}/invocations"
                    check_answers(f"--before {args.before} ({label})", url, model, X)
        print("answers checked: every model server agrees with the model's own predict")

        body = json.dumps({"instances": X[:1].tolist()})
        print(
            f"maas_nb serving benchmark: one-row requests, wrk {args.duration} s per cell, {cores()}"
        )
        print(
            "rf: our server with maas_nb's forest kernel; rf-skl: the same forest through "
            "scikit-learn's predict_proba; baseline: FastAPI calling scikit-learn's predict"
        )
        print(
            f"{'model':<6}{'conns':>6}  {'ours rps':>9} {'p50 ms':>7} {'p99 ms':>7} {'err':>4}  "
            f"{'baseline rps':>12} {'p50 ms':>7} {'p99 ms':>8} {'err':>5}  {'floor rps':>9} {'p99 ms':>7}  "
            f"{'ours/base':>9} {'ours/floor':>10}"
            + (f"  {'before rps':>10} {'p99 ms':>7} {'ours/before':>11}" if before else "")
        )
        rps: dict[tuple[str, int], float] = {}
        for label, ours_name, other in ROWS:
            baseline_name = other or "rf"  # rf-skl: the baseline serves the same forest as rf
            for c in connections:
                o = wrk(f"{ours_url}/models/{ours_name}/invocations", body, c, args.duration)
                b = wrk(f"{base_url}/models/{baseline_name}/invocations", body, c, args.duration)
                f = wrk(f"{floor_url}/", body, c, args.duration)
                rps[label, c], rps["baseline " + label, c] = o["rps"], b["rps"]
                extra = ""
                if before is not None and other is not None:
                    p = wrk(f"{before_url}/models/{other}/invocations", body, c, args.duration)
                    extra = f"  {p['rps']:>10.0f} {p['p99']:>7.2f} {o['rps'] / p['rps']:>10.2f}x"
                elif before is not None:
                    extra = f"  {'-':>10} {'-':>7} {'-':>11}"
                print(
                    f"{label:<6}{c:>6}  {o['rps']:>9.0f} {o['p50']:>7.2f} {o['p99']:>7.2f} {o['errors']:>4}  "
                    f"{b['rps']:>12.0f} {b['p50']:>7.2f} {b['p99']:>8.2f} {b['errors']:>5}  {f['rps']:>9.0f} {f['p99']:>7.2f}  "
                    f"{o['rps'] / b['rps']:>8.2f}x {o['rps'] / f['rps']:>9.2f}x" + extra,
                    flush=True,
                )
        print()
        for c in connections:
            kernel = rps["rf", c] / rps["rf-skl", c]
            server = rps["rf-skl", c] / rps["baseline rf", c]
            print(
                f"rf at {c} connections: ours/baseline x{rps['rf', c] / rps['baseline rf', c]:.2f} = "
                f"kernel x{kernel:.2f} (rf/rf-skl) * server and batching x{server:.2f} (rf-skl/baseline)"
            )
        print()
        for name, seconds in warm.items():
            print(
                f"cold start {name}: deploy() -> first prediction, server already running: {seconds:.3f} s"
            )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                proc.kill()

    if args.workers:
        from workers import compare

        compare(home, json.dumps({"instances": X[:1].tolist()}), duration=args.duration)

    spawned_home = tmp / "spawned"
    spawned = Registry(spawned_home)
    spawned.register(models["rf"], "rf", sample=X[:5])
    try:
        seconds = cold_start(spawned_home, "rf", "rf", X)
        print(
            f"cold start rf: deploy() -> first prediction, server spawned by deploy(): {seconds:.3f} s"
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
