"""Where a prediction request's time goes in the server: py-spy samples under wrk load.

    python bench/profile_serving.py [--models lr,rf] [--connections 1,64] [--duration 8]
                                    [--protocol oip|mlflow] [--tree PATH] [--top 25]

Starts a real server (``python -m maas_nb.serving``, from this checkout or ``--tree``,
another checkout such as a ``git worktree`` of an older commit) on a fresh registry with
the benchmark's models (bench/serving.py's data), drives each deployment with one-row
requests from wrk, and meanwhile samples the server process with py-spy (every thread,
without pausing it, idle time left out). For each model and connection count it prints
the requests/s wrk measured under sampling, then the functions that hold the most
samples: *self* (the sample's innermost frame: where the CPU is) and *inclusive*
(anywhere on the stack: what a call costs with everything it calls). Percentages are of
the busy samples of all threads, so a thread hop or a lock shows up as its own cost.

Needs wrk (apt-get install wrk) and py-spy (pip install py-spy).
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
import numpy as np
from drive import free_port, wait_live, wrk
from sklearn.datasets import make_classification
from sklearn.ensemble import RandomForestClassifier
from sklearn.linear_model import LogisticRegression

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
JSON = {"Content-Type": "application/json"}


def fit_models(names: list[str], X: np.ndarray, y: np.ndarray) -> dict:
    makers = {
        "lr": lambda: LogisticRegression(max_iter=1000).fit(X, y),
        "rf": lambda: RandomForestClassifier(n_estimators=100, max_depth=8, random_state=0).fit(
            X, y
        ),
    }
    if "keras" in names:
        from keras_mlp import keras_mlp

        makers["keras"] = lambda: keras_mlp(X, y)
    return {name: makers[name]() for name in names}


def register(tree: Path, home: Path, models: dict, sample: np.ndarray) -> None:
    """Register and deploy *models* with *tree*'s own code (its own registry schema)."""
    work = home.parent / "models"
    work.mkdir(exist_ok=True)
    np.save(work / "sample.npy", sample)
    for name, model in models.items():
        if name == "keras":
            model.save(work / "keras.keras")
        else:
            import skops.io as sio

            sio.dump(model, work / f"{name}.skops")
    code = (
        "import sys, numpy as np\n"
        "from maas_nb.registry import Registry\n"
        "home, work, names = sys.argv[1], sys.argv[2], sys.argv[3:]\n"
        "sample = np.load(f'{work}/sample.npy')\n"
        "registry = Registry(home)\n"
        "for name in names:\n"
        "    if name == 'keras':\n"
        "        import keras\n"
        "        model = keras.saving.load_model(f'{work}/keras.keras')\n"
        "    else:\n"
        "        import skops.io as sio\n"
        "        path = f'{work}/{name}.skops'\n"
        "        model = sio.load(path, trusted=sio.get_untrusted_types(file=path))\n"
        "    registry.register(model, name, sample=sample)\n"
        "    registry.put_deployment(name, name, {})\n"
    )
    subprocess.run(
        [sys.executable, "-c", code, str(home), str(work), *models],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        check=True,
    )


def body_for(protocol: str, url: str, name: str, row: list[float]) -> tuple[str, str]:
    """The predict URL and one-row body for *protocol*."""
    if protocol == "mlflow":
        return f"{url}/models/{name}/invocations", json.dumps({"instances": [row]})
    meta = httpx.get(f"{url}/v2/models/{name}", trust_env=False, timeout=30).json()
    spec = meta["inputs"][0]
    tensor = {"name": spec["name"], "shape": [1, len(row)], "datatype": "FP64", "data": row}
    return f"{url}/v2/models/{name}/infer", json.dumps({"inputs": [tensor]})


def sample(pid: int, seconds: int, rate: int, out: Path) -> subprocess.Popen:
    command = ["py-spy", "record", "--pid", str(pid), "--duration", str(seconds)]
    command += ["--rate", str(rate), "--format", "raw", "--nonblocking", "--threads"]
    command += ["--output", str(out)]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)


