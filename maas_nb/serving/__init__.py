"""Serving: one multi-model HTTP server over the registry's deployments table.

Protocols: Open Inference Protocol v2, TF Serving REST and MLflow-style ``/invocations``,
with adaptive batching. Importing this package is cheap: the server's libraries load
only when a server starts.
"""

from __future__ import annotations

from .client import Deployment, deploy, deployments, get_deployment, stop_server, undeploy
from .limits import ConnectionLimits

__all__ = [
    "ConnectionLimits",
    "Deployment",
    "deploy",
    "deployments",
    "get_deployment",
    "stop_server",
    "undeploy",
]
