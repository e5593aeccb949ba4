"""Charts as SVG text: a run's history, a sweep's metric against each parameter, versions'
metrics side by side.

Drawn with matplotlib's SVG backend on a `Figure` of its own (no pyplot, no
display, no global figure state), so they render the same in JupyterLab, in an executed
papermill notebook (the SVG is kept in the cell's HTML output) and in the panel. The
output is deterministic: a fixed ``svg.hashsalt``, no date in the metadata and text kept
as ``<text>`` (the metric names are searchable in the SVG); each series is a group with
an id (``maas-series-epoch-loss``, ``maas-best-C``, ``maas-bar-iris:2-f1``) that tests and
the browser find. Each function returns ``""``
when there is nothing to draw, and a one-line note when matplotlib is missing.
"""

from __future__ import annotations

import functools
import html
import io
import math
import numbers
from collections.abc import Callable, Mapping, Sequence
from typing import Any, ParamSpec

#: Inches: small enough to sit beside a card, large enough to read.
SIZE = (6.0, 3.2)
MISSING = "<p><i>Charts need matplotlib: pip install matplotlib</i></p>"
P = ParamSpec("P")
_RC: dict[str, Any] = {
    "svg.hashsalt": "maas_nb",
    "svg.fonttype": "none",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
}


def _styled(draw: Callable[P, Any]) -> Callable[P, str]:
    """Run *draw* (which fills a figure and returns it, or a string) under our rcParams:
    styles are read when artists are made, the hash salt when the SVG is written; the
    user's own rcParams are back in place afterwards."""

    @functools.wraps(draw)
    def drawn(*args: P.args, **kwargs: P.kwargs) -> str:
        try:
            import matplotlib
        except ImportError:
            return MISSING
        with matplotlib.rc_context(_RC):  # type: ignore[arg-type]
            fig = draw(*args, **kwargs)
            if isinstance(fig, str):
                return fig
            out = io.StringIO()
            fig.savefig(out, format="svg", metadata={"Date": None})
        text = out.getvalue()
        # The XML prolog and DOCTYPE are for a file; inline in HTML they are noise.
        return text[text.index("<svg") :]

    return drawn


@_styled
def history_svg(
    epochs: Mapping[str, Sequence[float]],
    steps: Mapping[str, Sequence[Sequence[float]]] | None = None,
    *,
    title: str = "",
) -> Any:
    """Per-epoch series (``{"loss": [...], "val_loss": [...]}``) and per-step series
    (``{"reward": [[step, value], ...]}``) as line charts, one panel each; a series named
    ``val_X`` is drawn dashed in the colour of ``X``."""
    from matplotlib.ticker import MaxNLocator

    by_epoch = {k: (list(range(1, len(v) + 1)), [float(y) for y in v]) for k, v in epochs.items()}
    by_step = {
        k: ([float(p[0]) for p in v], [float(p[1]) for p in v]) for k, v in (steps or {}).items()
    }
    panels = [
        (unit, {k: xy for k, xy in series.items() if xy[0]})
        for unit, series in (("epoch", by_epoch), ("step", by_step))
    ]
    panels = [(unit, series) for unit, series in panels if series]
    if not panels:
        return ""
    fig = _figure(len(panels), height=SIZE[1] * len(panels))
    for ax, (unit, series) in zip(fig.axes, panels, strict=True):
        colours: dict[str, Any] = {}
        for name in sorted(series, key=lambda n: (n.removeprefix("val_"), n)):
            base = name.removeprefix("val_")
            xs, ys = series[name]
            style = "--" if name.startswith("val_") else "-"
            (line,) = ax.plot(
                xs,
                ys,
                style,
                color=colours.get(base),
                label=name,
                marker="o" if len(xs) < 30 else "",
            )
            line.set_gid(f"maas-series-{unit}-{name}")
            colours.setdefault(base, line.get_color())
        ax.set_xlabel(unit)
        if unit == "epoch":
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.legend(loc="best", frameon=False)
        ax.grid(alpha=0.3)
    if title:
        fig.axes[0].set_title(title)
    return fig


