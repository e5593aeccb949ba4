"""Plain-text tables and the formatting of sizes, times and failures, shared by the CLI,
notebook and pipelines."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any


def text_table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, empty: str = "") -> str:
    """Left-aligned columns separated by two spaces; *empty* when there are no rows."""
    if not rows:
        return empty
    cells = [[str(h) for h in headers], *[["" if c is None else str(c) for c in r] for r in rows]]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]
    lines = ("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)) for row in cells)
    return "\n".join(line.rstrip() for line in lines)


def format_size(n: int) -> str:
    size = float(n)
    for unit in ("B", "KiB", "MiB", "GiB"):
        if size < 1024 or unit == "GiB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    raise AssertionError("unreachable")


def format_time(t: datetime | None) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S UTC") if t else "-"


def format_failure(error: Mapping[str, Any]) -> str:
    """A pipeline run's recorded failure: ``cell 2: ValueError: C was 3``."""
    where = f"cell {error['cell']}" if error.get("cell") is not None else "the kernel"
    return f"{where}: {error.get('exception')}: {error.get('message')}"


def metrics_text(metrics: Mapping[str, float]) -> str:
    """``accuracy=0.96 f1=0.95``."""
    return " ".join(f"{k}={v:.4g}" for k, v in sorted(metrics.items()))


def params_text(params: Mapping[str, Any]) -> str:
    """``C=0.5, kernel='rbf'``."""
    return ", ".join(f"{k}={v!r}" for k, v in sorted(params.items()))
