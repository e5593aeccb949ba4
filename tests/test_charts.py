"""Charts as SVG text: what each draws, the best point marked, and the same bytes every time."""

import re

import matplotlib
import pytest

from maas_nb import charts

HISTORY = {"loss": [0.9, 0.5, 0.3], "val_loss": [1.0, 0.7, 0.6], "accuracy": [0.5, 0.8, 0.9]}
STEPS = {"reward": [[0, 1.0], [10, 2.0], [20, 4.0], [30, 3.5]]}
SWEEP = [
    {"C": 0.01, "solver": "lbfgs", "accuracy": 0.71, "status": "finished"},
    {"C": 1.0, "solver": "saga", "accuracy": 0.97, "status": "finished"},
    {"C": 100.0, "solver": "lbfgs", "accuracy": 0.93, "status": "finished"},
    {"C": 10.0, "solver": "saga", "accuracy": float("nan"), "status": "failed"},
]


def series(svg, gid):
    """The points of the line drawn in the group *gid*, as (x, y) pairs of the SVG."""
    found = re.search(rf'<g id="{re.escape(gid)}">\s*<path d="([^"]*)"', svg)
    assert found, f"no series {gid} in the chart"
    return [tuple(map(float, p.split())) for p in re.split(r"[ML]", found.group(1)) if p.strip()]


def points(svg, gid):
    """The (x, y) positions of the markers drawn in the group *gid* (a scatter)."""
    start = svg.index(f'<g id="{gid}">')
    group = svg[start : svg.index("</g>", start)]
    found = re.findall(r'<use [^>]*x="([-0-9.]+)" y="([-0-9.]+)"', group)
    return [(float(x), float(y)) for x, y in found]


def texts(svg):
    return re.findall(r"<text[^>]*>([^<]*)</text>", svg)


def test_a_history_draws_a_line_per_series_named_in_its_legend():
    svg = charts.history_svg(HISTORY, STEPS, title="mlp:1")
    assert svg.startswith("<svg") and svg.rstrip().endswith("</svg>")
    for name in HISTORY:
        assert len(series(svg, f"maas-series-epoch-{name}")) == 3
    assert len(series(svg, "maas-series-step-reward")) == 4
    assert {"loss", "val_loss", "accuracy", "reward", "epoch", "step", "mlp:1"} <= set(texts(svg))
    # The validation series is dashed, in its training series' colour.
    val = re.search(r'<g id="maas-series-epoch-val_loss">\s*<path[^>]*style="([^"]*)"', svg)
    train = re.search(r'<g id="maas-series-epoch-loss">\s*<path[^>]*style="([^"]*)"', svg)
    assert "stroke-dasharray" in val.group(1) and "stroke-dasharray" not in train.group(1)
    colour = re.compile(r"stroke: (#[0-9a-f]{6})")
    assert colour.search(val.group(1)).group(1) == colour.search(train.group(1)).group(1)


def test_loss_falls_on_the_chart_as_it_falls_in_the_history():
    # SVG y grows downwards: a falling loss climbs down the picture, a rising accuracy up.
    loss = series(charts.history_svg(HISTORY), "maas-series-epoch-loss")
    accuracy = series(charts.history_svg(HISTORY), "maas-series-epoch-accuracy")
    assert [y for _, y in loss] == sorted(y for _, y in loss)
    assert [y for _, y in accuracy] == sorted((y for _, y in accuracy), reverse=True)
    xs = [x for x, _ in loss]
    assert xs == sorted(xs) and len(set(xs)) == 3


def test_the_same_history_draws_the_same_bytes_and_leaves_rcparams_alone():
    before = dict(matplotlib.rcParams)
    assert charts.history_svg(HISTORY, STEPS) == charts.history_svg(HISTORY, STEPS)
    assert charts.bars_svg({"a:1": {"f1": 0.5}, "a:2": {"f1": 0.6}}) == charts.bars_svg(
        {"a:1": {"f1": 0.5}, "a:2": {"f1": 0.6}}
    )
    assert "<dc:date>" not in charts.history_svg(HISTORY)
    assert dict(matplotlib.rcParams) == before


@pytest.mark.parametrize(
    "drawn",
    [
        lambda: charts.history_svg({}),
        lambda: charts.history_svg({"loss": []}, {"reward": []}),
        lambda: charts.sweep_svg([], ["C"], "accuracy"),
        lambda: charts.sweep_svg(SWEEP, ["C"], "f1"),
        lambda: charts.bars_svg({}),
        lambda: charts.bars_svg({"a:1": {}, "a:2": {}}),
    ],
)
def test_nothing_to_draw_draws_nothing(drawn):
    assert drawn() == ""
    assert charts.figure_html("") == ""


def test_a_sweep_draws_the_metric_against_each_parameter_and_stars_the_best():
    svg = charts.sweep_svg(SWEEP, ["C", "solver"], "accuracy", best=1)
    assert svg.count('<g id="maas-best-') == 2
    assert '<g id="maas-best-C">' in svg and '<g id="maas-best-solver">' in svg
    assert texts(svg).count("best 0.97") == 2
    assert {"C", "solver", "accuracy", "lbfgs", "saga"} <= set(texts(svg))
    # C spans four decades (0.01, 1, 100): a log axis spaces them evenly.
    runs = points(svg, "maas-runs-C")
    # The star sits on the best run's own point: the highest accuracy, the smallest y.
    assert points(svg, "maas-best-C") == [min(runs, key=lambda p: p[1])]
    xs = sorted(x for x, _ in runs)
    assert len(xs) == 3 and xs[1] - xs[0] == pytest.approx(xs[2] - xs[1], rel=1e-3)
    # Another best, another star: the mark follows the run chosen.
    other = charts.sweep_svg(SWEEP, ["C"], "accuracy", best=2)
    assert "best 0.93" in texts(other) and "best 0.97" not in texts(other)
    assert '<g id="maas-best-' not in charts.sweep_svg(SWEEP, ["C"], "accuracy")


def test_versions_side_by_side_are_a_group_of_bars_per_metric():
    svg = charts.bars_svg(
        {"iris:1": {"accuracy": 0.9, "f1": 0.8}, "iris:2": {"accuracy": 0.95}}, title="iris"
    )
    bars = re.findall(r'<g id="maas-bar-([^"]+)">', svg)
    assert bars == ["iris:1-accuracy", "iris:1-f1", "iris:2-accuracy", "iris:2-f1"]
    assert {"iris:1", "iris:2"} <= set(texts(svg))
    assert {"accuracy", "f1", "0.9", "0.95", "0.8", "iris"} <= set(texts(svg))


def test_a_chart_sits_in_a_figure():
    html = charts.figure_html("<svg></svg>", "a <caption>")
    assert html.startswith("<figure") and "<svg></svg>" in html
    assert "a &lt;caption&gt;" in html
