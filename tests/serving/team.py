"""Named model servers on one shared registry, as a team runs them: each a real
``maas serve`` process with a home of its own, all reading the same stores."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from maas_nb.serving.server import read_server_file
from tests.helpers import ROOT, wait_for
from tests.serving.conftest import Server, stop

STORE_ENV = ("MAAS_REGISTRY_URI", "MAAS_ARTIFACTS_URI")


@pytest.fixture(params=["postgresql+s3", "sqlite+file"])
def shared_stores(request, home, monkeypatch) -> dict[str, str]:
    """The registry every server and this test (the notebook) share, set in the
    environment: a real PostgreSQL and S3 (moto), or one SQLite file and one folder."""
    if request.param == "postgresql+s3":
        registry = request.getfixturevalue("postgres_uri")
        artifacts = request.getfixturevalue("s3_uri")
    else:
        registry = f"sqlite:///{home / 'shared.db'}"
        artifacts = (home / "shared-artifacts").as_uri()
    monkeypatch.setenv("MAAS_REGISTRY_URI", registry)
    monkeypatch.setenv("MAAS_ARTIFACTS_URI", artifacts)
    return {"registry": registry, "artifacts": artifacts}


@pytest.fixture
def team_stores(postgres_uri, s3_uri, monkeypatch) -> dict[str, str]:
    """The team's registry only: PostgreSQL and S3."""
    monkeypatch.setenv("MAAS_ARTIFACTS_URI", s3_uri)
    return {"registry": postgres_uri, "artifacts": s3_uri}


@pytest.fixture
def start_named():
    """Start named servers; each is stopped (by its PID) at the end of the test."""
    started: list[Server] = []

    def start(
        home: Path,
        name: str,
        *args: str,
        stores: dict[str, str] | None = None,
        token: str | None = None,
    ) -> Server:
        """``maas serve --name NAME`` for *home*; with *stores*, the stores are given as
        ``--registry``/``--artifacts`` (not in its environment), as the issue spells it."""
        env = {k: v for k, v in os.environ.items() if k != "MAAS_TOKEN"}
        if token:
            env["MAAS_TOKEN"] = token
        if stores is None:
            command = [sys.executable, "-m", "maas_nb.serving", "--home", str(home)]
        else:
            for key in STORE_ENV:
                env.pop(key, None)
            command = [
                *(sys.executable, "-m", "maas_nb.cli", "serve", "--home", str(home)),
                *("--registry", stores["registry"], "--artifacts", stores["artifacts"]),
            ]
        command += ["--name", name, "--port", "0", *args]
        proc = subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        )
        started.append(Server(proc, "", token, home))

        def ready():
            if proc.poll() is not None:
                raise AssertionError(f"server exited {proc.returncode}: {proc.stdout.read()}")
            info = read_server_file(home)
            return info if info and info["pid"] == proc.pid else None

        info = wait_for(ready, timeout=60, interval=0.02, what=f"the server {name!r} to start")
        started[-1] = Server(proc, info["url"], token, home)
        return started[-1]

    yield start
    for server in started:
        stop(server)


def served(server: Server) -> list[str]:
    """The deployments *server* serves once it has read the registry now."""
    return sorted(entry["name"] for entry in server.reconcile())


def infer_body(rows) -> dict:
    return {
        "inputs": [
            {
                "name": "input",
                "shape": list(rows.shape),
                "datatype": "FP64",
                "data": rows.ravel().tolist(),
            }
        ]
    }
