"""A real single-node Ray cluster for the tests: ``ray start --head``, once per session.

Every port it listens on is a free port of 127.0.0.1 chosen here (the GCS, Ray Client, the
dashboard agent, the runtime-env agent, metrics...), its state lives in a short temporary
directory (``--temp-dir``: Unix socket paths are limited to ~107 bytes), so it runs beside
any other Ray cluster of the machine and writes nothing in /tmp/ray. Nothing global is set:
tests pass `RayCluster.address` to the code under test themselves.

Stopping: ``ray stop`` would stop every Ray cluster of the machine (another test session's,
a user's). Instead ``ray start`` runs in a new session (``start_new_session``), so the
GCS, the raylet, the agents and the workers the raylet forks all belong to the process
group whose id is the PID of that ``ray start``; at the end the fixture signals that group
and no other. Any process that left the group (none does in Ray 2.x, but a future Ray
might ``setsid`` its workers) still names our unique temporary directory on its command
line, so the fixture also signals those, found in /proc. Like ``ray stop`` it sends SIGTERM,
gives them a grace period (5 s; the GCS server and the autoscaler monitor take a while),
then SIGKILLs what is left and waits (with a deadline) until none remains (zombies
excepted), then removes the temporary directory.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.components import executable, missing
from tests.helpers import wait_for

INSTALL = "pip install 'maas_nb[ray]'"


@dataclass
class RayCluster:
    address: str  # "127.0.0.1:PORT", the GCS: ray.init(address=...) / RAY_ADDRESS
    client_address: str  # "ray://127.0.0.1:PORT", Ray Client
    temp_dir: Path
    group: int  # the process group of everything the cluster runs

    def processes(self) -> list[int]:
        """PIDs of the cluster's processes: in its process group, or naming its temp dir."""
        found = []
        marker = str(self.temp_dir).encode()
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            with contextlib.suppress(OSError):
                if (entry / "stat").read_text().rsplit(")", 1)[1].split()[0] == "Z":
                    continue  # exited; only its parent (maybe init) can reap it
                if os.getpgid(int(entry.name)) == self.group:
                    found.append(int(entry.name))
                    continue
                if marker in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
        return found


def _free_ports(n: int) -> list[int]:
    socks = [socket.socket() for _ in range(n)]
    try:
        for sock in socks:
            sock.bind(("127.0.0.1", 0))
        return [sock.getsockname()[1] for sock in socks]
    finally:
        for sock in socks:
            sock.close()


def _stop(cluster: RayCluster) -> None:
    # Like `ray stop`: SIGTERM, a grace period (the GCS takes its time to exit), SIGKILL.
    for sig, timeout in ((signal.SIGTERM, 5), (signal.SIGKILL, 10)):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(cluster.group, sig)
        for pid in cluster.processes():
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(pid, sig)
        try:
            wait_for(
                lambda: not cluster.processes(),
                timeout=timeout,
                interval=0.1,
                what="the Ray cluster's processes to exit",
            )
            return
        except Exception:
            if sig == signal.SIGKILL:
                raise


#: How many times to start a cluster whose node timed out registering with the GCS (Ray
#: waits a fixed 30 s for that: a machine busy with other work can take longer).
START_ATTEMPTS = 3


@contextlib.contextmanager
def running_ray_cluster(
    ray_cli: str, *, prefix: str = "ray", env: dict[str, str] | None = None
) -> Iterator[RayCluster]:
    """A single-node Ray cluster started here (``ray start --head``, free loopback ports,
    its own temporary directory) and stopped after, by its process group only: the tests'
    fixture and the benchmarks share it. *env* is added to the cluster's environment (its
    workers inherit it: a ``PYTHONPATH``, say). A start whose node timed out registering
    is stopped and tried again, with other ports and directory, up to `START_ATTEMPTS`."""
    for attempt in range(1, START_ATTEMPTS + 1):
        cluster, failure = _start(ray_cli, prefix, env)
        if failure is None:
            break
        _stop(cluster)
        shutil.rmtree(cluster.temp_dir, ignore_errors=True)
        if "timed out during startup" not in failure or attempt == START_ATTEMPTS:
            raise RuntimeError(failure)
    try:
        yield cluster
    finally:
        _stop(cluster)
        shutil.rmtree(cluster.temp_dir, ignore_errors=True)


def _start(ray_cli: str, prefix: str, env: dict[str, str] | None) -> tuple[RayCluster, str | None]:
    """Run ``ray start --head``; the cluster, and what went wrong (None: it started)."""
    temp_dir = Path(tempfile.mkdtemp(prefix=prefix, dir="/tmp"))
    gcs, client, agent, agent_grpc, env_agent, metrics, dashboard = _free_ports(7)
    environment = {
        k: v for k, v in os.environ.items() if k not in ("RAY_ADDRESS", "MAAS_RAY_ADDRESS")
    }
    # The cluster's workers are not the caller's processes: no caller's registry by accident.
    environment.update(MAAS_HOME=str(temp_dir / "no-maas-home"), RAY_USAGE_STATS_ENABLED="0")
    environment.update(env or {})
    command = [
        ray_cli, "start", "--head", "--node-ip-address", "127.0.0.1", "--port", str(gcs),
        "--ray-client-server-port", str(client), "--dashboard-agent-listen-port", str(agent),
        "--dashboard-agent-grpc-port", str(agent_grpc), "--runtime-env-agent-port",
        str(env_agent), "--metrics-export-port", str(metrics), "--dashboard-port",
        str(dashboard), "--include-dashboard=false", "--num-cpus", "2", "--temp-dir",
        str(temp_dir), "--disable-usage-stats",
    ]  # fmt: skip
    starter = subprocess.Popen(
        command,
        env=environment,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        start_new_session=True,
    )
    cluster = RayCluster(f"127.0.0.1:{gcs}", f"ray://127.0.0.1:{client}", temp_dir, starter.pid)
    try:
        output, _ = starter.communicate(timeout=120)
    except subprocess.TimeoutExpired:
        starter.kill()
        starter.wait()
        return cluster, f"{' '.join(command)} did not finish in 120 s"
    if starter.returncode != 0:
        return cluster, f"{' '.join(command)} failed:\n{output}"
    return cluster, None


@pytest.fixture(scope="session")
def ray_cluster() -> Iterator[RayCluster]:
    try:
        import ray  # noqa: F401
    except ImportError:
        missing("ray", INSTALL)
    with running_ray_cluster(executable("ray", install=INSTALL)) as cluster:
        yield cluster
