"""Per-deployment metrics in the Prometheus text exposition format."""

from __future__ import annotations

import bisect
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

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

    def lines(self, name: str, labels: str) -> list[str]:
        out, cumulative = [], 0
        for bound, count in zip(self.buckets, self.counts, strict=False):
            cumulative += count
            out.append(f'{name}_bucket{{{labels},le="{bound:g}"}} {cumulative}')
        out.append(f'{name}_bucket{{{labels},le="+Inf"}} {self.n}')
        out.append(f"{name}_sum{{{labels}}} {self.total:.6f}")
        out.append(f"{name}_count{{{labels}}} {self.n}")
        return out


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

    def render(self) -> str:
        out: list[str] = []
        items = sorted(self.by_deployment.items())
        depth = self._queue_depth()

        def family(name: str, kind: str, help: str, values: list[str]) -> None:
            out.extend([f"# HELP {name} {help}", f"# TYPE {name} {kind}", *values])

        def label(d: str) -> str:
            return f'deployment="{d}"'

        scalars: list[tuple[str, str, str, Callable[[str, DeploymentMetrics], str]]] = [
            (
                "maas_requests_total",
                "counter",
                "Prediction requests answered.",
                lambda d, m: str(m.requests),
            ),
            (
                "maas_request_errors_total",
                "counter",
                "Prediction requests answered with an error.",
                lambda d, m: str(m.errors),
            ),
            (
                "maas_queue_depth_rows",
                "gauge",
                "Rows waiting for the model.",
                lambda d, m: str(depth.get(d, 0)),
            ),
            (
                "maas_model_load_seconds",
                "gauge",
                "Seconds the current version took to load and warm.",
                lambda d, m: f"{m.load_seconds:.6f}",
            ),
            (
                "maas_busy_seconds_total",
                "counter",
                "Seconds spent in model calls (its rate is the utilisation over a window).",
                lambda d, m: f"{m.busy_seconds:.6f}",
            ),
            (
                "maas_utilisation_ratio",
                "gauge",
                "Time spent predicting over wall time.",
                lambda d, m: f"{m.utilisation:.6f}",
            ),
        ]
        for name, kind, help, value in scalars:
            family(name, kind, help, [f"{name}{{{label(d)}}} {value(d, m)}" for d, m in items])
        histograms = [
            ("maas_request_latency_seconds", "Time from request to response.", "latency"),
            ("maas_batch_size_rows", "Rows per model call.", "batch_size"),
        ]
        for name, help, attr in histograms:
            lines = [line for d, m in items for line in getattr(m, attr).lines(name, label(d))]
            family(name, "histogram", help, lines)
        return "\n".join(out) + "\n"
