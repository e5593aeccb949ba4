"""Ray Serve on the session's Ray cluster (`tests.ray_cluster`), for the ``ray`` deploy
target's tests: its HTTP proxy on a free 127.0.0.1 port, ``$RAY_ADDRESS`` and
``$MAAS_RAY_HTTP_PORT`` naming the cluster and that port for the session (restored at the
end).

The Serve controller and proxy are detached actors: they run on while no driver is
connected. So this fixture and `ray_driver` leave this process disconnected between the
tests that use Serve (``ray.shutdown()``), and the sweep tests, which refuse to start when
the process is already connected and disconnect when they end, run before or after them
in the same session.
"""

from __future__ import annotations

import logging
import os
import socket
from collections.abc import Iterator

import pytest

from tests.ray_cluster import RayCluster


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def connect(cluster: RayCluster) -> None:
    """Connect this process to *cluster* as a driver, unless it is connected. A connect
    that finds the GCS too slow to answer (Ray then fails an assertion on its key-value
    client: seen on a busy machine) is undone and tried again, up to three times."""
    import ray

    for attempt in range(3):
        if ray.is_initialized():
            return
        try:
            ray.init(
                address=cluster.address,
                logging_level=logging.WARNING,
                log_to_driver=False,
                configure_logging=False,
            )
        except AssertionError:
            ray.shutdown()
            if attempt == 2:
                raise


@pytest.fixture(scope="session")
def ray_serve(ray_cluster: RayCluster) -> Iterator[str]:
    """Serve's proxy URL (``http://127.0.0.1:PORT``); Serve runs on `ray_cluster`."""
    import ray
    from ray import serve

    port = _free_port()
    url = f"http://127.0.0.1:{port}"
    saved = {k: os.environ.get(k) for k in ("RAY_ADDRESS", "MAAS_RAY_HTTP_PORT")}
    os.environ.update(RAY_ADDRESS=ray_cluster.address, MAAS_RAY_HTTP_PORT=str(port))
    try:
        connect(ray_cluster)
        # (The proxy answers once an application runs: the deploys wait for theirs.)
        serve.start(http_options={"host": "127.0.0.1", "port": port})
        ray.shutdown()
        yield url
    finally:
        try:
            connect(ray_cluster)
            serve.shutdown()
        finally:
            ray.shutdown()
            for key, value in saved.items():
                if value is None:
                    os.environ.pop(key, None)
                else:
                    os.environ[key] = value


@pytest.fixture
def ray_driver(ray_serve: str, ray_cluster: RayCluster) -> Iterator[str]:
    """This process connected to the cluster for one test (disconnected after it); the
    proxy URL."""
    import ray

    connect(ray_cluster)
    try:
        yield ray_serve
    finally:
        ray.shutdown()


@pytest.fixture
def no_apps_left(ray_driver: str) -> Iterator[None]:
    """The test ends with no maas application (and no settings actor) on the shared Serve."""
    from ray import serve

    from maas_nb.deploying import ray_target
    from maas_nb.serving import ray_app

    yield

    for name in serve.status().applications:
        if name.startswith(ray_target.APP_PREFIX):
            serve.delete(name, _blocking=True)
            ray_app.forget_settings(name.removeprefix(ray_target.APP_PREFIX))


def running_replicas(name: str) -> int:
    """How many replicas of Ray deployment *name* Serve runs (0: no such application)."""
    from ray import serve

    from maas_nb.deploying import ray_target

    app = serve.status().applications.get(ray_target.app_name(name))
    if app is None:
        return 0
    deployment = app.deployments.get(ray_target.SERVE_DEPLOYMENT)
    return int(deployment.replica_states.get("RUNNING", 0)) if deployment is not None else 0
