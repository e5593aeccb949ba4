"""Deploying to a named server by its URL (``target="http://host:port"``) from a notebook:
the row records the server's name, that server serves it, the local front ends list it
as served elsewhere, and undeploying by the URL removes it."""

from __future__ import annotations

import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.config import user as getuser
from maas_nb.deploying import server_view, targets
from maas_nb.exceptions import (
    ConfigurationError,
    ConflictError,
    DeploymentFailedError,
    ServerUnavailableError,
)
from maas_nb.serving.server import read_server_file
from tests.serving import team

TOKEN = "team-b-token"

# The fixtures this module uses, from tests/serving/team.py.
start_named, team_stores = team.start_named, team.team_stores


def test_a_notebook_deploys_to_a_named_server_by_its_url(
    team_stores, start_named, tmp_path, monkeypatch, registry, classifier, iris, capsys
):
    X, _ = iris
    b = start_named(tmp_path / "b", "team-b", token=TOKEN)  # on another machine, with a token
    maas_nb.register(classifier, "iris", sample=X[:5], alias="production")
    monkeypatch.setenv("MAAS_TOKEN", "wrong")
    with pytest.raises(ServerUnavailableError, match="refused the token in MAAS_TOKEN"):
        maas_nb.deploy("iris@production", name="web", target=b.url)
    assert registry.list_deployments() == []  # refused: nothing written

    monkeypatch.setenv("MAAS_TOKEN", TOKEN)
    dep = maas_nb.deploy("iris@production", name="web", target=f"{b.url}/")
    assert registry.get_deployment("web").server == "team-b"
    assert (dep.server, dep.server_name, dep.elsewhere) == (b.url, "team-b", False)
    assert dep.status == "ready"
    assert dep.predict(X[:3]).tolist() == classifier.predict(X[:3]).tolist()
    assert read_server_file() is None  # no local server was started for it
    assert [d["name"] for d in server_view(target=b.url)["deployments"]] == ["web"]

    # The notebook's own (local) target lists it as served elsewhere, without a call.
    [mine] = maas_nb.deployments()
    assert (mine.server, mine.server_name, mine.elsewhere) == ("", "team-b", True)
    assert repr(mine) == "Deployment('web' -> iris@production, on server 'team-b')"
    assert mine.status == "unknown"
    with pytest.raises(ServerUnavailableError, match="served by the server 'team-b'"):
        mine.predict(X[:1])
    [theirs] = maas_nb.deployments(target=b.url)
    assert theirs.predict(X[:1]).tolist() == classifier.predict(X[:1]).tolist()
    assert main(["deployments"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == [
        "NAME",
        "TARGET",
        "SERVER",
        "VERSION",
        "STATUS",
        "WHERE",
        "REPLICAS",
        "BY",
        "URL",
    ]
    assert out[1].split() == [
        *("web", "iris@production", "team-b", "-", "unknown", "local", "-", getuser(), "-")
    ]

    maas_nb.undeploy("web", target=b.url)
    assert registry.list_deployments() == []
    assert b.reconcile() == []


def test_a_server_on_another_registry_is_told_apart_at_once(
    team_stores, start_named, tmp_path, monkeypatch, registry, classifier, iris
):
    maas_nb.register(classifier, "iris", sample=iris[0][:5])
    monkeypatch.setenv("MAAS_REGISTRY_URI", f"sqlite:///{tmp_path / 'other.db'}")
    elsewhere = start_named(tmp_path / "c", "team-c")  # reads another registry
    monkeypatch.setenv("MAAS_REGISTRY_URI", team_stores["registry"])
    with pytest.raises(DeploymentFailedError) as info:
        maas_nb.deploy("iris", target=elsewhere.url, timeout=30)
    assert str(info.value) == (
        f"The model server at {elsewhere.url} does not see deployment 'iris' after reading "
        "its registry: it reads another registry than the one deployed to (or the "
        "deployment was changed meanwhile). Start it on this registry (maas serve --registry "
        "URI --artifacts URI; for this home's own server: maas server stop, then deploy again)."
    )


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (
            "http://",
            "Deploy target 'http://' names no server: give its URL, such as "
            "'http://host:8765' (what 'maas serve' printed where it runs).",
        ),
        (
            "https",
            "Deploy target 'https' names no server: give its URL, such as "
            "'http://host:8765' (what 'maas serve' printed where it runs).",
        ),
    ],
)
def test_a_url_target_needs_a_host(spec, message):
    with pytest.raises(ConfigurationError) as info:
        targets.get(spec)
    assert str(info.value) == message


def test_a_url_target_cannot_stop_the_server_it_did_not_start(registry):
    with pytest.raises(ConfigurationError, match=r"runs elsewhere: deploy does not start it"):
        maas_nb.stop_server(target="http://127.0.0.1:9")


def test_on_the_embedded_default_rows_name_no_server(registry, monkeypatch, classifier, iris):
    monkeypatch.setenv("MAAS_SERVER_NAME", "alice-laptop")
    maas_nb.register(classifier, "iris", sample=iris[0][:5])
    maas_nb.deploy("iris")
    assert read_server_file()["name"] == "alice-laptop"
    assert registry.get_deployment("iris").server is None  # as before servers had names
    maas_nb.stop_server()
    monkeypatch.setenv("MAAS_SERVER_NAME", "alice-renamed")  # a new $MAAS_USER or hostname
    maas_nb.deploy("iris:1", name="second")
    assert sorted(maas_nb.deploying.server_states()) == ["iris", "second"]  # none orphaned


def test_on_a_shared_registry_the_local_target_records_its_servers_name(
    registry, tmp_path, monkeypatch, classifier, iris, capsys
):
    monkeypatch.setenv("MAAS_REGISTRY_URI", f"sqlite:///{tmp_path / 'shared.db'}")
    monkeypatch.setenv("MAAS_SERVER_NAME", "alice-laptop")
    shared = maas_nb.api.registry()
    maas_nb.register(classifier, "iris", sample=iris[0][:5])
    shared.put_deployment("old", "iris:1")  # made before servers had names
    shared.put_deployment("theirs", "iris:1", server="bob-desktop")
    dep = maas_nb.deploy("iris")  # starts this home's server, named from the environment
    assert read_server_file()["name"] == "alice-laptop"
    assert shared.get_deployment("iris").server == dep.server_name == "alice-laptop"
    assert sorted(maas_nb.deploying.server_states()) == ["iris", "old"]  # never bob's
    shown = {d.name: (d.server_name, d.elsewhere) for d in maas_nb.deployments()}
    assert shown == {
        "iris": ("alice-laptop", False),
        "old": (None, False),
        "theirs": ("bob-desktop", True),
    }
    with pytest.raises(ConflictError) as info:
        maas_nb.deploy("iris", name="theirs")  # bob's, by its name: not taken away
    assert str(info.value) == (
        "Deployment 'theirs' is served by the server 'bob-desktop', not by this target's "
        "('alice-laptop'). Deploy under another name (--name NAME; name= in Python), or "
        "undeploy it first (maas undeploy theirs) to move it here."
    )
    assert shared.get_deployment("theirs").server == "bob-desktop"
    maas_nb.undeploy("theirs")  # from anywhere, through the registry
    maas_nb.deploy("iris", name="theirs")  # now it may move here
    assert sorted(maas_nb.deploying.server_states()) == ["iris", "old", "theirs"]
