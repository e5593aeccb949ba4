"""A real model server (uvicorn on 127.0.0.1) per test, started and stopped by PID."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from dataclasses import dataclass

import httpx
import pytest

import maas_nb
from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT, wait_for


@pytest.fixture(autouse=True)
def ephemeral_port(monkeypatch):
    """Servers spawned by deploy() pick a free port; no test depends on 8765."""
    monkeypatch.setenv("MAAS_PORT", "0")
    monkeypatch.delenv("MAAS_TOKEN", raising=False)


@pytest.fixture(autouse=True)
def stop_spawned_server(home):
    """Stop a server that deploy() spawned for this test's home, by its recorded PID."""
    yield
    info = read_server_file(home)
    if info is not None:
        os.kill(int(info["pid"]), signal.SIGTERM)
        wait_for(
            lambda: read_server_file(home) is None,
            timeout=60,
            interval=0.02,
            what="the server to stop",
        )


@dataclass
class Server:
    proc: subprocess.Popen
    url: str
    token: str | None

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


@pytest.fixture
def start_server(home):
    """Start ``maas serve`` for the test's home; yields a function taking extra arguments."""
    started: list[subprocess.Popen] = []

    def start(*args: str, token: str | None = None, env: dict | None = None) -> Server:
        maas_nb.api.registry()  # create the home and schema first
        command = [
            sys.executable,
            "-m",
            "maas_nb.serving",
            "--home",
            str(home),
            "--port",
            "0",
            *args,
        ]
        if token:
            command += ["--token", token]
        proc = subprocess.Popen(
            command,
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, **(env or {})},
        )
        started.append(proc)

        def ready():
            if proc.poll() is not None:
                raise AssertionError(f"server exited {proc.returncode}: {proc.stdout.read()}")
            info = read_server_file(home)
            return info if info and info["pid"] == proc.pid else None

        info = wait_for(ready, timeout=60, interval=0.02, what="the server to start")
        return Server(proc, info["url"], token)

    yield start
    for proc in started:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
        try:
            proc.communicate(timeout=60)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.communicate()


@pytest.fixture
def iris_server(start_server, classifier, iris):
    """A server with iris:1 (LogisticRegression) deployed as 'iris'."""
    X, _ = iris
    registry = maas_nb.api.registry()
    registry.register(classifier, "iris", sample=X[:5], alias="production")
    registry.put_deployment("iris", "iris@production", {"max_batch_size": 16, "max_latency_ms": 2})
    server = start_server()
    states = server.reconcile()
    assert [s["status"] for s in states] == ["ready"], json.dumps(states)
    return server
