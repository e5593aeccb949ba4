"""Control panel benchmark: what the live panel costs the kernel that shows it.

    python bench/ui.py [--seconds 3] [--rounds 5]

Everything panel-side runs inside a real IPython kernel (ipykernel, started with
jupyter_client on this interpreter), as in a notebook: widgets there own comms, so every
redraw is a message on the kernel's IOPub channel. This script is the front end: it sends
the cells, reads IOPub (as JupyterLab would) and counts the widget messages. Times are taken
inside the kernel.

1. One watcher reading (server status + /metrics, redraw of the Deploy and Monitor tabs),
   timed over 50 readings against a real local server with one deployment; beside it, the
   same reading in a plain process with no kernel, where widget changes send nothing.
2. The kernel's own work while a live panel reads once a second: a pure-Python loop's
   iterations per second in the kernel, with the panel (ours) and without one (baseline).
3. The time from a Deploy click to "ready", beside maas_nb.deploy() itself (in the kernel).
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

SETUP = """
import json, statistics, time
from IPython.display import display
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
import maas_nb
from maas_nb.notebook.ui import Panel

def spin(seconds):
    n, end = 0, time.perf_counter() + seconds
    while time.perf_counter() < end:
        for _ in range(1000):
            n += 1
    return n / seconds

X, y = load_iris(return_X_y=True)
maas_nb.register(LogisticRegression(max_iter=1000).fit(X, y), "iris", sample=X[:5],
                 alias="production")
start = time.perf_counter()
maas_nb.deploy("iris@production", name="api")  # also starts the server
api_cold = time.perf_counter() - start
start = time.perf_counter()
maas_nb.deploy("iris@production", name="api2")
api_warm = time.perf_counter() - start
panel = Panel(live=False)
display(panel)
print(json.dumps({"api_cold": api_cold, "api_warm": api_warm}))
"""

CLICK = """
start = time.perf_counter()
panel.deploy.name.value = "panel"
panel.deploy.deploy.click()
panel.deploy.wait()
click = time.perf_counter() - start
assert panel.deploy.pending["panel"] == "ready", panel.log.lines
print(json.dumps({"click": click}))
"""

TICKS = """
for _ in range(5):
    panel.tick()
ticks = []
for _ in range(50):
    t = time.perf_counter()
    panel.tick()
    ticks.append((time.perf_counter() - t) * 1000)
