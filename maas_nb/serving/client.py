"""Deploying from Python: write the deployments table, make sure a server runs, wait for it.

The server is a detached process (it outlives the notebook kernel that started it); its
pid and address live in ``<home>/server.json``. Predictions go over HTTP.
"""

from __future__ import annotations

import atexit
import html
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from ..api import registry as default_registry
from ..api import with_pipeline_run
from ..exceptions import (
    DeploymentFailedError,
    DeploymentNotFoundError,
    PredictionError,
    ServerUnavailableError,
)
from ..processes import pid_alive
from ..registry import DeploymentRecord, Registry
from ..registry.uri import ModelRef, validate_name
from .server import DEFAULT_PORT, PORT_ENV, TOKEN_ENV, read_server_file

LOG_FILE = "server.log"
START_TIMEOUT_S = 60.0


@dataclass(frozen=True)
class Deployment:
    """A model deployed on the local server: ``.url``, ``.status``, ``.predict(X)``."""

    name: str
    target: str
    config: dict[str, Any]
    created_at: datetime
    server: str  # the server's base URL
    home: str

    @property
    def url(self) -> str:
        """The Open Inference Protocol endpoint of this deployment."""
        return f"{self.server}/v2/models/{self.name}/infer"

    @property
    def status(self) -> str:
        """``ready``, ``loading``, ``failed`` or ``stopped`` (no server)."""
        return self.describe().get("status", "stopped")

    def describe(self) -> dict[str, Any]:
        """The server's view of this deployment (status, version, reason)."""
        try:
            response = _http().get(f"{self.server}/maas/deployments", headers=_headers())
        except Exception:
            return {"status": "stopped"}
        for entry in response.json():
            if entry["name"] == self.name:
                return entry
        return {"status": "stopped"}

    def predict(self, X: Any) -> Any:
        """Predict *X* (array, DataFrame or list of strings) over HTTP; returns a numpy array."""
        return self.invoke(payload(X))

    def invoke(self, body: dict[str, Any]) -> Any:
        """POST an ``/invocations`` body (``instances``, ``inputs`` or ``dataframe_split``)."""
        import numpy as np

        if not self.server:
            raise ServerUnavailableError(
                f"Deployment {self.name!r} has no running server: deploy it again to start one."
            )
        response = _http().post(
            f"{self.server}/models/{self.name}/invocations", json=body, headers=_headers()
        )
        if response.status_code != 200:
            raise PredictionError(
                f"Deployment {self.name!r} answered {response.status_code}: {_error(response)}"
            )
        return np.asarray(response.json()["predictions"])

    def curl(self) -> str:
        """A ready-to-run curl command for this deployment's Open Inference Protocol endpoint."""
        body = shlex.quote(json.dumps(self.example()))
        auth = ' -H "Authorization: Bearer $MAAS_TOKEN"' if os.environ.get(TOKEN_ENV) else ""
        return f"curl -s -X POST {self.url} -H 'Content-Type: application/json'{auth} -d {body}"

    def example(self) -> dict[str, Any]:
        """An example Open Inference Protocol request body, shaped by the signature."""
        return self._example() or {
            "inputs": [
                {"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [[0, 0, 0, 0]]}
            ]
        }

    def _example(self) -> dict[str, Any] | None:
        try:
            sig = default_registry(self.home).get(self.target).signature
        except Exception:
            return None
        if sig is None:
            return None
        if sig.kind == "text":
            return {
                "inputs": [
                    {"name": "text", "shape": [1], "datatype": "BYTES", "data": ["some text"]}
                ]
            }
        from .oip import datatype

        if sig.kind == "dataframe":
            return {
                "inputs": [
                    {
                        "name": s.name,
                        "shape": [1],
                        "datatype": datatype(s.dtype),
                        "data": ["some text" if s.dtype == "str" else 0],
                    }
                    for s in sig.inputs
                ]
            }
        spec = sig.inputs[0]
        return {
            "inputs": [
                {
                    "name": spec.name,
                    "shape": [1, sig.n_features],
                    "datatype": datatype(spec.dtype),
                    "data": [0] * sig.n_features,
                }
            ]
        }

    def __repr__(self) -> str:
        return f"Deployment({self.name!r} -> {self.target}, {self.status})\n  {self.curl()}"

    def _repr_html_(self) -> str:
        status = html.escape(self.status)
        return (
            f"<div><b>Deployment {html.escape(self.name)}</b> &rarr; "
            f"<code>{html.escape(self.target)}</code> "
            f"&middot; {status}<br>Endpoint: <code>{html.escape(self.url)}</code><br>"
            f"<pre>{html.escape(self.curl())}</pre></div>"
        )


def payload(X: Any) -> dict[str, Any]:
    """An ``/invocations`` body for an array, a DataFrame or a list of strings."""
    if hasattr(X, "to_dict") and hasattr(X, "columns"):
        split = X.to_dict(orient="split")
        return {
            "dataframe_split": {
                "columns": [str(c) for c in split["columns"]],
                "data": split["data"],
            }
        }
    if hasattr(X, "tolist"):
        X = X.tolist()
    return {"instances": list(X)}


def deploy(
    uri: str,
    *,
    name: str | None = None,
    max_batch_size: int = 64,
    max_latency_ms: float = 5.0,
    max_queue_rows: int | None = None,
    timeout: float = START_TIMEOUT_S,
    home: str | None = None,
) -> Deployment:
    """Serve *uri* (``iris@production``) as deployment *name*; wait until it is ready.

    Starts a detached local server for the registry home if none runs. An alias target
    follows the alias: moving it swaps the served version without downtime. Batching:
    at most *max_batch_size* rows per model call, a request waits at most
    *max_latency_ms* for batch mates, and more than *max_queue_rows* queued rows
    (default: the larger of 4096 and 16 batches) answer 503.
    """
    reg = default_registry(home)
    reg.get(uri)  # fail here, clearly, if the target does not exist
    name = validate_name(name or ModelRef.parse(uri).name, kind="deployment name")
    revision = uuid.uuid4().hex
    config = {
        "max_batch_size": int(max_batch_size),
        "max_latency_ms": float(max_latency_ms),
        "revision": revision,
    }
    if max_queue_rows is not None:
        config["max_queue_rows"] = int(max_queue_rows)
    config.update(with_pipeline_run(None))
    record = reg.put_deployment(name, uri, config)
    server = ensure_server(reg, timeout=timeout)
    deadline = time.monotonic() + timeout
    while True:
        entry = _reconcile(server, name, timeout)
        if entry is not None and entry.get("revision") == revision and entry["status"] == "ready":
            return _deployment(record, server, reg)
        if entry is not None and entry.get("failed_revision") == revision:
            raise DeploymentFailedError(
                f"The server could not load {uri!r} for deployment {name!r}: {entry['reason']}"
            )
        if time.monotonic() > deadline:
            raise ServerUnavailableError(
                f"Deployment {name!r} was not ready after {timeout:.0f} s; "
                f"see {reg.home / LOG_FILE}."
            )
        time.sleep(0.02)


def undeploy(name: str, *, home: str | None = None) -> DeploymentRecord:
    """Stop serving deployment *name* (the server unloads it)."""
    reg = default_registry(home)
    record = reg.delete_deployment(name)
    info = read_server_file(reg.home)
    if info is not None:
        _reconcile(info["url"], name)
    return record


def deployments(*, home: str | None = None) -> list[Deployment]:
    reg = default_registry(home)
    info = read_server_file(reg.home)
    server = info["url"] if info else ""
    return [_deployment(r, server, reg) for r in reg.list_deployments()]


def get_deployment(name: str, *, home: str | None = None) -> Deployment:
    reg = default_registry(home)
    info = read_server_file(reg.home)
    return _deployment(reg.get_deployment(name), info["url"] if info else "", reg)


def server_view(*, home: str | None = None, timeout: float = 2.0) -> dict[str, Any] | None:
    """The running server's URL, deployments (status, reason) and metrics text.

    None when no server runs for the home; `ServerUnavailableError` when one is recorded
    but cannot be read (not answering, or refusing our token).
    """
    info = read_server_file(default_registry(home).home)
    if info is None:
        return None
    url = info["url"]
    try:
        listed = _http().get(f"{url}/maas/deployments", headers=_headers(), timeout=timeout)
        metrics = _http().get(f"{url}/metrics", headers=_headers(), timeout=timeout)
    except Exception as exc:
        raise ServerUnavailableError(
            f"The model server at {url} did not answer: {type(exc).__name__}: {exc}"
        ) from exc
    for response in (listed, metrics):
        if response.status_code == 401:
            raise ServerUnavailableError(
                f"The model server at {url} refused our token (401): set {TOKEN_ENV} to "
                "the token it was started with."
            )
        if response.status_code != 200:
            raise ServerUnavailableError(
                f"The model server at {url} answered {response.status_code} to "
                f"{response.request.url.path}: {_error(response)}"
            )
    return {"url": url, "deployments": listed.json(), "metrics": metrics.text}


def ensure_server(
    reg: Registry, *, port: int | None = None, timeout: float = START_TIMEOUT_S
) -> str:
    """The URL of the server for *reg*'s home, starting a detached one if none answers."""
    info = read_server_file(reg.home)
    if info is not None and _alive(info["url"]):
        return info["url"]
    explicit = port is not None or PORT_ENV in os.environ
    port = port if port is not None else int(os.environ.get(PORT_ENV, DEFAULT_PORT))
    command = [
        sys.executable,
        "-m",
        "maas_nb.serving",
        "--home",
        str(reg.home),
        "--port",
        str(port),
    ]
    if not explicit:
        command.append("--port-fallback")  # another home's server may hold the default port
    log_path = reg.home / LOG_FILE
    pid = _spawn_detached(command, log_path)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            raise ServerUnavailableError(
                f"The model server exited while starting:\n{_tail(log_path)}"
            )
        info = read_server_file(reg.home)
        if info is not None and info.get("pid") == pid and _alive(info["url"]):
            return info["url"]
        time.sleep(0.02)
    raise ServerUnavailableError(
        f"The model server did not start within {timeout:.0f} s:\n{_tail(log_path)}"
    )


# Started through a short-lived launcher, the server is not our child: it outlives us
# (the notebook kernel) and is never left a zombie waiting for us to reap it.
_LAUNCHER = """
import subprocess, sys
log = open(sys.argv[1], "ab")
proc = subprocess.Popen(sys.argv[2:], stdin=subprocess.DEVNULL, stdout=log,
                        stderr=subprocess.STDOUT, start_new_session=True, close_fds=True)
print(proc.pid)
"""


def _spawn_detached(command: list[str], log_path: Path) -> int:
    launcher = subprocess.run(
        [sys.executable, "-S", "-c", _LAUNCHER, str(log_path), *command],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if launcher.returncode != 0:
        raise ServerUnavailableError(f"Could not start the model server: {launcher.stderr.strip()}")
    return int(launcher.stdout.strip())


def stop_server(*, home: str | None = None, timeout: float = 60.0) -> int | None:
    """SIGTERM the home's server and wait for it to exit; return its pid (None if none ran)."""
    reg_home = default_registry(home).home
    info = read_server_file(reg_home)
    if info is None:
        return None
    pid = int(info["pid"])
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not pid_alive(pid):
            return pid
        time.sleep(0.02)
    raise ServerUnavailableError(
        f"The model server (pid {pid}) did not stop within {timeout:.0f} s."
    )


def _deployment(record: DeploymentRecord, server: str, reg: Registry) -> Deployment:
    return Deployment(
        record.name, record.target, dict(record.config), record.created_at, server, str(reg.home)
    )


def _reconcile(server: str, name: str, timeout: float = START_TIMEOUT_S) -> dict[str, Any] | None:
    try:
        # The server answers once the loads it started have finished (or failed).
        response = _http().post(f"{server}/maas/reconcile", headers=_headers(), timeout=timeout + 5)
    except Exception as exc:
        raise ServerUnavailableError(
            f"The model server at {server} stopped answering: {exc}"
        ) from exc
    if response.status_code == 401:
        raise ServerUnavailableError(
            f"The model server at {server} wants a token: set {TOKEN_ENV}."
        )
    for entry in response.json():
        if entry["name"] == name:
            return entry
    return None


def _alive(url: str) -> bool:
    try:
        return _http().get(f"{url}/v2/health/live", timeout=2).status_code == 200
    except Exception:
        return False


_client = None


def _http():
    global _client
    if _client is None:
        import httpx

        _client = httpx.Client(timeout=30, trust_env=False)
        atexit.register(_client.close)
    return _client


def _headers() -> dict[str, str]:
    token = os.environ.get(TOKEN_ENV)
    return {"Authorization": f"Bearer {token}"} if token else {}


def _error(response: Any) -> str:
    """The message of an error response: ``{"error": ...}``, or MLflow's ``{"message": ...}``."""
    try:
        body = response.json()
        return body["error"] if "error" in body else body["message"]
    except Exception:
        return response.text[:500]


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


__all__ = [
    "Deployment",
    "DeploymentNotFoundError",
    "deploy",
    "deployments",
    "get_deployment",
    "server_view",
    "stop_server",
    "undeploy",
]
