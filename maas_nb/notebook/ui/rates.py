"""From two scrapes of the server's ``/metrics`` to per-deployment figures over the interval."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field

_SAMPLE = re.compile(r"^(?P<name>[a-zA-Z_:][\w:]*)\{(?P<labels>[^}]*)\}\s+(?P<value>\S+)$")
_LABEL = re.compile(r'(\w+)="((?:[^"\\]|\\.)*)"')


# Sample name -> the Counters field it sets (latency buckets are handled apart).
_FIELDS = {
    "maas_requests_total": "requests",
    "maas_request_errors_total": "errors",
    "maas_busy_seconds_total": "busy_seconds",
    "maas_batch_size_rows_sum": "batch_rows",
    "maas_batch_size_rows_count": "batch_calls",
    "maas_queue_depth_rows": "queue_rows",
}


@dataclass
class Counters:
    """One deployment's cumulative counters at one scrape."""

    requests: float = 0.0
    errors: float = 0.0
    busy_seconds: float = 0.0
    latency_buckets: dict[float, float] = field(default_factory=dict)  # le -> cumulative
    batch_rows: float = 0.0
    batch_calls: float = 0.0
    queue_rows: float = 0.0


@dataclass(frozen=True)
class Figures:
    """One deployment over one interval."""

    requests_per_s: float
    p50_ms: float | None
    p99_ms: float | None
    errors: int
    mean_batch: float | None
    utilisation: float
    queue_rows: int


def parse(text: str) -> dict[str, Counters]:
    """Prometheus text (our families only) -> counters by deployment name."""
    out: dict[str, Counters] = {}
    for line in text.splitlines():
        match = _SAMPLE.match(line.strip())
        if match is None:
            continue
        labels = dict(_LABEL.findall(match["labels"]))
        name, value = match["name"], float(match["value"])
        if "deployment" not in labels:
            continue
        c = out.setdefault(labels["deployment"], Counters())
        if name == "maas_request_latency_seconds_bucket":
            c.latency_buckets[float(labels["le"])] = value
        elif name in _FIELDS:
            setattr(c, _FIELDS[name], value)
    return out


def figures(before: Counters | None, now: Counters, seconds: float) -> Figures:
    """What happened between two scrapes *seconds* apart (since zero when *before* is None)."""
    b = before or Counters()
    if now.requests < b.requests:  # the server restarted: its counters began again
        b = Counters()
    seconds = max(seconds, 1e-9)
    buckets = {le: n - b.latency_buckets.get(le, 0.0) for le, n in now.latency_buckets.items()}
    calls = now.batch_calls - b.batch_calls
    return Figures(
        requests_per_s=(now.requests - b.requests) / seconds,
        p50_ms=_ms(quantile(0.5, buckets)),
        p99_ms=_ms(quantile(0.99, buckets)),
        errors=round(now.errors - b.errors),
        mean_batch=(now.batch_rows - b.batch_rows) / calls if calls > 0 else None,
        utilisation=min(1.0, max(0.0, (now.busy_seconds - b.busy_seconds) / seconds)),
        queue_rows=round(now.queue_rows),
    )


def quantile(q: float, buckets: dict[float, float]) -> float | None:
    """Prometheus' ``histogram_quantile``: interpolate within the bucket holding rank q."""
    bounds = sorted(buckets)
    if not bounds or buckets[bounds[-1]] <= 0:
        return None
    rank = q * buckets[bounds[-1]]
    lower, below = 0.0, 0.0
    for le in bounds:
        count = buckets[le]
        if count >= rank:
            if math.isinf(le):
                return lower  # beyond the last finite bound: the best answer is that bound
            if count == below:
                return le
            return lower + (le - lower) * (rank - below) / (count - below)
        lower, below = le, count
    return lower


def _ms(seconds: float | None) -> float | None:
    return None if seconds is None else seconds * 1000.0
