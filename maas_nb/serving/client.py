"""Deploying from Python: write the deployments table, make sure a server runs, wait for it.

The server is a detached process (it outlives the notebook kernel that started it); its
pid and address live in ``<home>/server.json``. Predictions go over HTTP.
"""

from __future__ import annotations

import html
import json
import os
import shlex
import signal
import subprocess
import sys
import time
import uuid
import warnings
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
from . import remote
from .limits import ConnectionLimits
from .remote import START_TIMEOUT_S, server_states, server_view
from .server import DEFAULT_PORT, PORT_ENV, TOKEN_ENV, read_server_file

LOG_FILE = "server.log"


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
        """``ready``, ``loading``, ``failed``, ``stopped`` (no server) or ``unknown`` (the
        server would not say: see `describe`'s ``reason``)."""
        return self.describe().get("status", "stopped")

    def describe(self) -> dict[str, Any]:
        """The server's view of this deployment (status, version, reason)."""
        try:
            states = remote.states(self.server)
        except ServerUnavailableError as exc:
            return {"status": "unknown", "reason": str(exc)}
        except Exception:
            return {"status": "stopped"}
        return states.get(self.name, {"status": "stopped"})

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
        response = remote.http().post(
            f"{self.server}/models/{self.name}/invocations",
            json=body,
            headers=remote.auth_headers(),
        )
        if response.status_code != 200:
            reason = remote.error_text(response)
            raise PredictionError(
                f"Deployment {self.name!r} answered {response.status_code}: {reason}"
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
    limits: ConnectionLimits | None = None,
) -> Deployment:
    """Serve *uri* (``iris@production``) as deployment *name*; wait until it is ready.

    Starts a detached local server for the registry home if none runs, with *limits*
    (`maas_nb.serving.ConnectionLimits`: header and body timeouts, idle keep-alive, the
    connection cap) if given. An alias target follows the alias: moving it swaps the
    served version without downtime. Batching: at most *max_batch_size* rows per model
    call, a request waits at most *max_latency_ms* for batch mates, and more than
    *max_queue_rows* queued rows (default: the larger of 4096 and 16 batches) answer 503.
    """
    reg = default_registry(home)
    reg.get(uri)  # fail here, clearly, if the target does not exist
    name = validate_name(name or ModelRef.parse(uri).name, kind="deployment name")
    server = ensure_server(reg, timeout=timeout, limits=limits)
    remote.check_access(server)  # a server that refuses us must not get a deployment it then serves
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
    deadline = time.monotonic() + timeout
    while True:
        entry = remote.reconcile(server, name, timeout)
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
    reg.get_deployment(name)  # fail here, clearly, if there is no such deployment
    info = read_server_file(reg.home)
    if info is not None:
        remote.check_access(info["url"])
    record = reg.delete_deployment(name)
    if info is not None:
        remote.reconcile(info["url"], name)
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


def ensure_server(
    reg: Registry,
    *,
    port: int | None = None,
    timeout: float = START_TIMEOUT_S,
    limits: ConnectionLimits | None = None,
) -> str:
    """The URL of the server for *reg*'s home, starting a detached one if none answers.

    A server started here gets *limits*; one already running keeps its own (a warning
    says so when they differ from *limits*).
    """
    info = read_server_file(reg.home)
    if info is not None and remote.alive(info["url"]):
        if limits is not None and info.get("limits") != limits.as_dict():
            warnings.warn(
                f"The model server at {info['url']} already runs with other connection "
                f"limits ({info.get('limits')}); it keeps them. To apply {limits}, stop it "
                "first (maas server stop).",
                stacklevel=3,
            )
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
    if limits is not None:
        command += limits.as_args()
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
        if info is not None and info.get("pid") == pid and remote.alive(info["url"]):
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


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


__all__ = [
    "ConnectionLimits",
    "Deployment",
    "DeploymentNotFoundError",
    "deploy",
    "deployments",
    "get_deployment",
    "server_states",
    "server_view",
    "stop_server",
    "undeploy",
]
