"""A real single-node Ray cluster for the session, with Ray Serve's HTTP proxy on a free
loopback port (started only when a test asks for ``ray_cluster``).

``ray start --head --block`` runs in the foreground as this fixture's child: its GCS,
raylet and their workers are its children, and it stops them all when it is sent
SIGTERM at the end, so the fixture ends only the process it started, by its PID.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.helpers import wait_for


@dataclass
class RayCluster:
    address: str  # the GCS address: ray.init(address=...), $RAY_ADDRESS
    serve_port: int  # Ray Serve's HTTP proxy, on 127.0.0.1
    temp_dir: Path

    @property
    def serve_url(self) -> str:
        return f"http://127.0.0.1:{self.serve_port}"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    pytest.importorskip("ray.serve")
    import ray
    from ray import serve

    temp_dir = Path(tempfile.mkdtemp(prefix="ray", dir="/tmp"))  # Ray's socket paths are short
    port = _free_port()
    log = open(temp_dir / "ray-start.log", "w")  # noqa: SIM115 (open for the session)
    head = subprocess.Popen(
        [
            *(sys.executable, "-m", "ray.scripts.scripts", "start", "--head", "--block"),
            *("--node-ip-address", "127.0.0.1", "--port", str(port)),
            *("--include-dashboard=false", "--num-cpus", "2", "--disable-usage-stats"),
            *("--temp-dir", str(temp_dir), "--ray-client-server-port", str(_free_port())),
            *("--dashboard-agent-listen-port", str(_free_port())),
            *("--dashboard-agent-grpc-port", str(_free_port())),
            *("--metrics-export-port", str(_free_port())),
            *("--runtime-env-agent-port", str(_free_port())),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    cluster = RayCluster(f"127.0.0.1:{port}", _free_port(), temp_dir)
    saved = {k: os.environ.get(k) for k in ("RAY_ADDRESS", "MAAS_RAY_HTTP_PORT")}
    os.environ["RAY_ADDRESS"] = cluster.address
    os.environ["MAAS_RAY_HTTP_PORT"] = str(cluster.serve_port)
    try:

        def connected() -> bool:
            assert head.poll() is None, (temp_dir / "ray-start.log").read_text()
            try:
                ray.init(
                    address=cluster.address,
                    logging_level="WARNING",
                    log_to_driver=False,
                    configure_logging=False,
                )
            except ConnectionError:
                return False
            return True

        wait_for(connected, timeout=120, interval=0.5, what="the Ray head to accept a driver")
        serve.start(http_options={"host": "127.0.0.1", "port": cluster.serve_port})
        yield cluster
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
        try:
            if ray.is_initialized():
                serve.shutdown()
        finally:
            ray.shutdown()
            head.send_signal(signal.SIGTERM)
            try:
                head.wait(timeout=60)
            except subprocess.TimeoutExpired:
                head.kill()
                head.wait()
            log.close()
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline and _removal_failed(temp_dir):
                time.sleep(0.2)


def _removal_failed(path: Path) -> bool:
    shutil.rmtree(path, ignore_errors=True)
    return path.exists()