print(json.dumps({"ticks": ticks}))
"""

SPIN = "print(json.dumps({{'rate': spin({seconds})}}))"
OPEN_LIVE = "live = Panel(refresh_s=1.0)\ndisplay(live)"
CLOSE_LIVE = "live.close()"
TEARDOWN = "panel.close()\nfrom maas_nb import stop_server\nstop_server()"


@dataclass
class Reply:
    """What one cell sent back: its printed JSON lines and the widget traffic meanwhile."""

    printed: list[dict[str, Any]] = field(default_factory=list)
    widget_messages: int = 0
    widget_bytes: int = 0

    def value(self, key: str) -> Any:
        return next(p[key] for p in self.printed if key in p)


class Kernel:
    """An ipykernel on this interpreter, driven over ZeroMQ the way a notebook front end is."""

    def __init__(self, root: Path) -> None:
        from jupyter_client.kernelspec import KernelSpecManager
        from jupyter_client.manager import KernelManager

        spec_dir = root / "kernels" / "bench"
        spec_dir.mkdir(parents=True)
        argv = [sys.executable, "-m", "ipykernel_launcher", "-f", "{connection_file}"]
        spec = {"argv": argv, "display_name": "bench", "language": "python"}
        (spec_dir / "kernel.json").write_text(json.dumps(spec))
        specs = KernelSpecManager(kernel_dirs=[str(root / "kernels")], ensure_native_kernel=False)
        self.manager = KernelManager(kernel_name="bench", kernel_spec_manager=specs)
        # The kernel's own log (a warning that it runs over TCP, as notebooks do) goes to a
        # file, not into the table.
        self.log = (root / "kernel.log").open("w")
        self.manager.start_kernel(env=dict(os.environ), stdout=self.log, stderr=self.log)
        self.client = self.manager.client()
        self.client.start_channels()
        self.client.wait_for_ready(timeout=120)

    def run(self, code: str, timeout: float = 300) -> Reply:
        """Execute *code*; read IOPub until the kernel is idle again."""
        msg_id = self.client.execute(code)
        reply, stdout = Reply(), []
        deadline = time.monotonic() + timeout
        while True:
            try:
                msg = self.client.get_iopub_msg(timeout=max(0.1, deadline - time.monotonic()))
            except queue.Empty:
                raise TimeoutError(
                    f"no answer from the kernel in {timeout} s to:\n{code}"
                ) from None
            kind, content = msg["msg_type"], msg["content"]
            if kind in ("comm_open", "comm_msg", "comm_close"):
                reply.widget_messages += 1
                reply.widget_bytes += len(json.dumps(content)) + sum(map(len, msg["buffers"]))
            if msg["parent_header"].get("msg_id") != msg_id:
                continue  # a background thread's message (the live panel's watcher)
            if kind == "stream" and content["name"] == "stdout":
                stdout.append(content["text"])
            elif kind == "error":
                raise RuntimeError("\n".join(content["traceback"]) + f"\nin the cell:\n{code}")
            elif kind == "status" and content["execution_state"] == "idle":
                break
        lines = "".join(stdout).splitlines()
        reply.printed = [json.loads(line) for line in lines if line.startswith("{")]
        return reply

    def stop(self) -> None:
        self.client.stop_channels()
        self.manager.shutdown_kernel(now=False)
        self.log.close()


def ticks_outside_a_kernel() -> list[float]:
    """The same watcher reading in this plain process: widget changes go nowhere here."""
    from maas_nb.notebook.ui import Panel

    panel = Panel(live=False)
    for _ in range(5):
        panel.tick()
    ticks = []
    for _ in range(50):
        t = time.perf_counter()
        panel.tick()
        ticks.append((time.perf_counter() - t) * 1000)
    panel.close()
    return ticks


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    root = Path(tempfile.mkdtemp(prefix="maas-bench-ui-"))
    os.environ["MAAS_HOME"] = str(root / "home")
    os.environ.setdefault("MAAS_PORT", "0")

    kernel = Kernel(root)
    try:
        setup = kernel.run(SETUP)
        click = kernel.run(CLICK)
        ticks = kernel.run(TICKS)
        plain_ticks = ticks_outside_a_kernel()
        # Alternate without / with a live panel, so drift hits both alike. The live panel is
        # built and closed in cells of their own: only the watcher's readings overlap the loop.
        without, with_panel, live_messages, live_bytes = [], [], 0, 0
        for _ in range(args.rounds):
            without.append(kernel.run(SPIN.format(seconds=args.seconds)).value("rate"))
            kernel.run(OPEN_LIVE)
            spun = kernel.run(SPIN.format(seconds=args.seconds))
            with_panel.append(spun.value("rate"))
            live_messages += spun.widget_messages
            live_bytes += spun.widget_bytes
            kernel.run(CLOSE_LIVE)
    finally:
        try:
            kernel.run(TEARDOWN, timeout=60)
        finally:
            kernel.stop()

    tick_ms = ticks.value("ticks")
    per_tick = ticks.widget_messages / 55
    base, ours = statistics.median(without), statistics.median(with_panel)
    live_s = args.rounds * args.seconds
    print(
        f"maas_nb control panel benchmark, inside an IPython kernel ({os.cpu_count()} cores; "
        f"widget messages counted on IOPub)"
    )
    print(f"{'measure':<46} {'maas_nb':>12} {'baseline':>12}")
    print(
        f"{'one watcher reading, median / p95 (ms)':<46} "
        f"{statistics.median(tick_ms):>6.2f} / {sorted(tick_ms)[47]:<5.2f} "
        f"{statistics.median(plain_ticks):>6.2f} / {sorted(plain_ticks)[47]:<5.2f}"
        "   (baseline = same reading outside a kernel, no widget messages)"
    )
    print(
        f"{'widget messages per reading':<46} {per_tick:>12.1f} {'-':>12}"
        f"   ({ticks.widget_bytes / 55 / 1024:.1f} KiB per reading)"
    )
    print(
        f"{'kernel loop with a live panel (Mit/s)':<46} {ours / 1e6:>12.2f} {base / 1e6:>12.2f}"
        f"   ({ours / base:.3f}x; medians of {args.rounds} alternating rounds; baseline = no panel)"
    )
    print(
        f"{'live panel widget messages per second':<46} {live_messages / live_s:>12.1f} "
        f"{'-':>12}   ({live_bytes / live_s / 1024:.1f} KiB/s while the loop ran)"
    )
    print(
        f"{'Deploy click to ready, server running (s)':<46} {click.value('click'):>12.3f} "
        f"{setup.value('api_warm'):>12.3f}   (baseline = maas_nb.deploy())"
    )
    print(f"{'maas_nb.deploy() starting the server (s)':<46} {setup.value('api_cold'):>12.3f}")


if __name__ == "__main__":
    main()
