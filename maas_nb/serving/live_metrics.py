"""The live comparison in the Prometheus text format (appended to ``/metrics``).

Per watched deployment and version (labels ``deployment``, ``version`` = NAME:VERSION,
``role`` = primary | arm | shadow | former), over the live window (the last 300 s; see
`window`), gauges read from the one summary (`experiment.summarize`):

- ``maas_live_requests``: requests the version took (answered or failed);
- ``maas_live_errors``: of which failed; ``maas_live_error_ratio`` their share;
- ``maas_live_latency_p50_seconds``, ``maas_live_latency_p99_seconds``;
- ``maas_live_agreement_ratio``: rows on which a shadow's answer equals the answer the
  client got (``maas_live_agreement_compared``: how many rows were compared);
- ``maas_live_feedback_count``: rows with ground truth; ``maas_live_accuracy`` (a
  classifier) or ``maas_live_mae`` (a regressor) on them.

Every ratio, quantile and metric has ``_low`` and ``_high`` companions: its 95 %
interval. A figure with no sample (no feedback yet) is left out, not written as 0.

Per deployment with a shadow, counters since the server started (summed over workers):
``maas_shadow_requests_total`` (copies sent), ``maas_shadow_answered_total``,
``maas_shadow_timeouts_total`` (cut off by the shadow's timeout) and
``maas_shadow_errors_total`` (failed otherwise).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

Getter = Callable[[dict[str, Any]], tuple[Any, Any]]

#: (name, help, how to read (value, interval) from a version's summary)
GAUGES: list[tuple[str, str, Getter]] = [
    (
        "maas_live_requests",
        "Requests the version took in the live window.",
        lambda v: (v["requests"], None),
    ),
    (
        "maas_live_errors",
        "Failed requests in the live window.",
        lambda v: (v["errors"]["count"], None),
    ),
    (
        "maas_live_error_ratio",
        "Share of the version's requests that failed.",
        lambda v: (v["errors"]["rate"], v["errors"]["ci"]),
    ),
    (
        "maas_live_latency_p50_seconds",
        "Median latency in the live window.",
        lambda v: _seconds(v["latency_ms"]["p50"], v["latency_ms"]["p50_ci"]),
    ),
    (
        "maas_live_latency_p99_seconds",
        "99th percentile latency in the live window.",
        lambda v: _seconds(v["latency_ms"]["p99"], v["latency_ms"]["p99_ci"]),
    ),
    (
        "maas_live_agreement_compared",
        "Rows whose shadow answer was compared with the client's answer.",
        lambda v: (v["agreement"]["compared"], None),
    ),
    (
        "maas_live_agreement_ratio",
        "Share of compared rows on which the version agreed with the client's answer.",
        lambda v: (v["agreement"]["rate"], v["agreement"]["ci"]),
    ),
    (
        "maas_live_feedback_count",
        "Rows with ground truth joined to the version's answers.",
        lambda v: (v["feedback"]["count"], None),
    ),
    (
        "maas_live_accuracy",
        "Accuracy on the feedback rows (classifiers).",
        lambda v: _metric(v, "accuracy"),
    ),
    (
        "maas_live_mae",
        "Mean absolute error on the feedback rows (regressors).",
        lambda v: _metric(v, "mae"),
    ),
]

SHADOW_COUNTERS = [
    ("maas_shadow_requests_total", "Copies of requests sent to the shadow version."),
    ("maas_shadow_answered_total", "Shadow copies answered (recorded, never returned)."),
    ("maas_shadow_timeouts_total", "Shadow copies cut off by the shadow's timeout."),
    ("maas_shadow_errors_total", "Shadow copies that failed."),
]


def _seconds(ms: float | None, ci: list[float] | None) -> tuple[Any, Any]:
    if ms is None:
        return None, None
    return ms / 1000, [x / 1000 for x in ci] if ci else None


def _metric(version: dict[str, Any], metric: str) -> tuple[Any, Any]:
    feedback = version["feedback"]
    if feedback["metric"] != metric:
        return None, None
    return feedback["value"], feedback["ci"]


def render(summaries: Iterable[dict[str, Any]], shadows: dict[str, list[int]]) -> str:
    """The text of the live gauges of *summaries* and the *shadows*' counters
    (deployment -> [sent, answered, timed out, failed])."""
    summaries = list(summaries)
    out: list[str] = []
    for name, help, get in GAUGES:
        values: list[str] = []
        ci_values: dict[str, list[str]] = {"_low": [], "_high": []}
        for summary in summaries:
            for v in summary["versions"]:
                labels = (
                    f'deployment="{summary["deployment"]}",version="{v["version"]}",'
                    f'role="{v["role"]}"'
                )
                value, ci = get(v)
                if value is None:
                    continue
                values.append(f"{name}{{{labels}}} {value:g}")
                if ci is not None:
                    ci_values["_low"].append(f"{name}_low{{{labels}}} {ci[0]:g}")
                    ci_values["_high"].append(f"{name}_high{{{labels}}} {ci[1]:g}")
        out += [f"# HELP {name} {help}", f"# TYPE {name} gauge", *values]
        for suffix, lines in ci_values.items():
            if lines:
                bound = "Lower" if suffix == "_low" else "Upper"
                out += [
                    f"# HELP {name}{suffix} {bound} bound of the 95% interval of {name}.",
                    f"# TYPE {name}{suffix} gauge",
                    *lines,
                ]
    for i, (name, help) in enumerate(SHADOW_COUNTERS):
        lines = [f'{name}{{deployment="{d}"}} {c[i]}' for d, c in sorted(shadows.items())]
        out += [f"# HELP {name} {help}", f"# TYPE {name} counter", *lines]
    return "\n".join(out) + "\n"


def add_shadows(into: dict[str, list[int]], more: dict[str, list[int]]) -> dict[str, list[int]]:
    """*into* plus the shadow counters *more* (of another worker)."""
    for deployment, counts in more.items():
        have = into.setdefault(deployment, [0, 0, 0, 0])
        into[deployment] = [a + b for a, b in zip(have, counts, strict=True)]
    return into
