"""The ``local`` deploy target: one detached server process per registry home.

Deploying writes the registry's deployments table, then asks the home's server (started
if none runs) to reconcile, and waits for this deployment's revision to be ready (on
every worker of a server run with several).
"""

from __future__ import annotations

import time
from typing import Any

from ..exceptions import DeploymentFailedError, ServerUnavailableError
from ..registry import DeploymentRecord, Registry
from ..serving.limits import ConnectionLimits
from ..serving.server import read_server_file
from ..serving.status import READY
from . import process, remote
from .deployment import Deployment


class LocalTarget:
    """Deployments served by the home's own server on this machine (``local``)."""

    def __init__(self, spec: str = "local") -> None:
        self.spec = spec

    def deploy(
        self,
        reg: Registry,
        name: str,
        uri: str,
        config: dict[str, Any],
        *,
        timeout: float,
        limits: ConnectionLimits | None,
        workers: int | None = None,
    ) -> Deployment:
        server = process.ensure_server(reg, timeout=timeout, limits=limits, workers=workers)
        remote.check_access(server)  # a server that refuses us must not get a deployment
        record = reg.put_deployment(name, uri, config)
        revision = config["revision"]
        deadline = time.monotonic() + timeout
        while True:
            entry = remote.reconcile(server, name, timeout) or {}
            if entry.get("revision") == revision and entry["status"] == READY:
                return Deployment.from_record(record, server, str(reg.home), self.spec)
            if entry.get("failed_revision") == revision:
                raise DeploymentFailedError(
                    f"The server could not load {uri!r} for deployment {name!r}: {entry['reason']}"
                )
            if time.monotonic() > deadline:
                raise ServerUnavailableError(
                    f"Deployment {name!r} was not ready after {timeout:.0f} s; "
                    f"see {reg.home / process.LOG_FILE}."
                )
            time.sleep(0.02)

    def undeploy(self, reg: Registry, name: str) -> DeploymentRecord:
        reg.get_deployment(name)  # fail here, clearly, if there is no such deployment
        server = self.server_url(reg)
        if server:
            remote.check_access(server)
        record = reg.delete_deployment(name)
        if server:
            remote.reconcile(server, name)
        return record

    def server_url(self, reg: Registry) -> str:
        info = read_server_file(reg.home)
        return str(info["url"]) if info else ""

    def view(self, reg: Registry, *, timeout: float) -> dict[str, Any] | None:
        server = self.server_url(reg)
        return remote.view(server, timeout=timeout) if server else None

    def stop(self, reg: Registry, *, timeout: float) -> int | None:
        return process.stop_server(reg.home, timeout=timeout)

    def __repr__(self) -> str:
        return f"LocalTarget({self.spec!r})"
