"""Traffic splits on a real server: weights, stickiness, weight 0, a split taking effect
only once its versions are ready, and the version/generation/id headers on every
protocol."""

from __future__ import annotations

import collections
import json
import re

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb import flavors
from tests.custom_models import GatedRegressor
from tests.flavors import crafted
from tests.helpers import wait_for

BATCHING = {"max_batch_size": 16, "max_latency_ms": 1}


def arms(*pairs: tuple[str, int]) -> list[dict]:
    return [{"target": t, "weight": w} for t, w in pairs]


@pytest.fixture
def two_versions(iris):
    """iris:1 (production) and iris:2 (candidate, trained on shifted labels), and the rows
    on which they answer differently, with each version's answers."""
    X, y = iris
    registry = maas_nb.api.registry()
    first = LogisticRegression(max_iter=1000).fit(X, y)
    second = LogisticRegression(max_iter=1000).fit(X, (y + 1) % 3)
    registry.register(first, "iris", sample=X[:5], alias="production")
    registry.register(second, "iris", sample=X[:5], alias="candidate")
    rows = X[first.predict(X) != second.predict(X)]
    assert len(rows) > 100
    return registry, rows, {"iris:1": first.predict(rows), "iris:2": second.predict(rows)}


def infer_body(row: np.ndarray, request_id: str | None = None) -> dict:
    body = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": list(row)}]}
    if request_id is not None:
        body["id"] = request_id
    return body


def served(server, config: dict) -> dict:
    """Deploy 'iris' with *config* and reconcile; its entry in /maas/deployments."""
    maas_nb.api.registry().put_deployment("iris", "iris@production", {**BATCHING, **config})
    (state,) = server.reconcile()
    return state


def test_a_90_10_split_sends_10_percent_to_the_candidate_and_says_who_answered(
    start_server, two_versions
):
    _, rows, answers = two_versions
    server = start_server()
    split = arms(("iris@production", 90), ("iris@candidate", 10))
    state = served(server, {"traffic": split, "generation": 2})
    assert (state["status"], state["generation"]) == ("ready", 2)
    assert state["arms"] == [
        {"target": "iris@production", "version": 1, "weight": 90, "status": "ready"},
        {"target": "iris@candidate", "version": 2, "weight": 10, "status": "ready"},
    ]
    counts: collections.Counter = collections.Counter()
    ids = set()
    with server.client() as client:
        for i in range(5000):
            k = i % len(rows)
            r = client.post("/v2/models/iris/infer", json=infer_body(rows[k]))
            assert r.status_code == 200, r.text
            version = r.headers["x-maas-version"]
            body = r.json()
            assert body["outputs"][0]["data"] == [int(answers[version][k])], (i, version)
            assert body["model_version"] == version.split(":")[1]
            assert body["id"] == r.headers["x-maas-request-id"]
            assert r.headers["x-maas-generation"] == "2"
            counts[version] += 1
            ids.add(body["id"])
    assert len(ids) == 5000
    share = counts["iris:2"] / 5000
    assert 0.085 <= share <= 0.115, counts


def test_sticky_keys_always_reach_the_same_version(start_server, two_versions):
    _, rows, _ = two_versions
    server = start_server()
    split = arms(("iris@production", 50), ("iris@candidate", 50))
    served(server, {"traffic": split, "generation": 2, "sticky": "X-User"})
    seen: dict[str, set[str]] = collections.defaultdict(set)
    keyless: collections.Counter = collections.Counter()
    with server.client() as client:
        for i in range(600):
            key = f"user-{i % 120}"
            r = client.post(
                "/v2/models/iris/infer", json=infer_body(rows[0]), headers={"X-User": key}
            )
            assert r.status_code == 200, r.text
            seen[key].add(r.headers["x-maas-version"])
        for _ in range(200):  # without the header: routed at random
            r = client.post("/v2/models/iris/infer", json=infer_body(rows[0]))
            keyless[r.headers["x-maas-version"]] += 1
    assert all(len(v) == 1 for v in seen.values()), {k: v for k, v in seen.items() if len(v) > 1}
    by_version = collections.Counter(next(iter(v)) for v in seen.values())
    assert set(by_version) == {"iris:1", "iris:2"}, by_version  # the keys spread over both
    assert set(keyless) == {"iris:1", "iris:2"}, keyless


