"""PostgreSQL stopped and restarted under a serving model server (artifacts in S3, moto).

A steady stream of predictions runs the whole time: not one may fail while the database
is down, the server says the registry is unavailable (naming the database, its password
hidden) without a traceback per poll, and once the database is back it follows an alias
moved from another client. The session's PostgreSQL is restarted (as in
tests/registry/test_postgres.py): every other test has a database of its own on it and
none runs meanwhile.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

import httpx
import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from maas_nb.exceptions import RegistryUnavailableError
from maas_nb.registry import Registry
from tests.helpers import wait_for
from tests.serving.conftest import stop

PASSWORD = "not-for-logs"  # trust authentication ignores it; no message may show it


class Load:
    """Threads posting predictions back to back; every answer is recorded."""

    def __init__(self, url: str, rows: np.ndarray, threads: int = 2) -> None:
        self.url, self.rows = url, rows
        self.answers: list[tuple[float, str]] = []  # (when sent, model_version)
        self.failures: list[str] = []
        self._done = threading.Event()
        self._threads = [threading.Thread(target=self._run, daemon=True) for _ in range(threads)]
        for thread in self._threads:
            thread.start()

    def _run(self) -> None:
        body = {
            "inputs": [
                {
                    "name": "input",
                    "shape": list(self.rows.shape),
                    "datatype": "FP64",
                    "data": self.rows.ravel().tolist(),
                }
            ]
        }
        with httpx.Client(base_url=self.url, timeout=30, trust_env=False) as client:
            while not self._done.is_set():
                sent = time.monotonic()
                try:
                    response = client.post("/v2/models/iris/infer", json=body)
                except httpx.HTTPError as exc:
                    self.failures.append(f"{type(exc).__name__}: {exc}")
                    continue
                if response.status_code != 200:
                    self.failures.append(f"{response.status_code}: {response.text}")
                    continue
                self.answers.append((sent, response.json()["model_version"]))

    def between(self, start: float, end: float) -> list[str]:
        """The versions that answered the requests sent from *start* to *end*."""
        return [v for t, v in list(self.answers) if start <= t <= end]

    def stop(self) -> None:
        self._done.set()
        for thread in self._threads:
            thread.join(timeout=60)


def states(server) -> list[dict]:
    with server.client() as c:
        response = c.get("/maas/deployments")
    assert response.status_code == 200, response.text
    return response.json()


@pytest.mark.slow
def test_postgres_restarted_under_load_fails_no_prediction_and_reconciles_after(
    home, postgres_server, postgres_uri, s3_uri, start_server, classifier, iris, monkeypatch
):
    X, y = iris
    database = postgres_uri.rsplit("/", 1)[1]
    uri = postgres_server.uri(database, password=PASSWORD)
    shown = postgres_server.uri(database, password="***")
    monkeypatch.setenv("MAAS_REGISTRY_URI", uri)  # the server inherits both stores
    monkeypatch.setenv("MAAS_ARTIFACTS_URI", s3_uri)
    registry = Registry(home)
    registry.register(classifier, "iris", sample=X[:5], alias="production")
    registry.put_deployment("iris", "iris@production")
    server = start_server()
    assert [(s["status"], s["version"]) for s in server.reconcile()] == [("ready", 1)]

    load = Load(server.url, X[:3])
    try:
        wait_for(lambda: len(load.answers) >= 20, timeout=60, what="predictions to flow")
        down = time.monotonic()
        postgres_server.stop()

        # The server notices, says so where a client looks, and keeps serving version 1.
        def reported() -> dict | None:
            (entry,) = states(server)
            return entry if "unavailable" in entry["reason"] else None

        entry = wait_for(reported, timeout=60, interval=0.1, what="the outage to be reported")
        assert (entry["status"], entry["version"]) == ("ready", 1)
        assert entry["reason"].startswith("The registry is unavailable, so version 1 serves on:")
        assert shown in entry["reason"] and PASSWORD not in entry["reason"]
        with server.client() as c:
            refused = c.post("/maas/reconcile")
        assert refused.status_code == 503, refused.text
        message = refused.json()["error"]
        assert message.startswith(f"Cannot use the registry database {shown!r}: ")
        assert "Check that PostgreSQL is running" in message and PASSWORD not in message
        # Several polls of the registry fail meanwhile; predictions go on.
        served = len(load.answers)
        wait_for(lambda: len(load.answers) >= served + 50, timeout=60, what="outage traffic")
        up = time.monotonic()
        postgres_server.start()  # the same port and data: a restart

        # From another client, once the database is back: a new version takes the alias.
        other = LogisticRegression(max_iter=1000).fit(X, (y + 1) % 3)
        laptop = wait_for(lambda: _registered(home.parent / "laptop", other, X), timeout=60)
        laptop.set_alias("iris:2", "production")
        wait_for(
            lambda: (
                [(s["status"], s["version"], s["reason"]) for s in states(server)]
                == [("ready", 2, "")]
            ),
            timeout=60,
            interval=0.1,
            what="the server to reconcile onto iris:2",
        )
        moved = time.monotonic()
        wait_for(lambda: load.between(moved, time.monotonic()), timeout=60, what="answers")
    finally:
        load.stop()
        if not (postgres_server.data / "postmaster.pid").exists():
            postgres_server.start()  # for the tests that follow, whatever failed here
    output = stop(server)

    assert load.failures == []
    assert len(load.between(down, up)) >= 50  # predictions really ran during the outage
    assert set(load.between(down, up)) == {"1"}
    assert set(load.between(moved, time.monotonic())) == {"2"}
    # One line when the registry goes, one when it is back: no traceback per poll.
    assert "Traceback" not in output, output
    assert output.count("The registry is unavailable") == 1, output
    assert output.count("The registry answers again") == 1, output
    assert PASSWORD not in output


def _registered(home: Path, model, X) -> Registry | None:
    """A registry on *home* once *model* is registered in it as iris:2 (idempotently: a
    retry makes no second version); None while the database refuses."""
    try:
        registry = Registry(home)
        version = registry.register(model, "iris", sample=X[:5], idempotency_key="iris-v2")
    except RegistryUnavailableError:
        return None
    assert version.version == 2
    return registry