def frame_name(frame: str) -> str:
    """``fn (path/to/module.py:12)`` -> ``fn (module.py:12)``, short enough for a table."""
    fn, _, where = frame.partition(" (")
    path, _, line = where.rstrip(")").rpartition(":")
    parts = Path(path).parts
    short = "/".join(parts[-2:]) if len(parts) > 1 else path
    return f"{fn} ({short}:{line})" if where else fn


def summarise(raw: Path, top: int) -> str:
    """Self and inclusive sample shares of the top functions, and each thread's share."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    threads: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue  # a frame name py-spy split across lines
        n = int(count)
        frames = stack.split(";")
        thread, frames = frames[0], [frame_name(f) for f in frames[1:]]
        total += n
        threads[thread.split(" ")[-1].strip('"') if '"' in thread else thread] += n
        if frames:
            own[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    if not total:
        return "  (no samples)"
    lines = ["  threads: " + ", ".join(f"{t} {n / total:.0%}" for t, n in threads.most_common())]
    for title, counter in (("self", own), ("inclusive", inclusive)):
        lines.append(f"  top {top} by {title} time (% of {total} busy samples):")
        lines += [f"    {n / total:6.1%}  {f}" for f, n in counter.most_common(top)]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="lr,rf", help="lr, rf, keras")
    parser.add_argument("--connections", default="1,64")
    parser.add_argument("--duration", type=int, default=8, help="seconds sampled per cell")
    parser.add_argument("--protocol", default="oip", choices=["oip", "mlflow"])
    parser.add_argument("--tree", type=Path, default=ROOT, help="the maas_nb checkout to run")
    parser.add_argument("--rate", type=int, default=250, help="py-spy samples per second")
    parser.add_argument("--top", type=int, default=25)
    args = parser.parse_args()
    for tool, fix in (("wrk", "apt-get install wrk"), ("py-spy", "pip install py-spy")):
        if shutil.which(tool) is None:
            raise SystemExit(f"This profile needs {tool}: {fix}")
    names = args.models.split(",")
    tree = args.tree.resolve()
    tmp = Path(tempfile.mkdtemp(prefix="maas-profile-serving-"))
    X, y = make_classification(n_samples=5000, n_features=20, random_state=0)
    register(tree, tmp / "home", fit_models(names, X, y), X[:5])
    port = free_port()
    command = [sys.executable, "-m", "maas_nb.serving", "--home", str(tmp / "home")]
    command += ["--port", str(port), "--log-level", "warning"]
    server = subprocess.Popen(
        command,
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_live(url + "/v2/health/live", server)
        states = httpx.post(
            url + "/maas/reconcile",
            headers={"Content-Type": "application/json"},
            trust_env=False,
            timeout=300,
        ).json()
        if any(s["status"] != "ready" for s in states):
            raise SystemExit(f"not every deployment is ready: {states}")
        print(f"profiling {tree} ({args.protocol}), py-spy at {args.rate} Hz, pid {server.pid}")
        for name in names:
            target, body = body_for(args.protocol, url, name, X[0].tolist())
            answer = httpx.post(target, content=body, headers=JSON, trust_env=False, timeout=30)
            answer.raise_for_status()
            for c in (int(c) for c in args.connections.split(",")):
                wrk(target, body, c, 2)  # warm: connections open, caches full
                raw = tmp / f"{name}-{c}.txt"
                spy = sample(server.pid, args.duration, args.rate, raw)
                time.sleep(0.5)  # py-spy attached before wrk starts
                result = wrk(target, body, c, args.duration - 1)
                _, err = spy.communicate(timeout=args.duration + 60)
                if spy.returncode != 0 or not raw.exists():
                    raise SystemExit(f"py-spy failed: {err.decode()[-2000:]}")
                print(
                    f"\n{name} at c={c}: {result['rps']:.0f} rps under sampling, "
                    f"p99 {result['p99']:.2f} ms, errors {result['errors']}"
                )
                print(summarise(raw, args.top), flush=True)
    finally:
        server.terminate()
        try:
            server.wait(timeout=60)
        except subprocess.TimeoutExpired:
            server.kill()


if __name__ == "__main__":
    main()
