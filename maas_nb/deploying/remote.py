"""Talking to a running model server over HTTP: its name, its view of the deployments,
whether it accepts our token, asking it to reconcile now and waiting for a deployment.

Every deploy target whose server speaks our HTTP API (``/maas/server``,
``/maas/deployments``, ``/maas/reconcile``, ``/metrics``) uses these. The token is
``$MAAS_TOKEN``, sent as ``Authorization: Bearer``.
"""

from __future__ import annotations

import atexit
import os
import time
from collections.abc import Callable
from typing import Any

from ..exceptions import DeploymentFailedError, ServerUnavailableError
from ..serving.server import TOKEN_ENV
from ..serving.status import READY

START_TIMEOUT_S = 60.0


def check_access(server: str) -> None:
    """Raise `ServerUnavailableError` if the server at *server* refuses our token.

    Called before any change to the registry, so that a refusal changes nothing.
    """
    try:
        response = http().get(f"{server}/maas/deployments", headers=auth_headers(), timeout=10)
    except Exception:
        return  # not answering: what follows says so, as before
    if response.status_code == 401:
        raise ServerUnavailableError(refused_message(server) + " Nothing was changed.")


def states(server: str) -> dict[str, dict[str, Any]]:
    """The server at *server*'s view of each deployment, by name."""
    listed = call("GET", server, "/maas/deployments", timeout=10)
    return {entry["name"]: entry for entry in listed.json()}


def call(method: str, server: str, path: str, *, timeout: float) -> Any:
    """The server's 200 answer to *method* *path*, or a `ServerUnavailableError` saying why."""
    try:
        url = f"{server}{path}"
        response = http().request(method, url, headers=auth_headers(), timeout=timeout)
    except Exception as exc:
        raise ServerUnavailableError(
            f"The model server at {server} did not answer: {type(exc).__name__}: {exc}"
        ) from exc
    if response.status_code == 401:
        raise ServerUnavailableError(refused_message(server))
    if response.status_code != 200:
        raise ServerUnavailableError(
            f"The model server at {server} answered {response.status_code} to "
            f"{path}: {error_text(response)}"
        )
    return response


def refused_message(server: str) -> str:
    if os.environ.get(TOKEN_ENV):
        return (
            f"The model server at {server} refused the token in {TOKEN_ENV} (401): set "
            f"{TOKEN_ENV} to the token the server was started with."
        )
    return (
        f"The model server at {server} wants a token (401) and {TOKEN_ENV} is not set: "
        f"set {TOKEN_ENV} to the token the server was started with."
    )


def view(server: str, *, timeout: float = 2.0) -> dict[str, Any]:
    """The server at *server*: its URL, deployments (status, reason) and metrics text."""
    listed = call("GET", server, "/maas/deployments", timeout=timeout)
    metrics = call("GET", server, "/metrics", timeout=timeout)
    return {"url": server, "deployments": listed.json(), "metrics": metrics.text}


def reconcile(server: str, name: str, timeout: float = START_TIMEOUT_S) -> dict[str, Any] | None:
    """Have the server reconcile now; its entry for deployment *name* afterwards."""
    # The server answers once the loads it started have finished (or failed).
    response = call("POST", server, "/maas/reconcile", timeout=timeout + 5)
    for entry in response.json():
        if entry["name"] == name:
            return entry
    return None


def server_name(server: str) -> str | None:
    """The name of the server at *server*: the deployments made for it record it (None:
    it serves every deployment)."""
    name = call("GET", server, "/maas/server", timeout=10).json().get("name")
    return str(name) if name is not None else None


