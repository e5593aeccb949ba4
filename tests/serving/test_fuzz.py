"""No client input makes the server answer 5xx: at least 500 generated requests."""

import json
from urllib.parse import quote, unquote

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from maas_nb.registry import Registry
from maas_nb.serving.mlflow import is_scoring_path
from tests.conftest import CORPUS
from tests.serving.conftest import spawn_server, stop

NAMES = st.sampled_from(["iris", "reviews", "nope", "iris-b"]) | st.text(
    min_size=1, max_size=12
).map(lambda s: quote(s, safe=""))
VERSIONS = st.sampled_from(["1", "2", "0", "-1", "x", "99999999999999999999"])
ROUTES = st.one_of(
    st.builds(lambda n: ("POST", f"/v2/models/{n}/infer"), NAMES),
    st.builds(lambda n, v: ("POST", f"/v2/models/{n}/versions/{v}/infer"), NAMES, VERSIONS),
    st.builds(lambda n: ("GET", f"/v2/models/{n}"), NAMES),
    st.builds(lambda n, v: ("GET", f"/v2/models/{n}/versions/{v}/ready"), NAMES, VERSIONS),
    st.builds(lambda n: ("POST", f"/v1/models/{n}:predict"), NAMES),
    st.builds(lambda n, v: ("POST", f"/v1/models/{n}/versions/{v}:predict"), NAMES, VERSIONS),
    st.builds(lambda n, v: ("POST", f"/v1/models/{n}/labels/{v}:predict"), NAMES, VERSIONS),
    st.builds(lambda n: ("GET", f"/v1/models/{n}/metadata"), NAMES),
    st.just(("POST", "/invocations")),
    st.builds(lambda n: ("POST", f"/models/{n}/invocations"), NAMES),
    st.sampled_from(
        [("GET", "/v2"), ("GET", "/metrics"), ("PUT", "/v2/models/iris/infer"), ("GET", "/nowhere")]
    ),
)
SCALARS = (
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=8)
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=20,
)
DATATYPES = st.sampled_from(
    ["FP64", "FP32", "INT64", "INT8", "UINT8", "BOOL", "BYTES", "FP16", "nope"]
)
NUMBERS = (
    st.integers(-(2**70), 2**70) | st.floats() | st.booleans() | st.text(max_size=4) | st.none()
)
OIP_TENSOR = st.fixed_dictionaries(
    {
        "name": st.sampled_from(["input", "text", "x"]) | st.integers() | JSON_VALUES,
        "shape": st.lists(st.integers(-2, 6), max_size=3) | JSON_VALUES,
        "datatype": DATATYPES | JSON_VALUES,  # a list here was once a 500 (unhashable)
        "data": st.lists(NUMBERS | st.lists(NUMBERS, max_size=5), max_size=12) | JSON_VALUES,
    },
    optional={
        "parameters": st.fixed_dictionaries({"binary_data_size": st.integers(-5, 64)}) | JSON_VALUES
    },
)
BODIES = st.one_of(
    st.builds(
        lambda ins, outs: {"inputs": ins, **outs},
        st.lists(OIP_TENSOR, max_size=3),
        st.just({}) | st.fixed_dictionaries({"outputs": JSON_VALUES}),
    ),
    st.builds(
        lambda rows: {"instances": rows},
        st.lists(st.lists(NUMBERS, max_size=6) | st.text(max_size=10), max_size=6) | JSON_VALUES,
    ),
    st.builds(lambda cols: {"inputs": cols}, JSON_VALUES),
    st.builds(
        lambda d: {"dataframe_split": d},
        st.fixed_dictionaries({"columns": JSON_VALUES, "data": JSON_VALUES}) | JSON_VALUES,
    ),
    st.builds(lambda d: {"dataframe_records": d}, JSON_VALUES),
    JSON_VALUES,
)
RAW = st.binary(max_size=64) | st.just(b'{"inputs": [') | st.just(b"\xff\xfe")


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory, classifier, iris, text_pipeline):
    X, _ = iris
    home = tmp_path_factory.mktemp("fuzz")
    registry = Registry(home)
    registry.register(classifier, "iris", sample=X[:5], alias="production")
    registry.register(text_pipeline, "reviews", sample=[d for d, _ in CORPUS][:2])
    registry.put_deployment("iris", "iris@production", {})
    registry.put_deployment("reviews", "reviews", {})
    server = spawn_server(home)
    server.reconcile()
    yield server
    stop(server)


sent = {"count": 0}


@pytest.mark.slow
@settings(
    max_examples=600,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    route=ROUTES,
    body=BODIES | RAW,
    header_length=st.none() | st.integers(-1, 80).map(str) | st.just("abc"),
)
def test_generated_requests_never_get_a_5xx(fuzz_server, route, body, header_length):
    method, path = route
    content = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if header_length is not None:
        headers["Inference-Header-Content-Length"] = header_length
    with fuzz_server.client() as c:
        r = c.request(method, path, content=content, headers=headers)
    sent["count"] += 1
    assert r.status_code < 500, (method, path, content[:200], r.status_code, r.text)
    if r.status_code >= 400:
        assert r.headers["content-type"].startswith("application/json")
        error = r.json()
        # MLflow's shape on its scoring routes only ("/models/a%2Fb/invocations" is none).
        scoring = is_scoring_path(unquote(path))
        message = error["message"] if scoring else error["error"]
        assert isinstance(message, str) and message


@pytest.mark.slow
def test_server_is_alive_and_correct_after_fuzzing(fuzz_server, classifier, iris):
    X, _ = iris
    assert sent["count"] >= 500, "the fuzz test above must have run first in this module"
    with fuzz_server.client() as c:
        assert c.get("/v2/health/live").status_code == 200
        r = c.post("/models/iris/invocations", json={"instances": X[:3].tolist()})
        assert r.json() == {"predictions": classifier.predict(X[:3]).tolist()}
    assert isinstance(
        httpx.get(fuzz_server.url + "/v2/health/ready", trust_env=False).json()["ready"], bool
    )
