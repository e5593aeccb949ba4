"""The replica side of the ``ray`` deploy target: a Ray Serve replica that runs this
server's own ASGI app (`create_app`) for one deployment.

Each replica opens the registry by the URIs the deploying notebook used, runs a
`ModelPool` that serves only its deployment (the row named for the server ``ray.NAME``),
and so loads the version by digest with the same trust rules, reconciles with the
registry every 0.5 s (an alias move or a redeploy with new batching needs no change to
the Serve application), and answers every protocol the local server does. Ray Serve
runs the app's lifespan, so the pool starts and stops with the replica; its startup
waits for the first load, so Serve (which routes to a replica as soon as it has started)
never sends a request to a replica still loading its model during a rolling update.

The settings (those URIs, which may hold a database password, and ``MAAS_TOKEN``) are
never a replica's argument: Serve keeps the arguments in its checkpoint and shows its
config. The deploying process puts them in the memory of a named, detached actor
(`SettingsHolder`, ``maas-settings-NAME`` in the namespace ``maas``); a replica is given
only that actor's name and asks it for the settings when it starts.

Ray is imported on first use: ``import maas_nb.serving`` stays free of it.
"""

from __future__ import annotations

import functools
import os
from typing import Any

from ..config import ARTIFACTS_URI_ENV, HOME_ENV, REGISTRY_URI_ENV, TRUSTED_TYPES_ENV
from .server import TOKEN_ENV

#: The prefix of the server name a Ray deployment's row records: ``ray.iris``.
SERVER_PREFIX = "ray."

#: What a replica takes from the deploying process's environment.
PASSED_ENV = (HOME_ENV, REGISTRY_URI_ENV, ARTIFACTS_URI_ENV, TRUSTED_TYPES_ENV, TOKEN_ENV)


def server_name(deployment: str) -> str:
    """The server name the row of Ray deployment *deployment* records."""
    return f"{SERVER_PREFIX}{deployment}"


#: The name of the one Serve deployment of each application (``maas-NAME``).
SERVE_DEPLOYMENT = "maas"

#: The Ray namespace of the settings actors.
SETTINGS_NAMESPACE = "maas"


def settings_actor_name(deployment: str) -> str:
    """The name of the actor holding the settings of Ray deployment *deployment*."""
    return f"maas-settings-{deployment}"


class SettingsHolder:
    """A Ray actor holding one deployment's settings in memory (never in a file), and
    the latest metrics snapshot of each of its replicas (`ray_replicas`)."""

    def __init__(self) -> None:
        self.settings: dict[str, str] = {}
        self.metrics: dict[str, dict[str, Any]] = {}

    def put(self, settings: dict[str, str]) -> None:
        self.settings = dict(settings)

    def get(self) -> dict[str, str]:
        return self.settings

    def publish(self, replica: str, snapshot: dict[str, Any]) -> None:
        self.metrics[replica] = snapshot

    def snapshots(self) -> dict[str, dict[str, Any]]:
        return self.metrics


def publish_settings(deployment: str, settings: dict[str, str]) -> str:
    """Put *settings* in the detached settings actor of *deployment* (created if need be,
    updated in place otherwise, so a restarting replica always finds it); its name."""
    import ray

    name = settings_actor_name(deployment)
    holder: Any = (
        ray.remote(SettingsHolder)
        .options(
            name=name,
            namespace=SETTINGS_NAMESPACE,
            lifetime="detached",
            get_if_exists=True,
            num_cpus=0,
        )
        .remote()
    )
    ray.get(holder.put.remote({k: v for k, v in settings.items() if k in PASSED_ENV}))
    return name


def settings_actor(actor: str) -> Any:
    """The handle of the settings actor named *actor*."""
    import ray

    return ray.get_actor(actor, namespace=SETTINGS_NAMESPACE)


def fetch_settings(holder: Any) -> dict[str, str]:
    """The settings the actor *holder* holds."""
    import ray

    return dict(ray.get(holder.get.remote()))


def forget_settings(deployment: str, timeout: float = 30.0) -> None:
    """Kill the settings actor of *deployment*, if there is one, and wait (up to
    *timeout* seconds) until its name is free: a deploy right after must create a new
    one, not find the dying one."""
    import time

    import ray

    try:
        holder = ray.get_actor(settings_actor_name(deployment), namespace=SETTINGS_NAMESPACE)
    except ValueError:
        return  # none (already gone)
    ray.kill(holder, no_restart=True)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            ray.get_actor(settings_actor_name(deployment), namespace=SETTINGS_NAMESPACE)
        except ValueError:
            return
        time.sleep(0.05)


def build_app(deployment: str, env: dict[str, str], holder: Any) -> Any:
    """The ASGI app of a replica of *deployment*, on the registry *env* opens, meeting
    the other replicas at the actor *holder*."""
    from ..registry import Registry
    from .app import create_app
    from .ray_replicas import ReplicaGroup

    os.environ.update({k: v for k, v in env.items() if k in PASSED_ENV})
    registry = Registry(env.get(HOME_ENV) or None)
    return create_app(
        registry,
        name=server_name(deployment),
        deployment=deployment,
        token=env.get(TOKEN_ENV) or None,
        settle=True,  # Serve routes to a replica once it started: have the model by then
        group=ReplicaGroup(holder),
    )


class MaasReplica:
    """One replica: its ASGI app is built on the replica, by `build_app`, with the
    settings the actor named *settings* holds."""

    def __init__(self, deployment: str, settings: str) -> None:
        self.deployment = deployment
        self.holder = settings_actor(settings)
        self.env = fetch_settings(self.holder)

    def __serve_build_asgi_app__(self) -> Any:
        return build_app(self.deployment, self.env, self.holder)


@functools.cache
def replica_class() -> Any:
    """`MaasReplica` wrapped by ``serve.ingress`` (imports Ray)."""
    from ray import serve

    return serve.ingress()(MaasReplica)


def application(deployment: str, settings: str, options: dict[str, Any]) -> Any:
    """The Ray Serve application serving *deployment*, with the ``serve.deployment``
    *options* (the replica count or autoscaling, actor options), whose replicas take
    their settings from the actor named *settings* (`publish_settings`)."""
    from ray import serve

    wrapped: Any = serve.deployment(
        replica_class(), name=SERVE_DEPLOYMENT, max_ongoing_requests=256, **options
    )
    return wrapped.bind(deployment, settings)
