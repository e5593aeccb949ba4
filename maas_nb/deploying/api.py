"""Deploying from Python: ``deploy``, ``undeploy``, ``deployments``, ``predict`` and the
server's state, on the deploy target chosen by ``target=`` (see `targets`)."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from ..api import registry as default_registry
from ..api import with_pipeline_run
from ..exceptions import ConfigurationError, DeploymentNotFoundError
from ..registry import DeploymentRecord
from ..registry.uri import ModelRef, validate_name
from ..serving.limits import ConnectionLimits
from ..serving.prediction_log import LogSettings
from ..serving.server import check_workers
from . import batching, scaling, targets
from .deployment import Deployment
from .remote import START_TIMEOUT_S


def deploy(
    uri: str,
    *,
    name: str | None = None,
    max_batch_size: int = 64,
    max_latency_ms: float = 5.0,
    max_queue_rows: int | None = None,
    timeout: float = START_TIMEOUT_S,
    home: str | None = None,
    limits: ConnectionLimits | None = None,
    target: str | None = None,
    workers: int | None = None,
    replicas: int | None = None,
    min_replicas: int | None = None,
    max_replicas: int | None = None,
    target_ongoing_requests: float | None = None,
    upscale_delay_s: float | None = None,
    downscale_delay_s: float | None = None,
    autoscaling_config: dict[str, Any] | None = None,
    log_sample: float | None = None,
    log_max_bytes: int | None = None,
) -> Deployment:
    """Serve *uri* (``iris@production``) as deployment *name*; wait until it is ready.

    *target* says where (``local``, the default, or ``$MAAS_DEPLOY_TARGET``; or the URL
    of a named server reading the same registry, ``http://host:8765``): the local
    target starts a detached server for the registry home if none runs, with *limits*
    (`maas_nb.serving.ConnectionLimits`: header and body timeouts, idle keep-alive, the
    connection cap) if given, and *workers* server processes sharing its port (default 1;
    each loads every deployment, and ``/metrics`` sums them). An alias target follows the
    alias: moving it swaps the served version without downtime, on every worker.
    *replicas* (the ``ray`` target only, default 1) is the number of Ray Serve replicas;
    or, to autoscale, *min_replicas* to *max_replicas* replicas, each kept at about
    *target_ongoing_requests* requests in flight (default 2), adding one after
    *upscale_delay_s* (30) of higher load and removing one after *downscale_delay_s* (600)
    of lower (see `maas_nb.deploying.scaling`); *autoscaling_config* passes any other
    field of Ray Serve's ``AutoscalingConfig`` (``look_back_period_s``...) on as given.
    Batching: at most *max_batch_size* rows per model call, a request waits at most
    *max_latency_ms* for batch mates, and more than *max_queue_rows* queued rows
    (default: the larger of 4096 and 16 batches) answer 503.
    *log_sample* (0.01: one request in a hundred) turns on the prediction log, kept in at
    most *log_max_bytes* (default 64 MiB) beside the server's registry home and read with
    `maas_nb.prediction_log` and `maas_nb.drift`.
    """
    config: dict[str, Any] = batching.settings(max_batch_size, max_latency_ms, max_queue_rows)
    log_config = log_settings(log_sample, log_max_bytes)
    if log_config:
        config["log"] = log_config
    if workers is not None:
        check_workers(workers)
    config["revision"] = uuid.uuid4().hex
    where = targets.get(target)
    scale = scaling.plan(
        where.spec,
        getattr(where, "scales", False),
        replicas=replicas,
        min_replicas=min_replicas,
        max_replicas=max_replicas,
        target_ongoing_requests=target_ongoing_requests,
        upscale_delay_s=upscale_delay_s,
        downscale_delay_s=downscale_delay_s,
        more=autoscaling_config,
    )
    extra = {"scaling": scale} if scale else {}
    reg = default_registry(home)
    reg.get(uri)  # fail here, clearly, if the model does not exist
    name = validate_name(name or ModelRef.parse(uri).name, kind="deployment name")
    config.update(with_pipeline_run(None))
    with contextlib.suppress(DeploymentNotFoundError):
        previous = reg.get_deployment(name).config.get("generation")
        if previous is not None:
            # One version again, replacing a split: a change of the traffic like any other.
            config["generation"] = int(previous) + 1
    return where.deploy(
        reg, name, uri, config, timeout=timeout, limits=limits, workers=workers, **extra
    )


def _server(where: targets.DeployTarget, reg: Any, name: str) -> str:
    """The base URL deployment *name* answers under on *where*."""
    per_deployment = getattr(where, "deployment_url", None)
    return per_deployment(reg, name) if per_deployment is not None else where.server_url(reg)


def _handle(record: DeploymentRecord, where: targets.DeployTarget, reg: Any) -> Deployment:
    """The handle of row *record*: a row that a target serving each deployment at its own
    URL made (``ray``) records that target and URL, and is shown with them, whichever
    target *where* the caller named; any other row is shown as *where* serves it."""
    spec, url = record.config.get(targets.OWN_TARGET), record.config.get(targets.OWN_URL)
    if spec and url:
        return Deployment.from_record(record, url, str(reg.home), spec, record.server)
    own = targets.server_name(where, reg)
    server = _server(where, reg, record.name)
    return Deployment.from_record(record, server, str(reg.home), where.spec, own)


def undeploy(name: str, *, home: str | None = None, target: str | None = None) -> DeploymentRecord:
    """Stop serving deployment *name* (its server unloads it). A deployment made on a
    target that runs it by itself (``ray``) is stopped there when *target* is not given."""
    reg = default_registry(home)
    if target is None:
        target = reg.get_deployment(name).config.get(targets.OWN_TARGET)
    return targets.get(target).undeploy(reg, name)


def deployments(
    *, home: str | None = None, target: str | None = None, user: str | None = None
) -> list[Deployment]:
    """Every deployment of the registry at *home* (made by *user*), for every server, as
    handles (no network call for the local target; a server named by URL is asked its
    name)."""
    where = targets.get(target)
    reg = default_registry(home)
    return [_handle(r, where, reg) for r in reg.list_deployments(user=user)]


def get_deployment(name: str, *, home: str | None = None, target: str | None = None) -> Deployment:
    """The handle of deployment *name* (no network call for the local target)."""
    reg = default_registry(home)
    return _handle(reg.get_deployment(name), targets.get(target), reg)


def predict(deployment: str, X: Any) -> Any:
    """Predict *X* with deployment *deployment* over HTTP (``%maas predict``)."""
    return get_deployment(deployment).predict(X)


def stop_server(
    *, home: str | None = None, timeout: float = 60.0, target: str | None = None
) -> int | None:
    """Stop the server of the registry at *home* and wait for it to exit; return its pid
    (None if none ran). Its deployments stay in the registry: deploying starts it again."""
    return targets.get(target).stop(default_registry(home), timeout=timeout)


def server_url(*, home: str | None = None, target: str | None = None) -> str | None:
    """The base URL of the server of the registry at *home*; None when none runs."""
    return targets.get(target).server_url(default_registry(home)) or None


def server_view(
    *, home: str | None = None, timeout: float = 2.0, target: str | None = None
) -> dict[str, Any] | None:
    """The running server's URL, deployments (status, reason) and metrics text.

    None when no server runs for the home; `ServerUnavailableError` when one is recorded
    but cannot be read (not answering, or refusing our token).
    """
    return targets.get(target).view(default_registry(home), timeout=timeout)


def server_states(
    *, home: str | None = None, target: str | None = None
) -> dict[str, dict[str, Any]] | None:
    """The deploy target's view of each deployment by name (status, reason: for the
    ``ray`` target with Ray Serve's health and replica counts); None when no server runs.

    `ServerUnavailableError` when one is recorded but cannot be read.
    """
    view = targets.get(target).view(default_registry(home), timeout=10)
    return {entry["name"]: entry for entry in view["deployments"]} if view else None


def log_settings(sample: float | None, max_bytes: int | None) -> dict[str, Any] | None:
    """A deployment's ``log`` config, checked (`ConfigurationError`); None: not logged."""
    if sample is None and max_bytes is None:
        return None
    value: dict[str, Any] = {"sample": 0.0 if sample is None else sample}
    if max_bytes is not None:
        value["max_bytes"] = max_bytes
    try:
        LogSettings.parse(value)
    except ValueError as exc:
        raise ConfigurationError(str(exc)) from exc
    return value
