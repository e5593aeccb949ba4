"""/metrics in Prometheus text format (/openapi.json is tested in test_schemathesis.py)."""

import re


def metric(text, name):
    for line in text.splitlines():
        if line.split(" ")[0] == name:
            return float(line.rsplit(" ", 1)[1])
    raise AssertionError(f"{name} not in metrics")


def test_metrics_count_requests_errors_batches_and_load(iris_server):
    good = {"instances": [[1, 2, 3, 4], [5, 6, 7, 8]]}
    with iris_server.client() as c:
        for _ in range(3):
            assert c.post("/v1/models/iris:predict", json=good).status_code == 200
        assert c.post("/v1/models/iris:predict", json={"instances": [[1]]}).status_code == 400
        r = c.get("/metrics")
    assert r.headers["content-type"].startswith("text/plain; version=0.0.4")
    text = r.text
    label = '{deployment="iris"}'
    assert metric(text, f"maas_requests_total{label}") == 4
    assert metric(text, f"maas_request_errors_total{label}") == 1
    assert metric(text, f"maas_request_latency_seconds_count{label}") == 4
    assert metric(text, f"maas_batch_size_rows_count{label}") >= 3  # warm-up batches count too
    assert metric(text, f"maas_batch_size_rows_sum{label}") >= 6
    assert metric(text, f"maas_queue_depth_rows{label}") == 0
    assert metric(text, f"maas_model_load_seconds{label}") > 0
    assert 0 <= metric(text, f"maas_utilisation_ratio{label}") <= 1
    for family in (
        "maas_requests_total counter",
        "maas_request_latency_seconds histogram",
        "maas_batch_size_rows histogram",
        "maas_queue_depth_rows gauge",
        "maas_model_load_seconds gauge",
        "maas_utilisation_ratio gauge",
    ):
        assert f"# TYPE {family}" in text
    buckets = re.findall(
        r'maas_request_latency_seconds_bucket\{deployment="iris",le="([^"]+)"\} (\d+)', text
    )
    counts = [int(n) for _, n in buckets]
    assert counts == sorted(counts) and buckets[-1] == ("+Inf", "4")
