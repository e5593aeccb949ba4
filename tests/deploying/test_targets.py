"""Deploy targets are chosen by name or URI, from target=, $MAAS_DEPLOY_TARGET or the
default, through the table of schemes; an unknown one says which are known."""

from __future__ import annotations

import pytest

import maas_nb
from maas_nb.cli import main
from maas_nb.deploying import LocalTarget, targets
from maas_nb.exceptions import ConfigurationError

CLUSTER = "http://cluster.example:8000"


class PinnedTarget(LocalTarget):
    """A target of another scheme whose deployments are served at one fixed address:
    what a cluster target (``ray://`` before it had its own) looks like to the callers."""

    def server_url(self, reg):
        return CLUSTER


@pytest.fixture
def scheme_table(monkeypatch):
    """The table of schemes, restored after the test."""
    monkeypatch.setattr(targets, "_factories", dict(targets._factories))
    return targets._factories


@pytest.mark.parametrize(
    ("spec", "env", "expected"),
    [
        (None, None, "local"),
        ("local", None, "local"),
        ("local://", None, "local://"),
        (None, "local", "local"),
        (None, "local://", "local://"),
        ("local", "nowhere://x", "local"),  # the argument wins over the environment
    ],
)
def test_a_target_is_chosen_by_name_uri_or_environment(monkeypatch, spec, env, expected):
    if env is None:
        monkeypatch.delenv(targets.TARGET_ENV, raising=False)
    else:
        monkeypatch.setenv(targets.TARGET_ENV, env)
    target = targets.get(spec)
    assert isinstance(target, LocalTarget)
    assert target.spec == expected


@pytest.mark.parametrize(
    ("spec", "env", "message"),
    [
        (
            "k8s://head:6443",
            None,
            "Unknown deploy target 'k8s://head:6443' (from target=); known targets: http, https, "
            "local, ray. Name one of them (a name like 'local', a URI like 'local://', or a "
            "server's URL like 'http://host:8765'), or install the package that provides 'k8s'.",
        ),
        (
            None,
            "k8s",
            "Unknown deploy target 'k8s' (from $MAAS_DEPLOY_TARGET); known targets: http, https, "
            "local, ray. Name one of them (a name like 'local', a URI like 'local://', or a "
            "server's URL like 'http://host:8765'), or install the package that provides 'k8s'.",
        ),
    ],
)
def test_an_unknown_target_names_the_known_ones(monkeypatch, spec, env, message):
    if env is not None:
        monkeypatch.setenv(targets.TARGET_ENV, env)
    with pytest.raises(ConfigurationError) as info:
        targets.get(spec)
    assert str(info.value) == message


def test_deploy_refuses_an_unknown_target_before_touching_anything(registry, classifier, iris):
    maas_nb.register(classifier, "iris", sample=iris[0][:5])
    with pytest.raises(ConfigurationError, match=r"^Unknown deploy target 'nowhere'"):
        maas_nb.deploy("iris", target="nowhere")
    assert registry.list_deployments() == []


def test_the_cli_names_the_unknown_target(registry, classifier, iris, capsys):
    maas_nb.register(classifier, "iris", sample=iris[0][:5])
    assert main(["deploy", "iris", "--target", "k8s://head:6443"]) == 1
    assert capsys.readouterr().err == (
        "maas: error: Unknown deploy target 'k8s://head:6443' (from target=); known "
        "targets: http, https, local, ray. Name one of them (a name like 'local', a URI like "
        "'local://', or a server's URL like 'http://host:8765'), or install the package "
        "that provides 'k8s'.\n"
    )


def test_a_registered_scheme_plugs_in_without_changing_the_callers(
    scheme_table, monkeypatch, registry, classifier, iris
):
    maas_nb.register(classifier, "iris", sample=iris[0][:5])
    registry.put_deployment("web", "iris", {"max_batch_size": 8})
    targets.register("cluster", PinnedTarget)
    assert targets.known() == ["cluster", "http", "https", "local", "ray"]
    monkeypatch.setenv(targets.TARGET_ENV, "cluster://head:10001")
    [dep] = maas_nb.deployments()
    assert (dep.name, dep.server, dep.deploy_target) == ("web", CLUSTER, "cluster://head:10001")
    assert dep.url == f"{CLUSTER}/v2/models/web/infer"
    local = maas_nb.deploying.get_deployment("web", target="local")
    assert (local.server, local.deploy_target) == ("", "local")


def test_a_target_comes_from_an_entry_point(scheme_table, tmp_path, monkeypatch):
    # An installed distribution that declares a target: its metadata on sys.path.
    info = tmp_path / "site" / "maas_pinned-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: maas-pinned\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(
        "[maas_nb.deploy_targets]\npinned = tests.deploying.test_targets:PinnedTarget\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    target = targets.get("pinned://somewhere")
    assert isinstance(target, PinnedTarget)
    assert target.spec == "pinned://somewhere"
    assert "pinned" in targets.known()  # found once, then kept in the table