@_styled
def sweep_svg(
    rows: Sequence[Mapping[str, Any]],
    parameters: Sequence[str],
    metric: str,
    *,
    best: int | None = None,
) -> Any:
    """*metric* against each of *parameters* over a sweep's *rows* (one per run), one
    panel per parameter; the row at index *best* is marked with a star and "best"."""
    usable = [
        (i, row)
        for i, row in enumerate(rows)
        if isinstance(row.get(metric), numbers.Real) and math.isfinite(row[metric])
    ]
    if not usable or not parameters:
        return ""
    fig = _figure(len(parameters), height=SIZE[1] * len(parameters))
    for ax, parameter in zip(fig.axes, parameters, strict=True):
        values = [row.get(parameter) for _, row in usable]
        numeric = all(isinstance(v, numbers.Real) and not isinstance(v, bool) for v in values)
        # Categorical values (strings, booleans) get evenly spaced positions in sweep order.
        labels = list(dict.fromkeys(map(str, values)))
        xs = [float(v) if numeric else labels.index(str(v)) for v in values]  # type: ignore[arg-type]
        ys = [float(row[metric]) for _, row in usable]
        ax.scatter(xs, ys, color="tab:blue", label="run", zorder=2, gid=f"maas-runs-{parameter}")
        if not numeric:
            ax.set_xticks(range(len(labels)), labels)
            ax.set_xmargin(0.2)
        elif min(xs) > 0 and max(xs) / min(xs) >= 50:
            ax.set_xscale("log")  # C=0.01..100, learning rates: a grid spaced by factors
        for (i, _), x, y in zip(usable, xs, ys, strict=True):
            if i == best:
                star = ax.scatter(
                    [x], [y], marker="*", s=220, color="tab:red", label="best", zorder=3
                )
                star.set_gid(f"maas-best-{parameter}")
                ax.annotate(f"best {y:.4g}", (x, y), textcoords="offset points", xytext=(6, 6))
        ax.set_xlabel(parameter)
        ax.set_ylabel(metric)
        ax.legend(loc="best", frameon=False)
        ax.grid(alpha=0.3)
    return fig


@_styled
def bars_svg(groups: Mapping[str, Mapping[str, float]], *, title: str = "") -> Any:
    """A grouped bar chart: one group per metric, one bar per key of *groups* (a version)."""
    metrics = sorted({m for values in groups.values() for m in values})
    if not groups or not metrics:
        return ""
    fig = _figure(1)
    ax = fig.axes[0]
    width = 0.8 / len(groups)
    for k, (label, values) in enumerate(groups.items()):
        xs = [i + (k - (len(groups) - 1) / 2) * width for i in range(len(metrics))]
        heights = [float(values.get(m, math.nan)) for m in metrics]
        bars = ax.bar(xs, heights, width, label=label)
        for patch, metric in zip(bars.patches, metrics, strict=True):
            patch.set_gid(f"maas-bar-{label}-{metric}")
        ax.bar_label(bars, fmt="%.3g", fontsize=7)
    ax.set_xticks(range(len(metrics)), metrics)
    ax.legend(loc="best", frameon=False)
    ax.grid(axis="y", alpha=0.3)
    if title:
        ax.set_title(title)
    return fig


@_styled
def live_svg(series: Mapping[str, Any], *, metric: str = "accuracy", title: str = "") -> Any:
    """A live experiment's per-bucket *series* (``{"t": [...], "iris:1": {"requests":
    [...], "p99_ms": [...], "accuracy": [...]}, ...}``): requests, p99 latency and
    *metric* against seconds before the last bucket, one line per version, one panel each
    (a line's gid: ``maas-live-iris:1-requests``). Empty buckets leave gaps."""
    t = [float(x) for x in series.get("t", [])]
    versions = [k for k in series if k != "t"]
    if not t or not versions:
        return ""
    ago = [x - t[-1] for x in t]
    panels = [("requests", "requests"), ("p99_ms", "p99 (ms)"), (metric, metric)]
    fig = _figure(len(panels), height=SIZE[1] * 1.6)
    for ax, (key, label) in zip(fig.axes, panels, strict=True):
        for version in versions:
            ys = [math.nan if y is None else float(y) for y in series[version].get(key, [])]
            if len(ys) != len(ago):
                continue
            (line,) = ax.plot(ago, ys, marker=".", label=version)
            line.set_gid(f"maas-live-{version}-{key}")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
        # The whole window on every panel: a metric seen in one bucket only (feedback
        # just begun) would otherwise get an axis of its own, a fraction of a second wide.
        margin = max(1.0, 0.02 * (ago[-1] - ago[0]))
        ax.set_xlim(ago[0] - margin, ago[-1] + margin)
    fig.axes[0].legend(loc="best", frameon=False)
    fig.axes[-1].set_xlabel("seconds (0: the current 10 s bucket)")
    if title:
        fig.axes[0].set_title(title)
    return fig


def figure_html(svg: str, caption: str = "") -> str:
    """*svg* in a ``<figure>`` for a card's HTML (empty stays empty)."""
    if not svg:
        return ""
    cap = f"<figcaption>{html.escape(caption)}</figcaption>" if caption else ""
    return f"<figure class='maas-chart' style='margin:4px 0'>{svg}{cap}</figure>"


def _figure(panels: int, *, height: float = SIZE[1]) -> Any:
    from matplotlib.figure import Figure

    fig = Figure(figsize=(SIZE[0], height), layout="constrained")
    fig.subplots(panels, 1, squeeze=False)
    return fig
