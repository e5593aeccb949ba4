"""How experiments.py prints its rows: each row's medians, its ratio to its reference
(in the same server process, see experiments.py), and the targets of issue 16."""

from __future__ import annotations

import numpy as np

SPLIT_C = 64
SHADOW_C = 16
SPLIT_LEAST = 0.9  # (b) and (c) at least this share of (a)'s requests/s
SHADOW_P99_MOST = 1.10  # the shadowed primary's p99 at most this times the plain one
#: Each row's reference, in the same server process (see experiments.py).
REFERENCE = {"rf-split": "rf-beside", "rf-shadow": "rf-beside", "rf-log": "rf-quiet"}


def medians(runs: list[dict]) -> dict:
    """Each figure's median over the rounds (one round hit by another process's burst
    moves a mean, not a median of three), errors summed."""
    return {
        "rps": float(np.median([r["rps"] for r in runs])),
        "p50": float(np.median([r["p50"] for r in runs])),
        "p99": float(np.median([r["p99"] for r in runs])),
        "errors": sum(r["errors"] for r in runs),
    }


def cells_text(r: dict) -> str:
    return (
        f"{r['rps']:>8.0f} rps  p50 {r['p50']:>6.2f} ms  p99 {r['p99']:>6.2f} ms  err {r['errors']}"
    )


def print_rows(rows: dict, runs: dict, logged: int, shadow_rows: int, duration: int) -> None:
    print(f"\n{'row':<48}{'c':>4}{'rps':>9}{'p50 ms':>9}{'p99 ms':>9}{'err':>6}{'x ref':>8}")
    labels = [
        ("rf", SPLIT_C, "rf:1 alone on a server (across processes)"),
        ("rf-quiet", SPLIT_C, "(a) rf:1 beside (c) (log's reference)"),
        ("rf-log", SPLIT_C, "(c) rf:1, prediction log 1%"),
        ("rf-beside", SPLIT_C, "(a') rf:1 beside (b) (split's reference)"),
        ("rf-split", SPLIT_C, "(b) rf:1/rf:2 at 90/10"),
        ("rf-beside", SHADOW_C, "rf:1 beside the shadowed (shadow's reference)"),
        ("rf-shadow", SHADOW_C, "rf:1 + shadow rf:3 (50 ms/batch) at 100%"),
    ]
    for name, c, label in labels:
        if (name, c) in rows:
            r = rows[name, c]
            ratio = (
                f"{r['rps'] / rows[REFERENCE[name], c]['rps']:>7.2f}x" if name in REFERENCE else ""
            )
            print(
                f"{label:<48}{c:>4}{r['rps']:>9.0f}{r['p50']:>9.2f}{r['p99']:>9.2f}"
                f"{r['errors']:>6}{ratio}"
            )
    for name, letter in (("rf-split", "b"), ("rf-log", "c")):
        if (name, SPLIT_C) in rows and ("rf", SPLIT_C) in rows:
            across = rows[name, SPLIT_C]["rps"] / rows["rf", SPLIT_C]["rps"]
            print(f"({letter}) against rf alone, across server processes: {across:.2f}x")
    print()
    if ("rf-log", SPLIT_C) in runs:
        answered = sum(r["rps"] for r in runs["rf-log", SPLIT_C]) * duration
        print(
            f"rf-log logged {logged} one-row requests of about {answered:.0f} answered "
            f"({logged / max(answered, 1):.2%}; sampled at 1%)"
        )
    if ("rf-shadow", SHADOW_C) in runs:
        copied = sum(r["rps"] for r in runs["rf-shadow", SHADOW_C]) * duration
        print(
            f"rf-shadow's shadow rf:3 predicted {shadow_rows} rows of about {copied:.0f} "
            "copied (the rest timed out or found its queue full, as a slow shadow should)"
        )
    print("\nissue 16 targets (this run; the verdict on the rows above, the medians of the")
    print("rounds' cells; beside it, each round's own ratio to the reference timed beside it):")
    for name in ("rf-split", "rf-log"):
        if (name, SPLIT_C) in rows:
            reference = REFERENCE[name]
            ratio = rows[name, SPLIT_C]["rps"] / rows[reference, SPLIT_C]["rps"]
            verdict = "met" if ratio >= SPLIT_LEAST else "NOT met"
            print(
                f"  {name} c={SPLIT_C}: {ratio:.2f}x {reference} "
                f"(target >= {SPLIT_LEAST:g}x): {verdict}"
                f"   rounds: {_rounds(runs, name, SPLIT_C, 'rps')}"
            )
    if ("rf-shadow", SHADOW_C) in rows:
        plain = rows[REFERENCE["rf-shadow"], SHADOW_C]["p99"]
        shadowed = rows["rf-shadow", SHADOW_C]["p99"]
        growth = shadowed / plain - 1
        verdict = "met" if growth <= SHADOW_P99_MOST - 1 else "NOT met"
        print(
            f"  rf-shadow c={SHADOW_C}: p99 {shadowed:.2f} ms vs {plain:.2f} ms without a "
            f"shadow, {growth:+.1%} (target <= +{SHADOW_P99_MOST - 1:.0%}): {verdict}"
            f"   rounds: {_rounds(runs, 'rf-shadow', SHADOW_C, 'p99')}"
        )


def _rounds(runs: dict, name: str, c: int, figure: str) -> str:
    """Each round's *figure* of *name* as a ratio to its reference's in that round
    (requests/s: times; p99: growth), and their median."""
    pairs = zip(runs[name, c], runs[REFERENCE[name], c], strict=True)
    ratios = [r[figure] / ref[figure] for r, ref in pairs]
    if figure == "rps":
        each = " ".join(f"{v:.2f}x" for v in ratios)
        return f"median {np.median(ratios):.2f}x ({each})"
    each = " ".join(f"{v - 1:+.0%}" for v in ratios)
    return f"median {np.median(ratios) - 1:+.1%} ({each})"


def print_versus(ours: dict, before: dict) -> None:
    """Each row's ratio to its reference on both sides: the median of the rounds' own."""
    print("ours vs before (the median over the rounds of each round's ratio):")
    for name, c in ours:
        if name not in REFERENCE:
            continue
        ratios = {
            key: [
                (r["rps"] / ref["rps"], r["p99"] / ref["p99"] - 1)
                for r, ref in zip(side[name, c], side[REFERENCE[name], c], strict=True)
            ]
            for key, side in (("ours", ours), ("before", before))
        }
        med = {key: np.median(v, axis=0) for key, v in ratios.items()}
        print(
            f"  {name:<9} c={c:<3} rps x ref: {med['ours'][0]:.2f} vs {med['before'][0]:.2f}"
            f"   p99 over ref: {med['ours'][1]:+.1%} vs {med['before'][1]:+.1%}"
        )
