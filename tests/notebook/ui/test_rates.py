"""From the server's Prometheus text to the Monitor tab's figures."""

import math

import pytest

from maas_nb.notebook.ui.rates import Counters, figures, parse, quantile
from maas_nb.serving.metrics import Metrics


def scrape(observe):
    metrics = Metrics(lambda: {"iris": 3})
    observe(metrics)
    return parse(metrics.render())


def test_parse_reads_back_what_the_server_renders():
    def observe(m):
        for seconds in (0.002, 0.004, 0.2):
            m["iris"].observe_request(seconds, error=False)
        m["iris"].observe_request(0.004, error=True)
        m["iris"].observe_batch(8, 0.5)
        m["iris"].observe_batch(4, 0.25)
        m["other"].observe_request(0.001, error=False)

    counters = scrape(observe)
    iris = counters["iris"]
    assert (iris.requests, iris.errors, iris.busy_seconds) == (4, 1, 0.75)
    assert (iris.batch_rows, iris.batch_calls, iris.queue_rows) == (12, 2, 3)
    assert iris.latency_buckets[0.0025] == 1 and iris.latency_buckets[0.005] == 3
    assert iris.latency_buckets[math.inf] == 4
    assert counters["other"].requests == 1


def test_figures_are_over_the_interval_not_since_start():
    before = Counters(
        requests=100,
        errors=2,
        busy_seconds=1.0,
        batch_rows=400,
        batch_calls=50,
        latency_buckets={0.001: 10, 0.01: 100, math.inf: 100},
    )
    now = Counters(
        requests=300,
        errors=5,
        busy_seconds=1.5,
        batch_rows=1200,
        batch_calls=100,
        latency_buckets={0.001: 10, 0.01: 300, math.inf: 300},
        queue_rows=7,
    )
    fig = figures(before, now, 2.0)
    assert fig.requests_per_s == 100
    assert fig.errors == 3
    assert fig.mean_batch == 16
    assert fig.utilisation == 0.25
    assert fig.queue_rows == 7
    # All 200 new requests fell in (1 ms, 10 ms]: the median interpolates to 5.5 ms.
    assert fig.p50_ms == pytest.approx(5.5)
    assert fig.p99_ms == pytest.approx(1 + 9 * 0.99)


def test_a_quiet_interval_has_no_latency_and_a_restart_starts_again():
    c = Counters(requests=10, latency_buckets={0.01: 10, math.inf: 10})
    quiet = figures(c, c, 1.0)
    assert (quiet.requests_per_s, quiet.p99_ms, quiet.mean_batch) == (0, None, None)
    restarted = Counters(requests=4, latency_buckets={0.01: 4, math.inf: 4})
    assert figures(c, restarted, 1.0).requests_per_s == 4


def test_quantile_matches_prometheus_histogram_quantile():
    buckets = {0.1: 50, 0.2: 100, math.inf: 100}
    assert quantile(0.5, buckets) == pytest.approx(0.1)
    assert quantile(0.75, buckets) == pytest.approx(0.15)
    assert quantile(0.99, {0.1: 0, 0.2: 0, math.inf: 5}) == 0.2  # beyond the last bound
    assert quantile(0.5, {0.1: 0, math.inf: 0}) is None


@pytest.mark.parametrize(
    ("q", "buckets", "expected"),
    [
        (0.5, {0.001: 4, 0.01: 4, math.inf: 4}, 0.0005),  # rank in the first bucket
        (0.5, {math.inf: 3}, 0.0),  # only +Inf: nothing finite to report
        (1.0, {0.1: 2, 0.2: 4, math.inf: 4}, 0.2),
        (0.25, {0.1: 0, 0.2: 4, math.inf: 4}, 0.125),
    ],
)
def test_quantile_edges(q, buckets, expected):
    assert quantile(q, buckets) == pytest.approx(expected)


def test_buckets_missing_from_the_earlier_reading_count_from_zero():
    before = Counters(requests=1, latency_buckets={math.inf: 1})
    now = Counters(requests=3, latency_buckets={0.01: 2, math.inf: 3})
    # A bucket the earlier reading lacked counts from zero: 2 of 2 new requests <= 10 ms.
    assert figures(before, now, 1.0).p50_ms == pytest.approx(5.0)
