"""Serving: one multi-model HTTP server over the registry's deployments table.

Protocols: Open Inference Protocol v2, TF Serving REST and MLflow-style ``/invocations``,
with adaptive batching. The server only reads the registry; deploying (writing the
deployments table, starting this server, calling it) is `maas_nb.deploying`, which this
package never imports. Importing it is cheap: the server's libraries load only when a
server starts.
"""

from __future__ import annotations

from .limits import ConnectionLimits

__all__ = ["ConnectionLimits"]
