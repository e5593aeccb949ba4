"""The table bench/serving.py prints: every server's figures at each connection count,
the ratios between them, and the issue's targets, each marked met or not."""

from __future__ import annotations

#: (model row, ratio, connections, at least): what "done" means for the hot path (issue 13).
#: The c=64 floors for rf and keras are how far ahead of their lean baselines they were
#: when the issue was filed.
TARGETS = [
    ("lr", "lean", 1, 1.0),
    ("rf", "lean", 1, 1.0),
    ("keras", "lean", 1, 1.0),
    ("lr", "lean", 64, 3.0),
    ("rf", "lean", 64, 29.0),
    ("keras", "lean", 64, 12.0),
]
LR_P99_MS = 25.0


def print_table(
    results: dict[tuple[str, str, int], dict],
    rows: list[tuple[str, list[tuple[str, str]]]],
    connections: list[int],
) -> None:
    """*results* maps (model row, server key, connections) to wrk's figures; *rows* gives
    each model row's servers as (key, label), ours ("ours") first."""
    head = f"{'model':<7}{'server':<44}"
    for c in connections:
        head += f"{f'c={c} rps':>11}{'p99 ms':>9}{'err':>6}"
    print(head)
    for model, servers in rows:
        for i, (key, label) in enumerate(servers):
            line = f"{model if i == 0 else '':<7}{label:<44}"
            for c in connections:
                r = results.get((model, key, c))
                line += (
                    f"{r['rps']:>11.0f}{r['p99']:>9.2f}{r['errors']:>6}"
                    if r
                    else f"{'-':>11}{'-':>9}{'-':>6}"
                )
            print(line)
    print()
    print("ratios, ours / the other server (requests/s, same run):")
    for model, servers in rows:
        for key, label in servers[1:]:
            cells = []
            for c in connections:
                ratio = _ratio(results, model, key, c)
                cells.append(f"c={c} {ratio:6.2f}x" if ratio is not None else f"c={c}     -")
            print(f"  {model:<7}ours / {label:<46}" + "  ".join(cells))
    print()


def print_targets(results: dict[tuple[str, str, int], dict]) -> None:
    """Each target of issue 13 with what this run measured."""
    print("issue 13 targets (this run):")
    for model, key, c, least in TARGETS:
        ratio = _ratio(results, model, key, c)
        if ratio is None:
            print(f"  {model} c={c}: ours/lean FastAPI >= {least:g}x: not measured")
            continue
        verdict = "met" if ratio >= least else "NOT met"
        print(f"  {model} c={c}: ours/lean FastAPI {ratio:.2f}x (target >= {least:g}x): {verdict}")
    ours = results.get(("lr", "ours", 64))
    if ours is not None:
        ok = ours["p99"] < LR_P99_MS and ours["errors"] == 0
        print(
            f"  lr c=64: p99 {ours['p99']:.2f} ms, {ours['errors']} errors "
            f"(target < {LR_P99_MS:g} ms, 0 errors): {'met' if ok else 'NOT met'}"
        )


def _ratio(results: dict, model: str, key: str, c: int) -> float | None:
    ours, other = results.get((model, "ours", c)), results.get((model, key, c))
    if ours is None or other is None or not other["rps"]:
        return None
    return ours["rps"] / other["rps"]
