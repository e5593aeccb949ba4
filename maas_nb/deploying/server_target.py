"""The ``http://`` and ``https://`` deploy targets: a named model server reachable by URL.

Such a server runs elsewhere (``maas serve --registry URI --artifacts URI --name team-a
--host 0.0.0.0`` on another machine, with a token) and reads the same registry as the
notebook. Deploying asks it its name (``GET /maas/server``, with ``$MAAS_TOKEN``), writes
the deployments table's row for that name, asks it to reconcile and waits until it
serves the deployment, as the ``local`` target does; it never starts or stops the server.
"""

from __future__ import annotations

import contextlib
import warnings
from typing import Any
from urllib.parse import urlsplit

from ..exceptions import ConfigurationError, ServerUnavailableError
from ..registry import DeploymentRecord, Registry
from ..serving.limits import ConnectionLimits
from . import remote, targets
from .deployment import Deployment


class ServerTarget:
    """Deployments served by the model server at the URL *spec* (``http://host:8765``)."""

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.url = spec.rstrip("/")
        if not urlsplit(spec).netloc:
            raise ConfigurationError(
                f"Deploy target {spec!r} names no server: give its URL, such as "
                "'http://host:8765' (what 'maas serve' printed where it runs)."
            )
        self._name: tuple[str | None] | None = None

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
        if limits is not None or workers is not None:
            warnings.warn(
                f"The model server at {self.url} runs with its own connection limits and "
                "workers: deploy does not start it, so those options do nothing here.",
                stacklevel=4,
            )
        server = self.server_name(reg, strict=True)  # refused or not answering: no change
        targets.check_free(reg, name, server)
        record = reg.put_deployment(name, uri, config, server=server)
        where = f"the log of the server at {self.url}"
        remote.wait_ready(self.url, name, uri, config["revision"], timeout=timeout, log=where)
        return Deployment.from_record(record, self.url, str(reg.home), self.spec)

    def undeploy(self, reg: Registry, name: str) -> DeploymentRecord:
        reg.get_deployment(name)  # fail here, clearly, if there is no such deployment
        remote.check_access(self.url)
        record = reg.delete_deployment(name)
        with contextlib.suppress(ServerUnavailableError):  # else it unloads at its next poll
            remote.reconcile(self.url, name)
        return record

    def server_url(self, reg: Registry) -> str:
        return self.url

    def server_name(self, reg: Registry, *, strict: bool = False) -> str | None:
        """The server's name, asked once; None when it does not answer (*strict*: raise)."""
        if self._name is None:
            try:
                self._name = (remote.server_name(self.url),)
            except Exception:
                if strict:
                    raise
                return None
        return self._name[0]

    def view(self, reg: Registry, *, timeout: float) -> dict[str, Any] | None:
        return remote.view(self.url, timeout=timeout)

    def stop(self, reg: Registry, *, timeout: float) -> int | None:
        raise ConfigurationError(
            f"The model server at {self.url} runs elsewhere: deploy does not start it, so it "
            "cannot stop it either. Stop it where it runs (SIGTERM, or maas server stop "
            "on that machine)."
        )

    def __repr__(self) -> str:
        return f"ServerTarget({self.spec!r})"
