"""The versions a page of pipeline runs registered (the REGISTERED column of ``maas runs``
and of the panel's Runs tab), read by one query on the run ids in the versions' lineage,
on each pair of stores."""

from __future__ import annotations

import pytest

from maas_nb.registry import Registry

pytestmark = pytest.mark.usefixtures("stores")


def test_each_run_gets_the_versions_it_registered_with_their_aliases(classifier):
    reg = Registry()
    reg.register(classifier, "iris", lineage={"pipeline_run": "run-a"})
    reg.register(classifier, "forest", lineage={"pipeline_run": "run-b"})
    reg.register(classifier, "iris", lineage={"pipeline_run": "run-b"}, alias="production")
    reg.register(classifier, "iris")  # made outside any pipeline run
    reg.register(classifier, "iris", lineage={"pipeline_run": "run-c", "notebook": "x.ipynb"})

    made = reg.versions_made_by(["run-b", "run-a", "run-b", "run-none"])

    assert {k: [v.uri for v in vs] for k, vs in made.items()} == {
        "run-a": ["iris:1"],
        "run-b": ["forest:1", "iris:2"],  # by name, then number
    }
    assert made["run-b"][1].aliases == ("production",)
    assert made["run-b"][1].lineage == {"pipeline_run": "run-b"}
    assert reg.versions_made_by([]) == {}
    assert [v.uri for v in reg.versions_made_by(iter(["run-c"]))["run-c"]] == ["iris:4"]


def test_a_page_of_many_run_ids_is_answered_whole(classifier):
    """More ids than one statement takes at a time (500): every run still gets its own."""
    reg = Registry()
    reg.register(classifier, "iris", lineage={"pipeline_run": "run-0007"})
    reg.register(classifier, "iris", lineage={"pipeline_run": "run-1203"})
    ids = [f"run-{i:04d}" for i in range(1300)]

    made = reg.versions_made_by(ids)

    assert {k: [v.uri for v in vs] for k, vs in made.items()} == {
        "run-0007": ["iris:1"],
        "run-1203": ["iris:2"],
    }
