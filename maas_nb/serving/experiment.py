"""The live comparison of a deployment's versions: the JSON of ``GET /maas/experiments/NAME``.

`summarize` turns a window's counts (`window`) into, per version: requests, errors with
their rate, p50/p99 latency, agreement with the answer the client got (shadows), and the
task's metric on the feedback received (accuracy for a classifier, mean absolute error
for a regressor), each with its count and a 95 % interval (`intervals`); a per-bucket
``series`` for charts; and a warning while the samples are too small to tell a version
from the primary (fewer than `MIN_SAMPLE` feedback rows or requests, or overlapping
intervals). ``requests`` counts every request a version took, answered or failed; an
error is a failed prediction (the model raised, its queue was full, a shadow timed out),
not a request refused for its body (a 4xx before any version was asked).

A version that served earlier in the window but is no longer in the split is listed with
the role ``former`` (after a promote, the old primary's figures stay visible).
"""

from __future__ import annotations

from typing import Any

from .counts import Counts
from .intervals import mean_interval, quantile, wilson
from .split import Split

#: Feedback rows (and requests) each of two versions needs before they can be told apart.
MIN_SAMPLE = 100


def _total(buckets: dict[int, Counts], numbers: range) -> Counts:
    total = Counts()
    for number in numbers:
        counts = buckets.get(number)
        if counts is not None:
            total.add_list(counts.to_list())
    return total


def _ms(seconds: float) -> float:
    return round(seconds * 1000, 4)


def _latency(counts: Counts) -> dict[str, Any]:
    out: dict[str, Any] = {"count": counts.requests}
    for name, q in (("p50", 0.5), ("p99", 0.99)):
        found = quantile(counts.latency, q)
        out[name] = _ms(found[0]) if found else None
        out[f"{name}_ci"] = [_ms(x) for x in found[1]] if found else None
    return out


def _feedback(counts: Counts, task: str) -> dict[str, Any]:
    n = counts.fed
    if task == "classification":
        value = counts.correct / n if n else None
        return {"count": n, "metric": "accuracy", "value": value, "ci": wilson(counts.correct, n)}
    found = mean_interval(n, counts.abs_error, counts.sq_error)
    value, ci = found if found is not None else (None, None)
    return {"count": n, "metric": "mae", "value": value, "ci": ci}


def _version(entry: dict[str, Any], counts: Counts, task: str) -> dict[str, Any]:
    taken = counts.requests + counts.errors
    rate = counts.errors / taken if taken else None
    agreement = counts.agreed / counts.compared if counts.compared else None
    return {
        **entry,
        "requests": taken,
        "errors": {"count": counts.errors, "rate": rate, "ci": wilson(counts.errors, taken)},
        "latency_ms": _latency(counts),
        "agreement": {
            "compared": counts.compared,
            "agreed": counts.agreed,
            "rate": agreement,
            "ci": wilson(counts.agreed, counts.compared),
        },
        "feedback": _feedback(counts, task),
    }


def _series(
    by_label: dict[str, dict[int, Counts]],
    labels: list[str],
    numbers: range,
    bucket_s: int,
    task: str,
) -> dict[str, Any]:
    series: dict[str, Any] = {"t": [n * bucket_s for n in numbers]}
    metric = "accuracy" if task == "classification" else "mae"
    for label in labels:
        buckets = by_label.get(label, {})
        rows = [buckets.get(n) or Counts() for n in numbers]
        p99 = [quantile(c.latency, 0.99) for c in rows]
        series[label] = {
            "requests": [c.requests + c.errors for c in rows],
            "errors": [c.errors for c in rows],
            "p99_ms": [_ms(p[0]) if p else None for p in p99],
            metric: [_feedback(c, task)["value"] for c in rows],
        }
    return series


def _overlap(a: list[float] | None, b: list[float] | None) -> bool:
    return a is None or b is None or (a[0] <= b[1] and b[0] <= a[1])


def _warnings(versions: list[dict[str, Any]], primary: str | None, watched: bool) -> list[str]:
    if primary is None:
        return ["the deployment is still loading: no version serves yet"]
    first = next((v for v in versions if v["version"] == primary), None)
    others = [
        v
        for v in versions
        if v["version"] != primary
        and (v["role"] == "shadow" or (v["role"] == "arm" and (v["weight"] or 0) > 0))
    ]
    if first is None or not others or not watched:
        return [
            f"{primary} serves alone (no other arm with traffic, no shadow): there is nothing "
            "to compare; add a candidate with `maas traffic` (or a shadow)"
        ]
    out = []
    for v in others:
        name = v["version"]
        fed = min(v["feedback"]["count"], first["feedback"]["count"])
        taken = min(v["requests"], first["requests"])
        if taken < MIN_SAMPLE:
            out.append(f"too few requests to tell {name} from {primary} ({taken} < {MIN_SAMPLE})")
        if fed < MIN_SAMPLE:
            out.append(
                f"too few feedback rows to tell {name} from {primary} ({fed} < {MIN_SAMPLE})"
            )
        elif _overlap(v["feedback"]["ci"], first["feedback"]["ci"]):
            metric = v["feedback"]["metric"]
            out.append(
                f"the {metric} intervals of {name} and {primary} overlap: no difference shown "
                "yet (more feedback narrows them)"
            )
    return out


def summarize(
    layout: dict[str, Any],
    by_label: dict[str, dict[int, Counts]],
    *,
    now: float,
    window_s: int,
    bucket_s: int,
    watched: bool = True,
    guard: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The experiment's JSON from its *layout* (the deployment, its generation, primary,
    task and versions with their roles) and each version's counts per bucket."""
    last = int(now // bucket_s)
    numbers = range(last - window_s // bucket_s + 1, last + 1)
    task = layout["task"]
    entries = [dict(v) for v in layout["versions"]]
    known = {v["version"] for v in entries}
    for label in sorted(set(by_label) - known):
        entries.append({"version": label, "target": label, "role": "former", "weight": 0})
    versions = [_version(e, _total(by_label.get(e["version"], {}), numbers), task) for e in entries]
    primary = layout["primary"]
    warnings = _warnings(versions, primary, watched)
    return {
        "deployment": layout["deployment"],
        "generation": layout["generation"],
        "window_s": window_s,
        "bucket_s": bucket_s,
        "primary": primary,
        "task": task,
        "versions": versions,
        "enough": not warnings,
        "warning": "; ".join(warnings) or None,
        "series": _series(by_label, [v["version"] for v in versions], numbers, bucket_s, task),
        "guard": guard,
    }


def layout(name: str, split: Split | None) -> dict[str, Any]:
    """The versions *split* serves for deployment *name*, with their roles (no versions
    while it loads): what `summarize` describes."""
    if split is None:
        return {
            "deployment": name,
            "generation": None,
            "primary": None,
            "task": "classification",
            "versions": [],
        }
    primary = split.primary
    versions: list[dict[str, Any]] = [
        {
            "version": a.label,
            "target": a.target,
            "role": "primary" if a is primary else "arm",
            "weight": a.weight,
        }
        for a in split.arms
    ]
    shadow = split.shadow
    if shadow is not None and shadow.label not in {v["version"] for v in versions}:
        versions.append(
            {
                "version": shadow.label,
                "target": shadow.target,
                "role": "shadow",
                "weight": 0,
                "percent": shadow.percent,
            }
        )
    return {
        "deployment": name,
        "generation": split.generation,
        "primary": primary.label,
        "task": "classification" if primary.loaded.labels is not None else "regression",
        "versions": versions,
    }