def wait_ready(
    server: str, name: str, uri: str, revision: str, *, timeout: float, log: str
) -> None:
    """Have the server at *server* reconcile until deployment *name* serves *revision*
    (on every worker); `DeploymentFailedError` if it cannot load *uri*, or does not see
    the deployment at all; `ServerUnavailableError` after *timeout* s (*log*: where to
    look)."""

    def failure(entry: dict[str, Any]) -> str | None:
        if entry.get("failed_revision") != revision:
            return None
        return f"The server could not load {uri!r} for deployment {name!r}: {entry['reason']}"

    _reconcile_until(
        server,
        name,
        timeout=timeout,
        done=lambda e: e.get("revision") == revision and e["status"] == READY,
        failure=failure,
        # It has just read the registry, which has the deployment: it reads another.
        missing=(
            f"The model server at {server} does not see deployment {name!r} after "
            "reading its registry: it reads another registry than the one deployed to "
            "(or the deployment was changed meanwhile). Start it on this registry "
            "(maas serve --registry URI --artifacts URI; for this home's own server: "
            "maas server stop, then deploy again)."
        ),
        late=f"Deployment {name!r} was not ready after {timeout:.0f} s; see {log}.",
    )


def _reconcile_until(
    server: str,
    name: str,
    *,
    timeout: float,
    done: Callable[[dict[str, Any]], bool],
    failure: Callable[[dict[str, Any]], str | None],
    missing: str,
    late: str,
) -> dict[str, Any]:
    """Have the server at *server* reconcile until deployment *name*'s entry is *done*;
    that entry. `DeploymentFailedError` with *missing* if the server does not see it, or
    with what *failure* says of an entry; `ServerUnavailableError` with *late* after
    *timeout* s."""
    deadline = time.monotonic() + timeout
    while True:
        entry = reconcile(server, name, timeout)
        if entry is None:
            raise DeploymentFailedError(missing)
        if done(entry):
            return entry
        why = failure(entry)
        if why is not None:
            raise DeploymentFailedError(why)
        if time.monotonic() > deadline:
            raise ServerUnavailableError(late)
        time.sleep(0.02)


def alive(url: str) -> bool:
    """Whether the server at *url* answers its liveness probe."""
    try:
        return http().get(f"{url}/v2/health/live", timeout=2).status_code == 200
    except Exception:
        return False


_client = None


def http() -> Any:
    """One shared HTTP client (no proxies from the environment: the server is local)."""
    global _client
    if _client is None:
        import httpx

        _client = httpx.Client(timeout=30, trust_env=False)
        atexit.register(_client.close)
    return _client


def auth_headers() -> dict[str, str]:
    token = os.environ.get(TOKEN_ENV)
    return {"Authorization": f"Bearer {token}"} if token else {}


def error_text(response: Any) -> str:
    """The message of an error response: ``{"error": ...}``, or MLflow's ``{"message": ...}``."""
    try:
        body = response.json()
        return body["error"] if "error" in body else body["message"]
    except Exception:
        return response.text[:500]


def wait_generation(
    server: str, name: str, generation: int, *, timeout: float, log: str
) -> dict[str, Any]:
    """Have the server at *server* reconcile until deployment *name* serves traffic
    *generation* (on every worker); its entry then. `DeploymentFailedError` if a version
    of that split cannot be loaded (the previous split serves on), `ServerUnavailableError`
    after *timeout* s (*log*: where to look)."""

    def failure(entry: dict[str, Any]) -> str | None:
        if entry.get("failed_generation") != generation:
            return None
        return (
            f"The server could not load traffic generation {generation} of deployment "
            f"{name!r}: {entry['reason']} Generation {entry.get('generation')} serves on; fix "
            "the arm (or set another split) and run traffic again."
        )

    return _reconcile_until(
        server,
        name,
        timeout=timeout,
        done=lambda e: e.get("generation") == generation and e["status"] == READY,
        failure=failure,
        missing=(
            f"The model server at {server} does not see deployment {name!r} after "
            "reading its registry (it was undeployed meanwhile, or the server reads "
            "another registry)."
        ),
        late=(
            f"Traffic generation {generation} of deployment {name!r} was not ready after "
            f"{timeout:.0f} s; see {log}."
        ),
    )
