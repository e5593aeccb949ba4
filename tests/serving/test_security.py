"""Bearer tokens, loopback-only by default, and body size limits."""

import subprocess
import sys

import httpx
import pytest

import maas_nb
import maas_nb.deploying
from maas_nb.registry import Registry
from tests.helpers import ROOT
from tests.serving.conftest import spawn_server, stop

TOKEN = "s3cret-token-value"
INFER = {"inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1, 2, 3, 4]}]}


def deploy_iris(home, classifier, X):
    registry = Registry(home)
    registry.register(classifier, "iris", sample=X[:5])
    registry.put_deployment("iris", "iris", {})


@pytest.fixture(scope="module")
def shared_secured(tmp_path_factory, classifier, iris):
    """One token-protected server for the read-only tests of this module."""
    home = tmp_path_factory.mktemp("secured")
    deploy_iris(home, classifier, iris[0])
    server = spawn_server(home, token=TOKEN)
    server.reconcile()
    yield server
    stop(server)


@pytest.fixture
def secured(home, classifier, iris):
    """A token-protected server of this test's own (for tests that stop it)."""
    deploy_iris(home, classifier, iris[0])
    server = spawn_server(home, "--log-level", "debug", token=TOKEN)
    server.reconcile()
    yield server
    stop(server)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v2/models/iris/infer"),
        ("GET", "/v2/models/iris"),
        ("GET", "/v2/health/ready"),
        ("POST", "/v1/models/iris:predict"),
        ("POST", "/invocations"),
        ("GET", "/metrics"),
        ("GET", "/openapi.json"),
        ("GET", "/maas/deployments"),
        ("GET", "/maas/server"),
    ],
)
def test_every_route_but_liveness_needs_the_token(shared_secured, method, path):
    secured = shared_secured
    with httpx.Client(base_url=secured.url, trust_env=False) as anonymous:
        r = anonymous.request(method, path, json=INFER)
        assert r.status_code == 401
        assert r.json() == {
            "error": "Missing or wrong bearer token: send 'Authorization: Bearer <token>'."
        }
        assert r.headers["WWW-Authenticate"] == "Bearer"
        wrong = anonymous.request(
            method, path, json=INFER, headers={"Authorization": "Bearer nope"}
        )
        assert wrong.status_code == 401
        basic = anonymous.request(
            method, path, json=INFER, headers={"Authorization": f"Basic {TOKEN}"}
        )
        assert basic.status_code == 401
    with secured.client() as c:
        assert c.request(method, path, json=INFER).status_code != 401


@pytest.mark.parametrize("path", ["/v2/health/live", "/ping", "/health"])
def test_liveness_needs_no_token(shared_secured, path):
    secured = shared_secured
    assert httpx.get(secured.url + path, trust_env=False).status_code == 200


def test_the_token_is_never_logged(secured):
    with secured.client() as c:
        c.post("/v2/models/iris/infer", json=INFER)
    with httpx.Client(base_url=secured.url, trust_env=False) as anonymous:
        anonymous.post(
            "/v2/models/iris/infer", json=INFER, headers={"Authorization": "Bearer nope"}
        )
    assert TOKEN not in (secured.home / "server.json").read_text()
    output = stop(secured)
    assert "Started server process" in output
    assert "deployment 'iris' now serves iris:1" in output
    assert TOKEN not in output


def test_deploy_client_sends_the_token_from_the_environment(secured, monkeypatch, iris):
    X, _ = iris
    monkeypatch.setenv("MAAS_TOKEN", TOKEN)
    dep = maas_nb.deploying.get_deployment("iris")
    assert dep.predict(X[:2]).shape == (2,)
    assert '-H "Authorization: Bearer $MAAS_TOKEN"' in dep.curl()


def test_non_loopback_address_without_a_token_is_refused(home):
    maas_nb.api.registry()
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "maas_nb.serving",
            "--home",
            str(home),
            "--host",
            "0.0.0.0",
            "--port",
            "0",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=ROOT,
    )
    assert result.returncode == 1
    assert result.stderr == (
        "maas: error: Refusing to listen on 0.0.0.0 without a token: anyone who can reach it could "
        "call your models. Set MAAS_TOKEN (or pass --token-file PATH), or listen on 127.0.0.1.\n"
    )


def test_body_over_the_limit_is_413(start_server, classifier, iris):
    X, _ = iris
    registry = maas_nb.api.registry()
    registry.register(classifier, "iris", sample=X[:5])
    registry.put_deployment("iris", "iris", {})
    server = start_server("--max-body", "2000")
    server.reconcile()
    rows = [[1.0, 2.0, 3.0, 4.0]] * 200
    with server.client() as c:
        r = c.post("/v1/models/iris:predict", json={"instances": rows})
        assert r.status_code == 413
        assert r.json()["error"].startswith("The request body is ")
        assert "this server accepts at most 2000 bytes" in r.json()["error"]

        def chunks():
            for _ in range(10):
                yield b" " * 500

        streamed = c.post("/v1/models/iris:predict", content=chunks())
        assert streamed.status_code == 413
        assert c.post("/v1/models/iris:predict", json={"instances": rows[:2]}).status_code == 200


def test_token_less_server_answers_only_local_host_names(shared_iris_server):
    with shared_iris_server.client() as c:
        r = c.get("/v2/models/iris", headers={"Host": "evil.example"})
        assert r.status_code == 400
        assert r.json()["error"].startswith("Host 'evil.example' is not served here")
        assert c.get("/v2/models/iris", headers={"Host": "localhost:1234"}).status_code == 200


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_cross_site_form_content_types_are_refused(shared_iris_server, content_type):
    with shared_iris_server.client() as c:
        r = c.post(
            "/v1/models/iris:predict",
            content=b'{"instances": [[1, 2, 3, 4]]}',
            headers={"Content-Type": content_type},
        )
    assert r.status_code == 415
    assert r.json()["error"].endswith(
        "send 'Content-Type: application/json' (or application/octet-stream for binary tensors)."
    )


def test_reconcile_from_a_web_page_is_refused(iris_server):
    # A page may POST text/plain (or an untyped body) cross-site without a preflight.
    from maas_nb.deploying.remote import reconcile

    with iris_server.client() as c:
        for headers in (
            {"Content-Type": "text/plain", "Origin": "https://evil.example"},
            {"Origin": "https://evil.example"},
        ):
            r = c.post(
                "/maas/reconcile",
                content=b"x" if "Content-Type" in headers else b"",
                headers=headers,
            )
            assert r.status_code == 415, (headers, r.text)
            assert r.json()["error"].startswith(
                (
                    "Content-Type 'text/plain' is not accepted",
                    "A request body without a Content-Type is not",
                )
            )
        assert c.post("/maas/reconcile").status_code == 200  # as curl and our client send it
    assert reconcile(iris_server.url, "iris")["status"] == "ready"