def test_weight_zero_gets_no_request_at_all(start_server, two_versions):
    _, rows, _ = two_versions
    server = start_server()
    state = served(
        server,
        {"traffic": arms(("iris@production", 100), ("iris@candidate", 0)), "generation": 2},
    )
    assert [a["version"] for a in state["arms"]] == [1, 2]  # loaded, but takes nothing
    versions: collections.Counter = collections.Counter()
    with server.client() as client:
        for i in range(1000):
            r = client.post("/v2/models/iris/infer", json=infer_body(rows[i % len(rows)]))
            versions[r.headers["x-maas-version"]] += 1
        r = client.post("/v2/models/iris/versions/2/infer", json=infer_body(rows[0]))
    assert versions == {"iris:1": 1000}
    assert r.status_code == 404
    assert r.json()["error"] == "Deployment 'iris' takes no traffic for version 2 (weight 0)."


def test_a_candidate_that_fails_to_load_leaves_the_old_split_serving(
    start_server, two_versions, iris
):
    registry, rows, _ = two_versions
    X, y = iris
    data = crafted.rewrite(
        flavors.get("sklearn").save(crafted.base_model(X, y)),
        crafted.function("sklearn.utils._testing", "check_output"),
    )
    crafted.put_version(registry, "iris", data)  # iris:3, refused by the server's audit
    server = start_server()
    assert served(server, {})["generation"] == 1
    bad = arms(("iris@production", 80), ("iris:3", 20))
    state = served(server, {"traffic": bad, "generation": 2})
    assert (state["status"], state["generation"], state["failed_generation"]) == ("ready", 1, 2)
    assert state["reason"].startswith("UntrustedModelError: Model 'iris:3' contains types")
    assert [(a["version"], a["status"]) for a in state["arms"]] == [
        (1, "ready"),
        (1, "failed"),
        (3, "failed"),
    ]
    with server.client() as client:
        for _ in range(200):
            r = client.post("/v2/models/iris/infer", json=infer_body(rows[0]))
            assert r.status_code == 200, r.text
            assert (r.headers["x-maas-version"], r.headers["x-maas-generation"]) == ("iris:1", "1")
    good = arms(("iris@production", 80), ("iris@candidate", 20))
    state = served(server, {"traffic": good, "generation": 3})
    assert (state["status"], state["generation"], state["reason"]) == ("ready", 3, "")
    assert state["failed_generation"] is None


def test_a_new_split_takes_effect_only_once_its_versions_are_warm(
    start_server, two_versions, tmp_path
):
    registry, rows, _ = two_versions
    gate = tmp_path / "gate"
    gate.mkdir()
    slow = GatedRegressor(str(gate)).fit(rows)
    trusted = ["tests.custom_models.GatedRegressor"]
    (gate / "open").touch()  # open while registering infers the signature
    registry.register(slow, "iris", sample=rows[:5], trusted_types=trusted)  # iris:3
    (gate / "open").unlink()
    (gate / "entered").unlink()
    server = start_server()
    served(server, {})
    config = {**BATCHING, "traffic": arms(("iris:1", 50), ("iris:3", 50)), "generation": 2}
    registry.put_deployment("iris", "iris:1", config)  # the server sees it at its next poll
    wait_for(lambda: (gate / "entered").exists(), timeout=30, what="iris:3 to be warming")
    with server.client() as client:
        state = client.get("/maas/deployments").json()[0]
        assert (state["generation"], state["arms"][-1]["status"]) == (1, "loading")
        for _ in range(100):  # the old split serves all the while
            r = client.post("/v2/models/iris/infer", json=infer_body(rows[0]))
            assert (r.headers["x-maas-version"], r.headers["x-maas-generation"]) == ("iris:1", "1")
    (gate / "open").touch()

    def switched():
        with server.client() as client:
            return client.get("/maas/deployments").json()[0]["generation"] == 2

    wait_for(switched, timeout=60, what="generation 2 to serve")
    with server.client() as client:
        seen = {
            client.post("/v2/models/iris/infer", json=infer_body(rows[0])).headers["x-maas-version"]
            for _ in range(100)
        }
    assert seen == {"iris:1", "iris:3"}


