"""Issue 16's rows timed at the same moment as their references, on twin servers.

On this kind of machine (a shared virtual machine) the CPU we are given changes speed
from one second to the next: a pure Python loop timed 20 times in a row, idle machine,
took 131 to 230 ms, CPU time equal to wall time (the host takes it, unseen by the guest:
no steal). A row and its reference timed one after the other (experiments.py's rounds)
then differ by far more than the 10% the targets are about: rounds' own ratios ran from
0.53x to 1.41x.

So here the row and its reference are timed *together*: two twin server processes (each
with every deployment, each on a registry home of its own, the same models), wrk driving
the reference on one and the row on the other at the same time, then the other way round.
Both halves of a pair see the same machine; swapping the servers cancels what one process
differs from its twin (memory layout, hash seeds: up to 5% here). A round's ratio is the
geometric mean of its two halves' ratios (row / reference, each half on the same machine
moment). The verdict is on the median of the rounds' ratios, with a 95% bootstrap
interval beside it: "met" or "NOT met" when the whole interval is on one side of the
target, "undecided" when it straddles it.

Each server has about one core of the two while both are driven: the costs compared are
the same code's, on half the machine.
"""

from __future__ import annotations

import collections
import concurrent.futures
import json
import math

import numpy as np
from drive import wrk
from experiment_report import SHADOW_C, SHADOW_P99_MOST, SPLIT_C, SPLIT_LEAST, cells_text

#: Each group's pairs: (reference, row, connections, figure, target).
PAIRS = {
    "split": [
        ("rf-beside", "rf-split", SPLIT_C, "rps", SPLIT_LEAST),
        ("rf-quiet", "rf-log", SPLIT_C, "rps", SPLIT_LEAST),
    ],
    "shadow": [("rf-beside", "rf-shadow", SHADOW_C, "p99", SHADOW_P99_MOST)],
}
RESAMPLES = 10_000  # bootstrap resamples of the rounds


def together(urls: tuple[str, str], body: str, c: int, duration: int) -> tuple[dict, dict]:
    """wrk on both *urls* at once, *c* connections each."""
    with concurrent.futures.ThreadPoolExecutor(2) as pool:
        first, second = (pool.submit(wrk, url, body, c, duration) for url in urls)
        return first.result(), second.result()


def measure_together(sides: dict, X: np.ndarray, duration: int, rounds: int, groups, drained):
    """Time each pair *rounds* times, both halves; print the cells, the rounds' ratios
    and the verdicts. *sides* are the twins ("x", "y"); *drained(base_url)* waits until
    a server's shadow is idle."""
    body = json.dumps({"instances": X[:1].tolist()})
    ratios: dict[str, list[float]] = collections.defaultdict(list)
    print(
        f"\nissue 16 rows, each timed together with its reference on a twin server: "
        f"wrk {duration} s per half, {rounds} round(s), one-row requests"
    )
    for i in range(rounds):
        for reference, row, c, figure, _ in [p for g in groups for p in PAIRS[g]]:
            halves = [("x", "y"), ("y", "x")]
            parts = []
            for ref_on, row_on in halves if i % 2 == 0 else halves[::-1]:
                urls = (sides[ref_on].invocations[reference], sides[row_on].invocations[row])
                ref, got = together(urls, body, c, duration)
                if row == "rf-shadow":
                    drained(sides[row_on].urls["split"])  # its queue empty before the next half
                parts.append(got[figure] / ref[figure])
                print(
                    f"  round {i + 1} {row:<9} c={c:<3} on {row_on}: {cells_text(got)}"
                    f"   | {reference} on {ref_on}: {cells_text(ref)}"
                )
            ratios[row].append(math.sqrt(parts[0] * parts[1]))
    print("\nissue 16 targets (the median of the rounds' ratios; 95% bootstrap interval):")
    for reference, row, c, figure, target in [p for g in groups for p in PAIRS[g]]:
        print("  " + verdict(row, reference, c, figure, target, ratios[row]))
    return dict(ratios)


def verdict(row: str, reference: str, c: int, figure: str, target: float, ratios) -> str:
    """One target's line: the median ratio, its interval, each round's, and whether the
    interval says the target is met."""
    values = np.asarray(ratios)
    median = float(np.median(values))
    rng = np.random.default_rng(0)
    resampled = rng.choice(values, size=(RESAMPLES, len(values)))
    low, high = np.percentile(np.median(resampled, axis=1), [2.5, 97.5])
    if figure == "rps":  # at least *target* times the reference's requests/s
        met, missed = low >= target, high < target
        shown = f"{median:.2f}x [{low:.2f}x, {high:.2f}x] (target >= {target:g}x)"
        each = " ".join(f"{v:.2f}x" for v in values)
    else:  # p99 at most *target* times the reference's
        met, missed = high <= target, low > target
        shown = (
            f"p99 {median - 1:+.1%} [{low - 1:+.1%}, {high - 1:+.1%}] (target <= +{target - 1:.0%})"
        )
        each = " ".join(f"{v - 1:+.0%}" for v in values)
    word = "met" if met else "NOT met" if missed else "undecided"
    return f"{row} c={c} vs {reference}: {shown}: {word}   rounds: {each}"
