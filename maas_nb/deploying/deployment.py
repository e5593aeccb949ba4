"""The `Deployment` handle: a deployed model's endpoint, status and predictions.

Making or printing one never calls the network: ``repr`` shows the endpoint and a curl
line; `status`, `describe` and `predict` ask the server.
"""

from __future__ import annotations

import html
import json
import os
import shlex
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ..api import registry as default_registry
from ..exceptions import PredictionError, ServerUnavailableError
from ..registry import DeploymentRecord
from ..serving.server import TOKEN_ENV
from . import remote


@dataclass(frozen=True)
class Deployment:
    """A deployed model: ``.url``, ``.status``, ``.predict(X)``.

    ``target`` is the model it serves (``iris@production``); ``deploy_target`` is where
    it runs (``local``, see `maas_nb.deploying.targets`); ``server_name`` the name of the
    server meant to serve it (None: any server on the registry). ``elsewhere``: that
    server is not the deploy target's, whose URL is not known here (``server`` is "").
    """

    name: str
    target: str
    config: dict[str, Any]
    created_at: datetime
    server: str  # the server's base URL; "" when no server runs
    home: str
    deploy_target: str = "local"
    created_by: str = ""  # who deployed it ('' before registry schema 6)
    server_name: str | None = None
    elsewhere: bool = False

    @classmethod
    def from_record(
        cls,
        record: DeploymentRecord,
        server: str,
        home: str,
        deploy_target: str,
        own: str | None = None,
    ) -> Deployment:
        """The handle of the deployments-table row *record*, served at *server* if the
        row is for the server called *own* (None: unknown, taken as ours) or any server."""
        elsewhere = None not in (record.server, own) and record.server != own
        return cls(
            record.name,
            record.target,
            dict(record.config),
            record.created_at,
            "" if elsewhere else server,
            home,
            deploy_target,
            record.created_by,
            record.server,
            elsewhere,
        )

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
        if self.elsewhere:
            return {"status": "unknown", "reason": self._elsewhere()}
        if not self.server:
            return {"status": "stopped"}
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

        if self.elsewhere:
            raise ServerUnavailableError(f"{self._elsewhere()}.")
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

    def _elsewhere(self) -> str:
        return (
            f"Deployment {self.name!r} is served by the server {self.server_name!r}, not by "
            f"the deploy target {self.deploy_target!r}: call it there, with target= its URL "
            "(get_deployment(name, target='http://host:port'))"
        )

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
        from ..serving.oip_tensors import datatype

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
        # No status here: printing a handle must not wait on a server that may be gone.
        if self.elsewhere:
            return f"Deployment({self.name!r} -> {self.target}, on server {self.server_name!r})"
        if not self.server:
            return (
                f"Deployment({self.name!r} -> {self.target}, no server running: "
                "deploy it again to start one)"
            )
        return f"Deployment({self.name!r} -> {self.target}, {self.url})\n  {self.curl()}"

    def _repr_html_(self) -> str:
        if self.elsewhere:
            return (
                f"<div><b>Deployment {html.escape(self.name)}</b> &rarr; "
                f"<code>{html.escape(self.target)}</code> &middot; on server "
                f"<code>{html.escape(str(self.server_name))}</code></div>"
            )
        if not self.server:
            return (
                f"<div><b>Deployment {html.escape(self.name)}</b> &rarr; "
                f"<code>{html.escape(self.target)}</code> &middot; no server running</div>"
            )
        return (
            f"<div><b>Deployment {html.escape(self.name)}</b> &rarr; "
            f"<code>{html.escape(self.target)}</code><br>"
            f"Endpoint: <code>{html.escape(self.url)}</code><br>"
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
