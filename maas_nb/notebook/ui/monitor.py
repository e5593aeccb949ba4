"""The Monitor tab: per-deployment traffic, latency, errors, batching and load, live."""

from __future__ import annotations

import html
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

import ipywidgets as widgets

from ...deploying.live import replicas_text
from ..display import table
from .deploy import ANY_SERVER, ELSEWHERE
from .rates import Counters, Figures, figures, parse

if TYPE_CHECKING:
    from .panel import Panel

HISTORY_S = 60  # the chart shows the last minute


class MonitorTab:
    title = "Monitor"

    def __init__(self, panel: Panel) -> None:
        self.panel = panel
        self.table = widgets.HTML("<i>Waiting for the first reading ...</i>")
        self.table.add_class("maas-monitor")
        self.charts = widgets.HTML()
        self.latest: dict[str, Figures] = {}
        self.history: dict[str, deque[tuple[float, Figures]]] = {}
        self._before: dict[str, Counters] = {}
        self._at: float | None = None
        self._inline = ""  # the problems the last reading shows above its table
        self._lock = threading.Lock()
        self.widget = widgets.VBox([self.table, self.charts])

    def refresh(self) -> None:
        """Nothing to re-read: the panel's watcher thread feeds `update` once a second."""

    def show_problem(self, message: str) -> None:
        """The server is recorded but cannot be read: say why instead of stale figures
        (unless the last reading already says so above what the other targets said)."""
        with self._lock:
            if message == self._inline:
                return
            self._before, self._at, self.latest = {}, None, {}
            self.table.value = f"<b style='color:#b00020'>{html.escape(message)}</b>"
            self.charts.value = ""

    def update(self, view: dict[str, Any] | None, now: float | None = None) -> None:
        """Fold one reading of the server (None: no server) into the figures and redraw."""
        with self._lock:
            self._update(view, time.monotonic() if now is None else now)

    def _update(self, view: dict[str, Any] | None, now: float) -> None:
        self._inline = " ".join((view or {}).get("problems", {}).values())
        if view is None:
            self._before, self._at, self.latest = {}, None, {}
            self.table.value = "<i>No model server is running: deploy a model to start one.</i>"
            self.charts.value = ""
            return
        counters = parse(view["metrics"])
        status = {e["name"]: e.get("status", "?") for e in view["deployments"]}
        live = {e["name"]: e for e in view["deployments"]}
        seconds = now - self._at if self._at is not None else 0.0
        self.latest = {}
        for name, c in counters.items():
            if self._at is None:
                break  # the first reading is the baseline: rates need two
            fig = figures(self._before.get(name), c, seconds)
            self.latest[name] = fig
            points = self.history.setdefault(name, deque())
            points.append((now, fig))
            while points and points[0][0] < now - HISTORY_S:
                points.popleft()
        self._before, self._at = counters, now
        for gone in set(self.history) - set(status):
            del self.history[gone]
        rows: list[list[Any]] = [
            [
                name,
                status.get(name, "-"),
                f"{fig.requests_per_s:.1f}",
                _ms(fig.p50_ms),
                _ms(fig.p99_ms),
                sum(f.errors for _, f in self.history.get(name, ())),
                "-" if fig.mean_batch is None else f"{fig.mean_batch:.1f}",
                f"{fig.utilisation:.0%}",
                fig.queue_rows,
            ]
            for name, fig in sorted(self.latest.items())
            if name in status
        ]
        # Deployments another named server serves: their figures are that server's.
        deploy = self.panel.deploy
        rows += [[name, ELSEWHERE, *["-"] * 7] for name in sorted(deploy.elsewhere)]
        for row in rows:
            entry = live.get(row[0], {})
            row += [entry.get("deploy_target") or "-", replicas_text(entry)]
            row.append(deploy.elsewhere.get(row[0]) or deploy.servers.get(row[0]) or ANY_SERVER)
        headers = ["deployment", "status", "req/s", "p50 ms", "p99 ms", "errors (1 min)"]
        headers += ["mean batch", "utilisation", "queued rows", "where", "replicas", "server"]
        problem = f"<b style='color:#b00020'>{html.escape(self._inline)}</b>" * bool(self._inline)
        self.table.value = (
            problem
            + table(
                headers,
                rows,
                empty="Nothing is deployed."
                if not status
                else "Measuring: figures need two readings.",
            ).html
        )
        self.charts.value = "".join(
            chart(name, list(points)) for name, points in sorted(self.history.items())
        )


def chart(
    name: str, points: list[tuple[float, Figures]], width: int = 300, height: int = 50
) -> str:
    """An inline SVG of requests/s (filled) and p99 latency (line) over the last minute."""
    if not points:
        return ""
    end = points[-1][0]
    top_rps = max(max(f.requests_per_s for _, f in points), 1.0)
    top_p99 = max(max((f.p99_ms or 0.0) for _, f in points), 1.0)

    def xy(t: float, value: float, top: float) -> str:
        x = width * (1 - (end - t) / HISTORY_S)
        return f"{x:.1f},{height - 2 - (height - 4) * value / top:.1f}"

    rps = " ".join(xy(t, f.requests_per_s, top_rps) for t, f in points)
    p99 = " ".join(xy(t, f.p99_ms or 0.0, top_p99) for t, f in points)
    first_x = xy(points[0][0], 0, 1).split(",")[0]
    last_x = xy(end, 0, 1).split(",")[0]
    area = f"{first_x},{height} {rps} {last_x},{height}"
    return (
        f"<div style='display:inline-block;margin:4px 12px 4px 0'>"
        f"<div style='font-size:12px'><b>{html.escape(name)}</b> last minute: "
        f"<span style='color:#1565c0'>req/s (max {top_rps:.0f})</span>, "
        f"<span style='color:#e65100'>p99 (max {top_p99:.0f} ms)</span></div>"
        f"<svg width='{width}' height='{height}' style='background:#fafafa;border:1px solid #ddd'>"
        f"<polygon points='{area}' fill='#90caf9' fill-opacity='0.6'/>"
        f"<polyline points='{p99}' fill='none' stroke='#e65100' stroke-width='1.5'/>"
        f"</svg></div>"
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}"
