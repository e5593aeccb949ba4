"""The ``local`` deploy target: one detached server process per registry home.

Deploying writes the registry's deployments table, naming the home's server (started
if none runs) as the one to serve it, then asks that server to reconcile, and waits for
this deployment's revision to be ready (on every worker of a server run with several).
The server is called `maas_nb.config.server_name` (``$MAAS_SERVER_NAME``, else
``<user>-<hostname>``), so the local servers of two people on one shared registry never
serve each other's deployments. On the embedded default (the home's own database, which
no other server reads) the rows name no server, exactly as before servers had names.
"""

from __future__ import annotations

from typing import Any

from ..config import REGISTRY_URI_ENV
from ..config import server_name as default_server_name
from ..registry import DeploymentRecord, Registry
from ..serving.limits import ConnectionLimits
from ..serving.server import read_server_file
from . import process, remote, targets
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
        # The name the server runs with (none from a server older than names: any server).
        server_name = (read_server_file(reg.home) or {}).get("name")
        if not reg.environment()[REGISTRY_URI_ENV]:
            # The home's own database: only this home's server reads it, so its rows name
            # none, as before names (a new $MAAS_USER or hostname must not orphan them).
            server_name = None
        targets.check_free(reg, name, server_name)
        record = reg.put_deployment(name, uri, config, server=server_name)
        log = str(reg.home / process.LOG_FILE)
        remote.wait_ready(server, name, uri, config["revision"], timeout=timeout, log=log)
        return Deployment.from_record(record, server, str(reg.home), self.spec)

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

    def server_name(self, reg: Registry) -> str | None:
        """The name of the home's server; with none running, the one it would start with."""
        info = read_server_file(reg.home)
        return info.get("name") if info else default_server_name()

    def view(self, reg: Registry, *, timeout: float) -> dict[str, Any] | None:
        server = self.server_url(reg)
        return remote.view(server, timeout=timeout) if server else None

    def stop(self, reg: Registry, *, timeout: float) -> int | None:
        return process.stop_server(reg.home, timeout=timeout)

    def __repr__(self) -> str:
        return f"LocalTarget({self.spec!r})"
