"""A real S3-compatible server for the tests: moto's server mode on a free loopback port.

One server (``python -m moto.server``, a separate process) serves the whole test session;
each test gets its own prefix of one bucket, so tests never see each other's objects. The
``artifacts_uri`` fixture runs a test once against the local store and once against S3.
"""

from __future__ import annotations

import contextlib
import importlib.util
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.components import missing
from tests.helpers import wait_for

BUCKET = "maas-tests"
INSTALL = "pip install 'moto[server]' (the dev extra has it)"


class MotoServer:
    """``python -m moto.server`` on 127.0.0.1, started and stopped by its own process id."""

    def __init__(self, workdir: Path) -> None:
        self.log = workdir / "moto.log"
        # A working directory of its own: moto imports `cmd`, which a stray file may shadow.
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", "0"],
                stdout=log,
                stderr=subprocess.STDOUT,
                cwd=workdir,
            )
        found = wait_for(self._port, timeout=60, interval=0.02, what="moto's server to listen")
        self.endpoint = f"http://127.0.0.1:{found}"

    def _port(self) -> str | None:
        if self.process.poll() is not None:
            raise AssertionError(f"moto's server exited: {self.log.read_text()}")
        match = re.search(r"Running on http://127\.0\.0\.1:(\d+)", self.log.read_text())
        return match.group(1) if match else None

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait(timeout=60)


def environment(endpoint: str) -> dict[str, str]:
    """What a process needs to reach *endpoint* with moto's any-key credentials."""
    return {
        "AWS_ENDPOINT_URL": endpoint,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": "us-east-1",
        # Nothing from the machine's own AWS setup leaks into a test.
        "AWS_CONFIG_FILE": "/nonexistent/aws-config",
        "AWS_SHARED_CREDENTIALS_FILE": "/nonexistent/aws-credentials",
    }


def client(endpoint: str):
    import boto3

    env = environment(endpoint)
    return boto3.session.Session(
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    ).client("s3", endpoint_url=endpoint)


@contextlib.contextmanager
def moto_server(workdir: Path) -> Iterator[MotoServer]:
    if importlib.util.find_spec("moto") is None or importlib.util.find_spec("flask") is None:
        missing("moto's S3 server", INSTALL)
    server = MotoServer(workdir)
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory) -> Iterator[MotoServer]:
    """The session's S3 server, with the bucket the tests share."""
    with moto_server(tmp_path_factory.mktemp("moto")) as server:
        client(server.endpoint).create_bucket(Bucket=BUCKET)
        yield server


@pytest.fixture
def s3_uri(s3_server, monkeypatch) -> str:
    """A fresh ``s3://`` prefix on the session's server, with the environment to reach it."""
    for key, value in environment(s3_server.endpoint).items():
        monkeypatch.setenv(key, value)
    return f"s3://{BUCKET}/{uuid.uuid4().hex}"


@pytest.fixture(params=["file", "s3"])
def artifacts_uri(request, home, monkeypatch) -> str:
    """The artifact store of the registry: the home's folder, or a prefix of a bucket."""
    if request.param == "file":
        return (home / "artifacts").as_uri()
    uri = request.getfixturevalue("s3_uri")
    monkeypatch.setenv("MAAS_ARTIFACTS_URI", uri)
    return uri
