"""schemathesis over the server's own /openapi.json: no request it builds gets a 5xx or hangs.

One real server serves a tensor model (iris), a DataFrame model (frame) and a text model
(reviews). For every operation in the document it serves, schemathesis generates cases
from the documented bodies (positive mode) and from their negation (negative mode), with a
fixed seed. Each generated case is sent as generated and again to each deployment, so every
body reaches every decoder; identical requests are sent once. The document's example bodies
are sent to each deployment too, so every prediction route answers some requests with a
prediction. Every 5xx and every request without an answer within `HANG` seconds is
collected with a curl line to reproduce it, so one run reports all of them.
"""

from __future__ import annotations

import re
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

import pytest
import requests
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st
from starlette.routing import Route

from maas_nb.registry import Registry
from maas_nb.serving.app import create_app
from maas_nb.serving.openapi import spec
from tests.conftest import CORPUS
from tests.serving.conftest import Server, spawn_server, stop

if sys.version_info < (3, 11):  # the dev extra installs schemathesis only there
    pytest.skip("schemathesis 4 needs Python 3.11 or newer", allow_module_level=True)

import schemathesis
from schemathesis import GenerationMode
from schemathesis.checks import max_response_time, not_a_server_error
from schemathesis.errors import FailureGroup

DEPLOYMENTS = ("iris", "frame", "reviews")
EXAMPLES_PER_OPERATION = 190  # generated cases per operation; the requests number over 5,000
MIN_REQUESTS = 5000
HANG = 10.0  # seconds: a request without an answer by then is a hang
SETTINGS = settings(
    max_examples=EXAMPLES_PER_OPERATION,
    deadline=None,
    database=None,
    phases=[Phase.generate],  # failures are collected, not shrunk
    suppress_health_check=list(HealthCheck),
)


@dataclass
class ServerLog:
    """The server's output, read as it comes so a chatty server never blocks on a full pipe."""

    server: Server
    lines: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.thread = threading.Thread(target=self._read, daemon=True)
        self.thread.start()

    def _read(self) -> None:
        assert self.server.proc.stdout is not None
        for line in self.server.proc.stdout:
            self.lines.append(line)

    def tracebacks(self) -> str:
        return "".join(self.lines)[-30000:]


@dataclass
class Driver:
    """Sends cases, each distinct request once; collects 5xx answers and hangs."""

    url: str
    session: requests.Session = field(default_factory=requests.Session)
    seen: set[tuple] = field(default_factory=set)
    sent: Counter = field(default_factory=Counter)
    answered: Counter = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    def send(self, case: Any) -> None:
        key = (
            case.method,
            case.formatted_path,
            case.media_type,
            repr(case.body),
            repr(sorted((case.headers or {}).items())),
        )
        if key in self.seen:
            return
        self.seen.add(key)
        label = case.operation.label
        self.sent[label] += 1
        began = time.monotonic()
        try:
            response = case.call(base_url=self.url, session=self.session, timeout=HANG)
        except requests.Timeout:
            self.failures.append(f"hang (no answer in {HANG} s): {case.as_curl_command()}")
            return
        except requests.ConnectionError as exc:
            self.failures.append(f"connection failed ({exc}): {case.as_curl_command()}")
            return
        if response.status_code < 300:
            self.answered[label] += 1
        try:
            case.validate_response(response, checks=[not_a_server_error, max_response_time])
        except FailureGroup as failure:
            self.failures.append(f"after {time.monotonic() - began:.2f} s: {failure}")

    def send_everywhere(self, case: Any) -> None:
        """As generated, then to each deployment (the generated name is mostly unknown)."""
        self.send(case)
        if "name" in case.path_parameters:
            for name in DEPLOYMENTS:
                case.path_parameters["name"] = name
                self.send(case)


