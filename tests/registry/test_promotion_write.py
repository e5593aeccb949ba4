"""`Registry.put_deployment_moving_alias`: a promotion's alias move and row change in one
transaction, on each pair of stores (SQLite, and a real PostgreSQL)."""

import threading

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

    def settings(row, before, now):
        seen.append((row.config["generation"], before, now))
        return {"generation": 2, "moved": [before, now]}

    record = two.put_deployment_moving_alias(
        "web", "iris@production", settings, alias="production", to="iris@candidate"
    )
    assert seen == [(1, 1, 2)]
    assert (record.target, dict(record.config)) == (
        "iris@production",
        {"generation": 2, "moved": [1, 2]},
    )
    assert two.get("iris@production").version == 2
    assert two.get_deployment("web").config["generation"] == 2
    # An alias the model did not have yet: nothing named before.
    two.put_deployment_moving_alias(
        "web", "iris@stable", lambda row, before, now: {"b": before}, alias="stable", to="iris:1"
    )
    assert two.get_deployment("web").config == {"b": None}
    assert two.get("iris@stable").version == 1


def test_a_failure_inside_changes_neither(two):
    def settings(row, before, now):
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
            "nope", "iris@production", lambda r, b, n: {}, alias="production", to="iris:2"
        )
    with pytest.raises(VersionNotFoundError):
        two.put_deployment_moving_alias(
            "web", "iris@production", lambda r, b, n: {}, alias="production", to="iris:9"
        )
    assert two.get("iris@production").version == 1
    assert two.get_deployment("web").config == {"generation": 1, "keep": "me"}


def test_the_row_is_read_and_written_in_one_transaction(two):
    """A write of the row that starts while the settings are made waits for the commit:
    it is never lost under the promotion's write (a read-modify-write of the generation)."""
    other: list[threading.Thread] = []
    waited: list[bool] = []

    def settings(row, before, now):
        thread = threading.Thread(
            target=two.put_deployment, args=("web", "iris@production", {"generation": 7})
        )
        thread.start()
        other.append(thread)
        thread.join(timeout=1.0)  # it must not finish while this transaction holds the row
        waited.append(thread.is_alive())
        return {"generation": row.config["generation"] + 1}

    two.put_deployment_moving_alias(
        "web", "iris@production", settings, alias="production", to="iris:2"
    )
    other[0].join(timeout=60)
    assert waited == [True]
    assert two.get_deployment("web").config == {"generation": 7}  # the later write, kept
