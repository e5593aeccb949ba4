"""Control panel benchmark: what the live panel costs the kernel that shows it.

    python bench/ui.py [--seconds 3] [--rounds 5]

1. One watcher reading (server status + /metrics, redraw of the Deploy and Monitor tabs),
   timed over 50 readings against a real local server with one deployment.
2. The kernel's own work while a live panel reads once a second: a pure-Python loop's
   iterations per second, with the panel (ours) and without one (baseline), same process.
3. The time from a Deploy click to "ready", beside maas_nb.deploy() itself.
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time


def spin(seconds: float) -> float:
    """Iterations per second of a pure-Python loop (stands in for the user's cell)."""
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(1000):
            n += 1
    return n / seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    home = tempfile.mkdtemp(prefix="maas-bench-ui-")
    os.environ["MAAS_HOME"] = home
    os.environ.setdefault("MAAS_PORT", "0")

    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    import maas_nb
    from maas_nb.notebook.ui import Panel
    from maas_nb.serving.client import stop_server

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(max_iter=1000).fit(X, y)
    maas_nb.register(model, "iris", sample=X[:5], alias="production")
    try:
        start = time.perf_counter()
        maas_nb.deploy("iris@production", name="api")  # also starts the server
        api_cold = time.perf_counter() - start
        start = time.perf_counter()
        maas_nb.deploy("iris@production", name="api2")
        api_warm = time.perf_counter() - start

        panel = Panel(live=False)
        start = time.perf_counter()
        panel.deploy.name.value = "panel"
        panel.deploy.deploy.click()
        panel.deploy.wait()
        click = time.perf_counter() - start
        assert panel.deploy.pending["panel"] == "ready", panel.log.lines

        for _ in range(5):
            panel.tick()
        ticks = []
        for _ in range(50):
            t = time.perf_counter()
            panel.tick()
            ticks.append((time.perf_counter() - t) * 1000)
        panel.close()

        # Alternate without / with a live panel, so drift hits both alike.
        without, with_panel = [], []
        for _ in range(args.rounds):
            without.append(spin(args.seconds))
            live = Panel(refresh_s=1.0)
            with_panel.append(spin(args.seconds))
            live.close()
    finally:
        stop_server()

    base, ours = statistics.median(without), statistics.median(with_panel)
    print(f"{'measure':<46} {'maas_nb':>12} {'baseline':>12}")
    print(
        f"{'one watcher reading, median / p95 (ms)':<46} "
        f"{statistics.median(ticks):>6.2f} / {sorted(ticks)[47]:<5.2f} {'-':>11}"
    )
    print(
        f"{'kernel loop with a live panel (Mit/s)':<46} {ours / 1e6:>12.2f} {base / 1e6:>12.2f}"
        f"   ({ours / base:.3f}x; medians of {args.rounds} alternating rounds; baseline = no panel)"
    )
    print(
        f"{'Deploy click to ready, server running (s)':<46} {click:>12.3f} {api_warm:>12.3f}"
        "   (baseline = maas_nb.deploy())"
    )
    print(f"{'maas_nb.deploy() starting the server (s)':<46} {api_cold:>12.3f}")


if __name__ == "__main__":
    main()
