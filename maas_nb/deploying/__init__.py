"""Deploying: put models on a deploy target and call them there.

The client side of serving: `deploy`/`undeploy` write the registry's deployments table
and make the target's server serve it; a `Deployment` is the handle of one deployed
model. Where deployments run is a `DeployTarget` chosen by name or URI (``local``, the
default; a named server's URL, ``http://host:8765``; ``$MAAS_DEPLOY_TARGET``;
``deploy(..., target=...)``); `targets` holds the table of schemes. `live_view` reads
every target in use at once (for the listing and the panel). The server itself lives in
`maas_nb.serving` and imports nothing from here.
"""

from __future__ import annotations

from . import targets
from .api import (
    deploy,
    deployments,
    get_deployment,
    predict,
    server_states,
    server_url,
    server_view,
    stop_server,
    undeploy,
)
from .deployment import Deployment
from .experiments import Experiment, experiment, feedback
from .live import live_view
from .local import LocalTarget
from .promotion import promote, rollback
from .ray_target import RayTarget
from .server_target import ServerTarget
from .splits import traffic
from .targets import DeployTarget, register

register("local", LocalTarget)
register("http", ServerTarget)
register("https", ServerTarget)
register("ray", RayTarget)

__all__ = [
    "DeployTarget",
    "Deployment",
    "Experiment",
    "LocalTarget",
    "RayTarget",
    "ServerTarget",
    "deploy",
    "deployments",
    "experiment",
    "feedback",
    "get_deployment",
    "live_view",
    "predict",
    "promote",
    "register",
    "rollback",
    "server_states",
    "server_url",
    "server_view",
    "stop_server",
    "targets",
    "traffic",
    "undeploy",
]