HEX_ID = re.compile(r"[0-9a-f]{32}")
ROW = [5.1, 3.5, 1.4, 0.2]
PROTOCOLS = [
    ("/v2/models/iris/infer", {"json": infer_body(np.array(ROW))}),
    ("/v2/models/iris/versions/1/infer", {"json": infer_body(np.array(ROW))}),
    ("/v1/models/iris:predict", {"json": {"instances": [ROW]}}),
    ("/v1/models/iris/versions/1:predict", {"json": {"instances": [ROW]}}),
    ("/v1/models/iris/labels/production:predict", {"json": {"instances": [ROW]}}),
    ("/invocations", {"json": {"inputs": [ROW]}}),
    ("/models/iris/invocations", {"json": {"dataframe_split": {"data": [ROW]}}}),
    (
        "/invocations",
        {"content": "a,b,c,d\n5.1,3.5,1.4,0.2\n", "headers": {"Content-Type": "text/csv"}},
    ),
]


@pytest.mark.parametrize(("path", "send"), PROTOCOLS)
def test_every_protocol_says_version_generation_and_request_id(shared_iris_server, path, send):
    with shared_iris_server.client() as client:
        first = client.post(path, **send)
        second = client.post(path, **send)
    for r in (first, second):
        assert r.status_code == 200, r.text
        assert r.headers["x-maas-version"] == "iris:1"
        assert r.headers["x-maas-generation"] == "1"
        assert HEX_ID.fullmatch(r.headers["x-maas-request-id"])
    assert first.headers["x-maas-request-id"] != second.headers["x-maas-request-id"]
    if "/v2/" in path:
        assert first.json()["id"] == first.headers["x-maas-request-id"]
        assert first.json()["model_version"] == "1"


def test_the_clients_oip_id_is_the_request_id(shared_iris_server):
    with shared_iris_server.client() as client:
        r = client.post("/v2/models/iris/infer", json=infer_body(np.array(ROW), "order-17"))
    assert r.status_code == 200, r.text
    assert (r.json()["id"], r.headers["x-maas-request-id"]) == ("order-17", "order-17")
    assert json.loads(r.text)["model_name"] == "iris"


def test_a_request_too_big_for_any_version_is_not_counted_against_the_one_it_reached(
    start_server, two_versions
):
    """A 413 for more rows than a queue holds says nothing of the version: a guard
    judging error rates must not see it as the candidate's failure."""
    _, rows, _ = two_versions
    server = start_server()
    served(server, {"traffic": arms(("iris@production", 50), ("iris@candidate", 50))})
    big = np.repeat(rows[:1], 4097, axis=0)  # a queue holds at least 4096 rows
    body = {"inputs": [{"name": "input", "shape": [4097, 4], "datatype": "FP64"}]}
    body["inputs"][0]["data"] = big.ravel().tolist()
    reached = collections.Counter()
    with server.client() as client:
        for _ in range(6):
            r = client.post("/v2/models/iris/infer", json=body)
            assert r.status_code == 413, r.text
            assert "Split it into smaller requests" in r.json()["error"]
        for row in rows[:40]:
            r = client.post("/v2/models/iris/infer", json=infer_body(row))
            assert r.status_code == 200, r.text
            reached[r.headers["x-maas-version"]] += 1
        summary = client.get("/maas/experiments/iris").json()
    by_version = {v["version"]: v for v in summary["versions"]}
    assert set(reached) == {"iris:1", "iris:2"}
    for version, n in reached.items():
        assert by_version[version]["requests"] == n
        assert by_version[version]["errors"]["count"] == 0