@pytest.fixture(scope="module")
def served(tmp_path_factory, classifier, iris, text_pipeline):
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    frame = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    registry = Registry(tmp_path_factory.mktemp("schemathesis"))
    registry.register(classifier, "iris", sample=X[:5], alias="production")
    registry.register(LogisticRegression(max_iter=1000).fit(frame, y), "frame", sample=frame[:5])
    registry.register(text_pipeline, "reviews", sample=[d for d, _ in CORPUS][:2])
    # iris runs an experiment (a shadow, here of itself), so that feedback is taken (200).
    experiment = {"shadow": {"target": "iris", "percent": 100.0, "timeout_ms": 1000.0}}
    for name in DEPLOYMENTS:
        registry.put_deployment(name, name, experiment if name == "iris" else {})
    server = spawn_server(registry.home)
    log = ServerLog(server)
    states = server.reconcile()
    assert [s["status"] for s in states] == ["ready"] * len(DEPLOYMENTS), states
    yield server, log
    stop(server)
    log.thread.join(timeout=60)


def operations(schema: Any) -> list[Any]:
    return [result.ok() for result in schema.get_all_operations()]


def documented_examples(operation: Any) -> list[Any]:
    """The example bodies the document gives for *operation*, as cases on version 1."""
    body = operation.definition.raw.get("requestBody", {}).get("content", {})
    cases = []
    for media_type, content in body.items():
        examples = [e["value"] for e in content.get("examples", {}).values()]
        if "example" in content:
            examples.append(content["example"])
        params = {"name": "iris", "version": "1", "label": "production"}
        wanted = {p.name for p in operation.path_parameters}
        for example in examples:
            cases.append(
                operation.Case(
                    path_parameters={k: v for k, v in params.items() if k in wanted},
                    body=example,
                    media_type=media_type,
                )
            )
    return cases


def test_openapi_document_is_valid_and_lists_every_route(home):
    schema = schemathesis.openapi.from_dict(spec())
    schema.validate()
    app = create_app(Registry(home)).app  # inside the loopback Host check
    routed = {
        (method, route.path)
        for route in app.routes
        if isinstance(route, Route)
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {(op.method.upper(), op.path) for op in operations(schema)}
    assert documented == routed
    for op in operations(schema):
        assert {p.name for p in op.path_parameters} == set(re.findall(r"{(\w+)}", op.path))


@pytest.mark.slow
def test_no_generated_request_gets_a_5xx_or_hangs(served, classifier, iris):
    server, log = served
    with server.client() as c:
        assert c.get("/openapi.json").json() == spec()
    schema = schemathesis.openapi.from_url(f"{server.url}/openapi.json")
    driver = Driver(server.url)
    driver.session.trust_env = False
    started = time.monotonic()
    for operation in operations(schema):
        for example in documented_examples(operation):
            driver.send_everywhere(example)

        @seed(20261129)
        @SETTINGS
        @given(case=st.one_of(operation.as_strategy(generation_mode=m) for m in GenerationMode))
        def fuzz(case: Any) -> None:
            driver.send_everywhere(case)

        fuzz()
    elapsed = time.monotonic() - started
    total = sum(driver.sent.values())
    summary = f"{total} requests in {elapsed:.0f} s; sent {dict(driver.sent)}; 2xx {dict(driver.answered)}"
    print(summary)
    assert not driver.failures, (
        f"{len(driver.failures)} failures:\n"
        + "\n".join(driver.failures[:50])
        + f"\n\n{summary}\n\nserver log:\n{log.tracebacks()}"
    )
    assert total >= MIN_REQUESTS, summary
    assert set(driver.sent) == {op.label for op in operations(schema)}, summary
    predicting = [op.label for op in operations(schema) if op.method == "post"]
    unanswered = [label for label in predicting if label not in driver.answered]
    assert unanswered == ["POST /invocations"], summary  # /invocations needs one deployment

    X, _ = iris
    with server.client() as c:
        assert c.get("/v2/health/live").json() == {"live": True}
        r = c.post("/models/iris/invocations", json={"instances": X[:3].tolist()})
        assert r.json() == {"predictions": classifier.predict(X[:3]).tolist()}
