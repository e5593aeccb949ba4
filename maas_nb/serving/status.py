"""The states of a deployment on the server, as ``/maas/deployments`` reports them.

A client adds two of its own: ``stopped`` (no server serves it) and ``unknown`` (the
server would not say).
"""

from __future__ import annotations

LOADING = "loading"
READY = "ready"
FAILED = "failed"
