"""`Registry.put_deployment_moving_alias`: a promotion's alias move and row change in one
transaction, on each pair of stores (SQLite, and a real PostgreSQL)."""

import pytest

from maas_nb.exceptions import DeploymentNotFoundError, VersionNotFoundError
from maas_nb.registry import Registry

pytestmark = pytest.mark.usefixtures("stores")


@pytest.fixture
def two(classifier) -> Registry:
    registry = Registry()
    registry.register(classifier, "iris", alias="production")
    registry.register(classifier, "iris", alias="candidate")
    registry.put_deployment("web", "iris@production", {"generation": 1, "keep": "me"})
    return registry


def test_the_alias_and_the_row_change_together(two):
    seen = []

    def settings(before, now):
        seen.append((before, now))
        return {"generation": 2, "moved": [before, now]}

    record = two.put_deployment_moving_alias(
        "web", "iris@production", settings, alias="production", to="iris@candidate"
    )
    assert seen == [(1, 2)]
    assert (record.target, dict(record.config)) == (
        "iris@production",
        {"generation": 2, "moved": [1, 2]},
    )
    assert two.get("iris@production").version == 2
    assert two.get_deployment("web").config["generation"] == 2
    # An alias the model did not have yet: nothing named before.
    two.put_deployment_moving_alias(
        "web", "iris@stable", lambda before, now: {"b": before}, alias="stable", to="iris:1"
    )
    assert two.get_deployment("web").config == {"b": None}
    assert two.get("iris@stable").version == 1


def test_a_failure_inside_changes_neither(two):
    def settings(before, now):
        raise RuntimeError("the settings could not be made")

    with pytest.raises(RuntimeError):
        two.put_deployment_moving_alias(
            "web", "iris@production", settings, alias="production", to="iris:2"
        )
    assert two.get("iris@production").version == 1  # the alias moved inside: undone
    assert two.get_deployment("web").config == {"generation": 1, "keep": "me"}


def test_a_missing_deployment_or_version_changes_nothing(two):
    with pytest.raises(DeploymentNotFoundError):
        two.put_deployment_moving_alias(
            "nope", "iris@production", lambda b, n: {}, alias="production", to="iris:2"
        )
    with pytest.raises(VersionNotFoundError):
        two.put_deployment_moving_alias(
            "web", "iris@production", lambda b, n: {}, alias="production", to="iris:9"
        )
    assert two.get("iris@production").version == 1
    assert two.get_deployment("web").config == {"generation": 1, "keep": "me"}
