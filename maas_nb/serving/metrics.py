"""Per-deployment metrics in the Prometheus text exposition format.

Each server process counts its own requests; `Metrics.snapshot` turns them into plain
data, and `render` writes the sum of several processes' snapshots (a server run with
``--workers N`` answers ``/metrics`` with the sum over its workers).
"""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)
BATCH_BUCKETS = (1, 2, 4, 8, 16, 32, 64, 128, 256, 512)


@dataclass
class Histogram:
    buckets: Sequence[float]
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def __post_init__(self) -> None:
        self.counts = [0] * (len(self.buckets) + 1)

    def observe(self, value: float) -> None:
        self.counts[bisect.bisect_left(self.buckets, value)] += 1
        self.total += value
        self.n += 1


@dataclass
class DeploymentMetrics:
    requests: int = 0
    errors: int = 0
    latency: Histogram = field(default_factory=lambda: Histogram(LATENCY_BUCKETS))
    batch_size: Histogram = field(default_factory=lambda: Histogram(BATCH_BUCKETS))
    busy_seconds: float = 0.0
    load_seconds: float = 0.0
    started: float = field(default_factory=time.monotonic)

    def observe_request(self, seconds: float, *, error: bool) -> None:
        self.requests += 1
        self.errors += error
        self.latency.observe(seconds)

    def observe_batch(self, rows: int, seconds: float) -> None:
        self.batch_size.observe(rows)
        self.busy_seconds += seconds

    @property
    def utilisation(self) -> float:
        wall = time.monotonic() - self.started
        return min(1.0, self.busy_seconds / wall) if wall > 0 else 0.0


class Metrics:
    """All deployments' metrics; `queue_depth` reads live queue sizes when rendering."""

    def __init__(self, queue_depth: Callable[[], dict[str, int]]) -> None:
        self.by_deployment: dict[str, DeploymentMetrics] = defaultdict(DeploymentMetrics)
        self._queue_depth = queue_depth

    def __getitem__(self, name: str) -> DeploymentMetrics:
        return self.by_deployment[name]

    def snapshot(self) -> dict[str, dict[str, Any]]:
        """Every deployment's figures as plain data, to be summed with other workers'."""
        depth = self._queue_depth()
        now = time.monotonic()
        return {
            name: {
                "requests": m.requests,
                "errors": m.errors,
                "queued": depth.get(name, 0),
                "load_seconds": m.load_seconds,
                "busy_seconds": m.busy_seconds,
                "wall_seconds": now - m.started,
                "latency": [list(m.latency.counts), m.latency.total, m.latency.n],
                "batch_size": [list(m.batch_size.counts), m.batch_size.total, m.batch_size.n],
            }
            for name, m in list(self.by_deployment.items())
        }

    def render(self) -> str:
        return render([self.snapshot()])


def combine(snapshots: Sequence[dict[str, dict[str, Any]]]) -> dict[str, dict[str, Any]]:
    """The figures of several workers as one server's: counts, queues and busy time add
    up; a load takes as long as the slowest worker's; wall time adds up too, so that the
    utilisation is the share of all workers' time spent predicting."""
    out: dict[str, dict[str, Any]] = {}
    for snapshot in snapshots:
        for name, s in snapshot.items():
            into = out.get(name)
            if into is None:
                out[name] = {k: (_copy(v) if isinstance(v, list) else v) for k, v in s.items()}
                continue
            for key in ("requests", "errors", "queued", "busy_seconds", "wall_seconds"):
                into[key] += s[key]
            into["load_seconds"] = max(into["load_seconds"], s["load_seconds"])
            for key in ("latency", "batch_size"):
                counts, total, n = into[key]
                into[key] = [
                    [a + b for a, b in zip(counts, s[key][0], strict=True)],
                    total + s[key][1],
                    n + s[key][2],
                ]
    return out


def _copy(histogram: list[Any]) -> list[Any]:
    return [list(histogram[0]), histogram[1], histogram[2]]


def render(snapshots: Sequence[dict[str, dict[str, Any]]]) -> str:
    """The Prometheus text of the sum of *snapshots* (one per worker, see `combine`)."""
    out: list[str] = []
    items = sorted(combine(snapshots).items())

    def family(name: str, kind: str, help: str, values: list[str]) -> None:
        out.extend([f"# HELP {name} {help}", f"# TYPE {name} {kind}", *values])

    def label(d: str) -> str:
        return f'deployment="{d}"'

    def utilisation(s: dict[str, Any]) -> float:
        wall = s["wall_seconds"]
        return min(1.0, s["busy_seconds"] / wall) if wall > 0 else 0.0

    scalars: list[tuple[str, str, str, Callable[[dict[str, Any]], str]]] = [
        (
            "maas_requests_total",
            "counter",
            "Prediction requests answered.",
            lambda s: str(s["requests"]),
        ),
        (
            "maas_request_errors_total",
            "counter",
            "Prediction requests answered with an error.",
            lambda s: str(s["errors"]),
        ),
        (
            "maas_queue_depth_rows",
            "gauge",
            "Rows waiting for the model.",
            lambda s: str(s["queued"]),
        ),
        (
            "maas_model_load_seconds",
            "gauge",
            "Seconds the current version took to load and warm.",
            lambda s: f"{s['load_seconds']:.6f}",
        ),
        (
            "maas_busy_seconds_total",
            "counter",
            "Seconds spent in model calls (its rate is the utilisation over a window).",
            lambda s: f"{s['busy_seconds']:.6f}",
        ),
        (
            "maas_utilisation_ratio",
            "gauge",
            "Time spent predicting over wall time.",
            lambda s: f"{utilisation(s):.6f}",
        ),
    ]
    for name, kind, help, value in scalars:
        family(name, kind, help, [f"{name}{{{label(d)}}} {value(s)}" for d, s in items])
    histograms = [
        (
            "maas_request_latency_seconds",
            "Time from request to response.",
            "latency",
            LATENCY_BUCKETS,
        ),
        ("maas_batch_size_rows", "Rows per model call.", "batch_size", BATCH_BUCKETS),
    ]
    for name, help, key, buckets in histograms:
        lines = [
            line for d, s in items for line in _histogram_lines(name, label(d), buckets, *s[key])
        ]
        family(name, "histogram", help, lines)
    return "\n".join(out) + "\n"


def _histogram_lines(
    name: str, labels: str, buckets: Sequence[float], counts: list[int], total: float, n: int
) -> list[str]:
    out, cumulative = [], 0
    for bound, count in zip(buckets, counts, strict=False):
        cumulative += count
        out.append(f'{name}_bucket{{{labels},le="{bound:g}"}} {cumulative}')
    out.append(f'{name}_bucket{{{labels},le="+Inf"}} {n}')
    out.append(f"{name}_sum{{{labels}}} {total:.6f}")
    out.append(f"{name}_count{{{labels}}} {n}")
    return out
