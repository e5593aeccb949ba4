"""Many servers on one registry: each serves the deployments made for its name and those
made for any server (every deployment made before servers had names), never another's;
an alias moved from a notebook reaches a deployment on another server under load."""

from __future__ import annotations

import threading
import time

import httpx
import pytest

import maas_nb
from maas_nb import config
from maas_nb.cli import main
from tests.helpers import wait_for
from tests.serving import team
from tests.serving.team import infer_body, served

# The fixtures this module uses, from tests/serving/team.py.
shared_stores, start_named, team_stores = team.shared_stores, team.start_named, team.team_stores


def test_two_named_servers_serve_only_their_own_deployments(
    shared_stores, start_named, tmp_path, classifier, iris
):
    X, _ = iris
    notebook = maas_nb.api.registry()  # the shared stores, from the environment
    notebook.register(classifier, "iris", sample=X[:5])
    notebook.put_deployment("a-web", "iris:1", server="a")
    notebook.put_deployment("b-web", "iris:1", server="b")
    notebook.put_deployment("old", "iris:1")  # made before schema 6: for any server
    a = start_named(tmp_path / "a", "a", stores=shared_stores)  # --registry, --artifacts
    b = start_named(tmp_path / "b", "b", "--workers", "2")  # every worker is 'b'

    assert served(a) == ["a-web", "old"]
    assert served(b) == ["b-web", "old"]
    for server, name in ((a, "a"), (b, "b")):
        with server.client() as c:
            assert c.get("/maas/server").json() == {"name": name}
    body = infer_body(X[:2])
    with a.client() as c:
        foreign = c.post("/v2/models/b-web/infer", json=body)
        assert foreign.status_code == 404
        assert foreign.json() == {"error": "No deployment named 'b-web'; deployed: a-web, old."}
        assert c.post("/v2/models/a-web/infer", json=body).status_code == 200

    maas_nb.undeploy("a-web", target=a.url)  # undeploying on A ...
    assert served(a) == ["old"]
    assert served(b) == ["b-web", "old"]  # ... does not touch B
    with b.client() as c:
        assert c.post("/v2/models/b-web/infer", json=body).status_code == 200

    notebook.put_deployment("old", "iris:1", server="b")  # moved to B: A lets it go
    wait_for(lambda: served(a) == [], timeout=30, interval=0.05, what="A to unload 'old'")
    assert served(b) == ["b-web", "old"]


def test_an_alias_move_reaches_a_deployment_on_another_server_under_load(
    team_stores, start_named, tmp_path, classifier, iris
):
    X, _ = iris
    notebook = maas_nb.api.registry()
    notebook.register(classifier, "iris", sample=X[:5], alias="production")
    notebook.register(classifier, "iris", sample=X[:5])
    notebook.put_deployment("web", "iris@production", server="team-b")
    b = start_named(tmp_path / "b", "team-b")
    assert [(e["name"], e["version"], e["status"]) for e in b.reconcile()] == [("web", 1, "ready")]

    body = infer_body(X[:3])
    stop = threading.Event()
    seen: list[list[tuple[int, str | None]]] = [[] for _ in range(4)]

    def load(out: list[tuple[int, str | None]]) -> None:
        with httpx.Client(base_url=b.url, timeout=30, trust_env=False) as c:
            while not stop.is_set() and len(out) < 3000:  # a bounded number of requests
                try:
                    r = c.post("/v2/models/web/infer", json=body)
                except httpx.HTTPError as exc:
                    out.append((0, type(exc).__name__))
                    continue
                ok = r.status_code == 200
                out.append((r.status_code, r.json()["model_version"] if ok else r.text))

    threads = [threading.Thread(target=load, args=(out,)) for out in seen]
    for thread in threads:
        thread.start()
    try:
        wait_for(lambda: all(len(o) >= 20 for o in seen), timeout=30, what="load on version 1")
        moved = time.monotonic()
        notebook.set_alias("iris:2", "production")  # from the notebook, not from B
        wait_for(
            lambda: all(o and o[-1][1] == "2" for o in seen),
            timeout=10,
            interval=0.01,
            what="every client to get answers from version 2",
        )
        switched = time.monotonic() - moved
        after = [len(o) for o in seen]
        wait_for(
            lambda: all(len(o) >= n + 20 for o, n in zip(seen, after, strict=True)),
            timeout=30,
            what="more load on version 2",
        )
    finally:
        stop.set()
        for thread in threads:
            thread.join(timeout=60)
    answers = [a for out in seen for a in out]
    failed = [a for a in answers if a[0] != 200]
    assert failed == [], failed[:5]
    for out in seen:  # each client: version 1, then version 2, never back
        versions = [v for _, v in out]
        first = versions.index("2")
        assert set(versions[:first]) == {"1"} and set(versions[first:]) == {"2"}
    print(f"{len(answers)} requests, 0 failed; version 2 served {switched:.2f} s after the move")


def test_a_server_refuses_a_name_a_deployment_cannot_have(tmp_path, capsys):
    assert main(["serve", "--home", str(tmp_path / "x"), "--name", "team a", "--port", "0"]) == 1
    assert capsys.readouterr().err == (
        "maas: error: Invalid server name 'team a': use letters, digits, '_', '.' and '-', "
        "starting with a letter or digit.\n"
    )


@pytest.mark.parametrize(
    ("user", "host", "expected"),
    [
        ("alice", "laptop", "alice-laptop"),
        ("Jean Luc", "box.lan", "Jean-Luc-box.lan"),
        ("_svc", "node-1", "svc-node-1"),
    ],
)
def test_the_default_name_is_the_user_and_the_machine(monkeypatch, user, host, expected):
    monkeypatch.delenv("MAAS_SERVER_NAME", raising=False)
    monkeypatch.setenv("MAAS_USER", user)
    monkeypatch.setattr("socket.gethostname", lambda: host)
    assert config.server_name() == expected
    monkeypatch.setenv("MAAS_SERVER_NAME", "team-a")
    assert config.server_name() == "team-a"
    assert config.server_name("given") == "given"
