"""A real model server (uvicorn on 127.0.0.1) per test, started and stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

import maas_nb
from maas_nb.registry import Registry
from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT, wait_for


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    token: str | None
    home: Path

    def client(self, **kwargs) -> httpx.Client:
        headers = {"Authorization": f"Bearer {self.token}"} if self.token else {}
        return httpx.Client(
            base_url=self.url, headers=headers, timeout=60, trust_env=False, **kwargs
        )

    def reconcile(self) -> list[dict]:
        with self.client() as c:
            response = c.post("/maas/reconcile")
            response.raise_for_status()
            return response.json()


def spawn_server(home: Path, *args: str, token: str | None = None) -> Server:
    """Start ``maas serve`` for *home* on a free port and wait until it listens."""
    Registry(home)  # create the home and schema first
    command = [sys.executable, "-m", "maas_nb.serving", "--home", str(home), "--port", "0", *args]
    env = {k: v for k, v in os.environ.items() if k != "MAAS_TOKEN"}
    if token:
        env["MAAS_TOKEN"] = token  # never on the command line: see test_token.py
    proc = subprocess.Popen(
        command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )

    def ready():
        if proc.poll() is not None:
            raise AssertionError(f"server exited {proc.returncode}: {proc.stdout.read()}")
        info = read_server_file(home)
        return info if info and info["pid"] == proc.pid else None

    info = wait_for(ready, timeout=60, interval=0.02, what="the server to start")
    return Server(proc, info["url"], token, home)


def stop(server: Server) -> str:
    """SIGTERM the server we started (by its PID), reap it, and return what it printed."""
    if server.proc.stdout is None or server.proc.stdout.closed:
        return ""
    if server.proc.poll() is None:
        server.proc.send_signal(signal.SIGTERM)
    try:
        output, _ = server.proc.communicate(timeout=60)
    except subprocess.TimeoutExpired:
        server.proc.kill()
        output, _ = server.proc.communicate()
    return output or ""


@pytest.fixture
def start_server(home):
    """Start ``maas serve`` for the test's home; returns a function taking extra arguments."""
    started: list[Server] = []

    def start(*args: str, token: str | None = None) -> Server:
        started.append(spawn_server(home, *args, token=token))
        return started[-1]

    yield start
    for server in started:
        stop(server)


def _deploy_iris(registry: Registry, classifier, X) -> None:
    """iris:1 (LogisticRegression) as 'iris', through its production alias."""
    registry.register(classifier, "iris", sample=X[:5], alias="production")
    registry.put_deployment("iris", "iris@production", {"max_batch_size": 16, "max_latency_ms": 2})


def _reconciled(server: Server) -> Server:
    """*server*, once it has loaded what its registry deploys (all ready)."""
    states = server.reconcile()
    assert [s["status"] for s in states] == ["ready"], json.dumps(states)
    return server


@pytest.fixture
def iris_server(start_server, classifier, iris):
    """A server with iris:1 (LogisticRegression) deployed as 'iris'."""
    _deploy_iris(maas_nb.api.registry(), classifier, iris[0])
    return _reconciled(start_server())


@pytest.fixture(scope="module")
def shared_iris_server(tmp_path_factory, classifier, iris):
    """`iris_server`'s deployment on a server of its own home, shared by a module's tests
    that only send requests (bad ones included: it must keep serving them all)."""
    home = tmp_path_factory.mktemp("shared-iris")
    _deploy_iris(Registry(home), classifier, iris[0])
    server = spawn_server(home)
    try:
        yield _reconciled(server)
    finally:
        stop(server)


@pytest.fixture
def frame_server(start_server, iris):
    """A server with a model fitted on a DataFrame (columns sl, sw, pl, pw) as 'frame'."""
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    df = pd.DataFrame(X, columns=["sl", "sw", "pl", "pw"])
    model = LogisticRegression(max_iter=1000).fit(df, y)
    registry = maas_nb.api.registry()
    registry.register(model, "frame", sample=df.head())
    registry.put_deployment("frame", "frame", {})
    server = start_server()
    server.reconcile()
    return server, model, df
