"""``maas_nb.traffic``, ``maas traffic`` and ``%maas traffic``: the split written into the
deployment's row, waited for on the home's server, shown by ``deployments``."""

from __future__ import annotations

import collections
import json

import httpx
import pytest
from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb import flavors
from maas_nb.cli import main
from maas_nb.exceptions import ConfigurationError, DeploymentFailedError
from tests.flavors import crafted
from tests.notebook.conftest import TestingShell as Shell
from tests.notebook.conftest import out

ROW = {"instances": [[5.1, 3.5, 1.4, 0.2]]}


@pytest.fixture
def two_versions(iris):
    X, y = iris
    first = LogisticRegression(max_iter=1000).fit(X, y)
    maas_nb.register(first, "iris", sample=X[:5], alias="production")
    shifted = LogisticRegression(max_iter=1000).fit(X, (y + 1) % 3)
    maas_nb.register(shifted, "iris", sample=X[:5], alias="candidate")


def versions_answering(url: str, n: int, headers: dict | None = None) -> collections.Counter:
    seen: collections.Counter = collections.Counter()
    with httpx.Client(trust_env=False, timeout=30) as client:
        for _ in range(n):
            r = client.post(f"{url}/v1/models/iris:predict", json=ROW, headers=headers)
            assert r.status_code == 200, r.text
            seen[r.headers["x-maas-version"]] += 1
    return seen


def test_traffic_writes_the_split_and_returns_once_it_serves(two_versions):
    dep = maas_nb.deploy("iris@production")
    split = maas_nb.traffic("iris", {"production": 70, "2": 30}, sticky=True)
    assert split.target == "iris@production"
    record = maas_nb.registry().get_deployment("iris")
    assert record.config["traffic"] == [
        {"target": "iris@production", "weight": 70},
        {"target": "iris:2", "weight": 30},
    ]
    assert (record.config["generation"], record.config["sticky"]) == (2, "X-Maas-Key")
    assert record.config["revision"] == dep.config["revision"]  # the row's settings kept
    (state,) = maas_nb.deploying.server_states().values()
    assert (state["status"], state["generation"]) == ("ready", 2)
    assert set(versions_answering(split.server, 200)) == {"iris:1", "iris:2"}
    sticky = versions_answering(split.server, 50, headers={"X-Maas-Key": "ada"})
    assert len(sticky) == 1
    # Back to one version: the candidate takes no traffic at all.
    maas_nb.traffic("iris", {"production": 100, "candidate": 0})
    assert maas_nb.registry().get_deployment("iris").config["generation"] == 3
    assert "sticky" not in maas_nb.registry().get_deployment("iris").config
    assert versions_answering(split.server, 300) == {"iris:1": 300}


def test_a_split_the_server_cannot_load_says_why_and_the_old_one_serves(two_versions, iris):
    X, y = iris
    dep = maas_nb.deploy("iris@production")
    data = crafted.rewrite(
        flavors.get("sklearn").save(crafted.base_model(X, y)),
        crafted.function("sklearn.utils._testing", "check_output"),
    )
    crafted.put_version(maas_nb.registry(), "iris", data)  # iris:3
    with pytest.raises(DeploymentFailedError) as info:
        maas_nb.traffic("iris", {"production": 90, "3": 10})
    message = str(info.value)
    assert message.startswith(
        "The server could not load traffic generation 2 of deployment 'iris': "
        "UntrustedModelError: Model 'iris:3' contains types that maas_nb does not trust"
    )
    assert message.endswith(
        "Generation 1 serves on; fix the arm (or set another split) and run traffic again."
    )
    assert versions_answering(dep.server, 50) == {"iris:1": 50}


@pytest.mark.parametrize(
    ("weights", "shadow", "message"),
    [
        (
            {"production": 90, "candidate": 20},
            None,
            "Traffic weights must sum to 100, got 110 (production=90 candidate=20); adjust "
            "them, e.g. production=90 candidate=10.",
        ),
        (
            {"production": 90.5, "candidate": 9.5},
            None,
            "The weight of arm 'production' must be a whole percent from 0 to 100, got 90.5; "
            "for example production=90 candidate=10.",
        ),
        (
            {"production": 90, "other@candidate": 10},
            None,
            "Traffic arm 'other@candidate' names model 'other', but the deployment serves "
            "model 'iris'; use one of its aliases or versions (iris@candidate, iris:3).",
        ),
        (
            {"production": 50, "iris@production": 50},
            None,
            "Arm 'iris@production' is given twice; give each version or alias one weight.",
        ),
        (
            {},
            None,
            "A traffic split needs at least one arm, got none; give weights such as "
            "production=90 candidate=10.",
        ),
        (
            {"production": 100},
            {"candidate": 0},
            "The shadow percent of 'candidate' must be above 0 and at most 100, got 0; for "
            "example candidate=5.",
        ),
    ],
)
def test_a_bad_split_is_refused_before_anything_changes(two_versions, weights, shadow, message):
    maas_nb.registry().put_deployment("iris", "iris@production", {})
    with pytest.raises(ConfigurationError) as info:
        maas_nb.traffic("iris", weights, shadow=shadow)
    assert str(info.value) == message
    assert maas_nb.registry().get_deployment("iris").config == {}


def test_the_cli_and_the_magic_set_and_show_a_split(two_versions, capsys, home, iris):
    maas_nb.deploy("iris@production")
    code = main(["traffic", "iris", "production=90", "candidate=10", "--sticky", "X-User"])
    text, err = capsys.readouterr()
    assert code == 0, err
    assert text.splitlines()[:4] == [
        "Deployment iris",
        "  traffic     production=90 candidate=10",
        "  generation  2",
        "  sticky      X-User",
    ]
    assert main(["--json", "deployments"]) == 0
    (entry,) = json.loads(capsys.readouterr().out)
    assert (entry["generation"], [a["weight"] for a in entry["arms"]]) == (2, [90, 10])
    shell = Shell.instance()
    try:
        shell.run_cell("%load_ext maas_nb")
        card = out(shell, "traffic iris production=50 candidate=50 --shadow candidate=5")
        assert card == (
            "Deployment iris\n  traffic     production=50 candidate=50 shadow:candidate=5%\n"
            "  generation  3\n  status      ready"
        )
        split = "production=50 candidate=50 shadow:candidate=5%"
        by = maas_nb.registry().get_deployment("iris").created_by
        assert out(shell, "deployments") == (
            f"name  target           {'traffic':{len(split)}}  version  status  by\n"
            f"iris  iris@production  {split}  1        ready   {by}"
        )
        with pytest.raises(Exception) as info:
            shell.run_line_magic("maas", "traffic iris production=ninety")
        assert str(info.value) == (
            "Each arm is ARM=WEIGHT with a whole percent, got 'production=ninety'; for example "
            "%maas traffic iris production=90 candidate=10."
        )
    finally:
        Shell.clear_instance()
