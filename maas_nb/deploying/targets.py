"""Deploy targets: where a deployment runs, chosen by name or URI.

A target is named by a scheme, alone or as a URI: ``local`` (the default: one detached
server process per registry home on this machine), ``http://host:8765`` (a named server
that runs elsewhere on the same registry), later ``ray://head:10001``. The
choice is, first to last: the ``target=`` argument, ``$MAAS_DEPLOY_TARGET``, ``local``.

Targets are a small table of schemes, the way papermill keeps its engines: `register`
adds a factory (called with the whole target string), `get` finds one, and a scheme not
in the table is looked up once in the ``maas_nb.deploy_targets`` entry points, so a
package can add a target without any change here. The callers (`maas_nb.deploy` and the
rest) only ever talk to the `DeployTarget` interface.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol

from ..exceptions import ConfigurationError, ConflictError, DeploymentNotFoundError

if TYPE_CHECKING:
    from ..registry import DeploymentRecord, Registry
    from ..serving.limits import ConnectionLimits
    from .deployment import Deployment

TARGET_ENV = "MAAS_DEPLOY_TARGET"
DEFAULT_TARGET = "local"
ENTRY_POINT_GROUP = "maas_nb.deploy_targets"

#: The config keys under which a target that serves each deployment at its own URL
#: (``ray``) records itself and that URL, so any caller finds the deployment there.
OWN_TARGET = "deploy_target"
OWN_URL = "url"


class DeployTarget(Protocol):
    """Where deployments run: puts them in the registry's deployments table and makes
    its servers serve them.

    ``spec`` is the name or URI the target was chosen by (``local``, ``ray://head:10001``).
    A target may also say its server's name, ``server_name(reg) -> str | None``, which
    deployments made for that server record (see `server_name`).
    """

    spec: str

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
        """Serve *uri* as deployment *name* with *config*; return once it is ready.

        *limits* and *workers* (server processes) apply to a server this starts."""
        ...

    def undeploy(self, reg: Registry, name: str) -> DeploymentRecord:
        """Stop serving deployment *name* and remove it from the deployments table."""
        ...

    def server_url(self, reg: Registry) -> str:
        """The base URL of the server for *reg*'s deployments; ``""`` when none runs."""
        ...

    def view(self, reg: Registry, *, timeout: float) -> dict[str, Any] | None:
        """The server's URL, deployments (status, reason) and metrics text; None if none
        runs. `ServerUnavailableError` when one runs but cannot be read."""
        ...

    def stop(self, reg: Registry, *, timeout: float) -> int | None:
        """Stop the server for *reg*; its pid (None when none ran)."""
        ...


Factory = Callable[[str], DeployTarget]

_factories: dict[str, Factory] = {}


def register(scheme: str, factory: Factory) -> None:
    """Make targets named *scheme* (``scheme`` or ``scheme://...``) come from *factory*."""
    _factories[scheme] = factory


def scheme_of(spec: str) -> str:
    """The scheme *spec* names: ``ray`` for ``ray://head:10001``, ``local`` for ``local``."""
    return spec.split("://", 1)[0] if "://" in spec else spec


def get(spec: str | None = None) -> DeployTarget:
    """The deploy target *spec* names (default ``$MAAS_DEPLOY_TARGET``, else ``local``)."""
    source = "target="
    if spec is None:
        spec, source = os.environ.get(TARGET_ENV) or DEFAULT_TARGET, f"${TARGET_ENV}"
    scheme = scheme_of(spec.strip())
    factory = _factories.get(scheme) or _from_entry_points(scheme)
    if factory is None:
        known = ", ".join(sorted(_factories))
        raise ConfigurationError(
            f"Unknown deploy target {spec!r} (from {source}); known targets: {known}. "
            f"Name one of them (a name like 'local', a URI like 'local://', or a server's "
            f"URL like 'http://host:8765'), or install the package that provides {scheme!r}."
        )
    return factory(spec.strip())


def server_name(target: DeployTarget, reg: Registry) -> str | None:
    """The name of *target*'s server (None: unknown, or a target that does not say)."""
    method = getattr(target, "server_name", None)
    return method(reg) if method is not None else None


def check_free(reg: Registry, name: str, server: str | None) -> None:
    """Raise `ConflictError` if deployment *name* is another server's than *server*: a
    deploy must not take someone's deployment away from their server by its name."""
    try:
        owner = reg.get_deployment(name).server
    except DeploymentNotFoundError:
        return
    if owner is not None and owner != server:
        raise ConflictError(
            f"Deployment {name!r} is served by the server {owner!r}, not by this target's "
            f"({server!r}). Deploy under another name (--name NAME; name= in Python), or "
            f"undeploy it first (maas undeploy {name}) to move it here."
        )


def known() -> list[str]:
    """The schemes of the registered targets, sorted."""
    return sorted(_factories)


def _from_entry_points(scheme: str) -> Factory | None:
    from importlib.metadata import entry_points

    for point in entry_points(group=ENTRY_POINT_GROUP):
        if point.name == scheme:
            factory: Factory = point.load()
            register(scheme, factory)
            return factory
    return None
