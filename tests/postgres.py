"""A real PostgreSQL server for the tests: Debian's ``postgresql`` package, started once.

The session fixture `postgres_server` runs initdb and pg_ctl in a temporary directory, on
a free port of 127.0.0.1, as the unprivileged ``postgres`` user when the tests run as
root (PostgreSQL refuses root). fsync is off: a crash of the test machine loses nothing
we keep. Each test gets a database of its own (`PostgresServer.create_database`), and the
server the fixture started, and no other, is stopped by its PID at the end.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import shutil
import signal
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg  # the dev extra installs it: never legitimately missing
import pytest

from tests.components import missing
from tests.helpers import wait_for

INSTALL = "apt-get install -y postgresql (Debian/Ubuntu; the server binaries, not the client)"


def _bindir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), reverse=True)
    if found:
        return Path(found[0]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).parent if initdb else None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


class PostgresServer:
    """A PostgreSQL server in *root*, owned by *user* (None: the current user)."""

    def __init__(self, bindir: Path, root: Path, user: str | None) -> None:
        self.bindir, self.root, self.user = bindir, root, user
        self.data = root / "data"
        self.port = _free_port()
        self._names = itertools.count(1)

    def _run(self, program: str, *args: str) -> None:
        done = subprocess.run(
            [str(self.bindir / program), *args],
            user=self.user,
            cwd=self.root,
            capture_output=True,
            text=True,
            timeout=120,
        )
        if done.returncode != 0:
            log = (
                (self.root / "server.log").read_text()
                if (self.root / "server.log").exists()
                else ""
            )
            raise RuntimeError(f"{program} {args} failed:\n{done.stdout}\n{done.stderr}\n{log}")

    def start(self) -> None:
        if not self.data.exists():
            self._run(
                "initdb",
                "-D",
                str(self.data),
                "-U",
                "postgres",
                "-A",
                "trust",
                "-E",
                "UTF8",
                "--no-sync",
            )
        options = f"-h 127.0.0.1 -p {self.port} -k {self.root} -F -c max_connections=300"
        self._run(
            "pg_ctl",
            "-D",
            str(self.data),
            "-l",
            str(self.root / "server.log"),
            "-o",
            options,
            "-w",
            "start",
        )

    @property
    def pid(self) -> int:
        return int((self.data / "postmaster.pid").read_text().split()[0])

    def stop(self) -> None:
        """Stop this server (fast shutdown) by its PID, and wait until it is gone."""
        pid = self.pid
        os.kill(pid, signal.SIGINT)
        wait_for(lambda: not _alive(pid), timeout=60, interval=0.05, what=f"postgres {pid} to stop")

    def restart(self) -> None:
        self.stop()
        self.start()

    def uri(self, database: str = "postgres", password: str = "") -> str:
        secret = f":{password}" if password else ""
        return f"postgresql://postgres{secret}@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        with psycopg.connect(self.uri(), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self) -> str:
        """A new empty database; its URI."""
        name = f"maas_test_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE template0")
        return self.uri(name)

    def drop_database(self, uri: str) -> None:
        from maas_nb.registry.postgres_connections import close_pools

        close_pools(uri)
        self.admin(f"DROP DATABASE IF EXISTS {uri.rsplit('/', 1)[1]} WITH (FORCE)")


@contextlib.contextmanager
def running_postgres(prefix: str = "maas-postgres-") -> Iterator[PostgresServer]:
    """A PostgreSQL server of its own in a temporary directory (as the ``postgres`` user
    when run as root, which PostgreSQL refuses), stopped by its own PID at the end;
    the tests' fixture and the benchmarks share it."""
    bindir = _bindir()
    if bindir is None:
        missing("PostgreSQL", INSTALL)
    root = Path(tempfile.mkdtemp(prefix=prefix))
    user = "postgres" if os.geteuid() == 0 else None
    if user is not None:
        shutil.chown(root, user)
    server = PostgresServer(bindir, root, user)
    server.start()
    try:
        yield server
    finally:
        from maas_nb.registry.postgres_connections import close_pools

        close_pools()
        if (server.data / "postmaster.pid").exists():
            server.stop()
        shutil.rmtree(root, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    with running_postgres() as server:
        yield server


@pytest.fixture
def postgres_uri(postgres_server, home, monkeypatch) -> Iterator[str]:
    """A fresh database of the test's own, set as ``MAAS_REGISTRY_URI``."""
    uri = postgres_server.create_database()
    monkeypatch.setenv("MAAS_REGISTRY_URI", uri)
    yield uri
    postgres_server.drop_database(uri)
