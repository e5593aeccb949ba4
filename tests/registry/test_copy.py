"""``Registry.copy_to``: a laptop's SQLite registry into the team's (PostgreSQL + S3, and
SQLite for the embedded default) and back gives the same records, numbers and bytes; a
second copy changes nothing; a conflict refuses the whole copy before any write."""

from __future__ import annotations

import pytest

from maas_nb.exceptions import ConflictError
from maas_nb.registry import Registry
from maas_nb.registry.artifacts import digest_of
from tests.registry.populated import (
    NEW,
    fitted,
    home_registry,
    listing,
    loads_verified,
    populate,
    rows,
)

KINDS = ("models", "versions", "aliases", "runs", "pipeline_runs")


def test_a_copy_there_and_back_gives_identical_listings_and_digests(
    stores, home, tmp_path, iris, monkeypatch
):
    laptop = home_registry(tmp_path / "laptop")
    populate(laptop, iris, monkeypatch)
    team = Registry(home)  # the stores of the parameter: PostgreSQL + S3, or SQLite

    report = laptop.copy_to(team)
    assert report.new == NEW
    assert report.unchanged == dict.fromkeys(KINDS, 0)
    assert report.deployments_not_copied == 1
    assert report.bytes_copied > sum(v.size for v in team.list_versions("iris"))
    assert listing(team) == listing(laptop)
    assert rows(team) == rows(laptop)
    assert loads_verified(team, iris) == NEW["versions"]
    for version in team.list_versions("iris"):
        assert digest_of(team.artifacts.get(version.digest)) == version.digest
    for run in team.list_pipeline_runs():
        assert team.pipeline_notebook(run) == laptop.pipeline_notebook(run)
    assert team.list_deployments() == []  # they belong to the laptop's server

    again = laptop.copy_to(team)
    assert (again.changed, again.new, again.bytes_copied) == (False, dict.fromkeys(NEW, 0), 0)
    assert again.unchanged == {k: NEW[k] for k in KINDS}
    assert rows(team) == rows(laptop)

    back = home_registry(tmp_path / "back")
    assert team.copy_to(back).new == NEW
    assert listing(back) == listing(laptop)
    assert rows(back) == rows(laptop)
    assert loads_verified(back, iris) == NEW["versions"]

    # Numbers go on from the source's counters, deleted versions included.
    assert team.register(fitted(iris, 1.0), "scratch").version == 2
    assert team.register(fitted(iris, 1.0), "iris").version == 5


def test_conflicting_records_refuse_the_whole_copy_before_any_write(
    stores, home, tmp_path, iris, monkeypatch
):
    laptop = home_registry(tmp_path / "laptop")
    laptop.register(fitted(iris, 0.1), "iris")
    laptop.register(fitted(iris, 0.2), "old")
    laptop.register(fitted(iris, 0.3), "petal")
    team = Registry(home)
    theirs = team.register(fitted(iris, 5.0), "iris")  # another iris:1
    team.register(fitted(iris, 6.0), "old")
    team.delete_version("old:1")  # the number 1 was given out on the team's registry
    before = rows(team)

    with pytest.raises(ConflictError) as info:
        laptop.copy_to(team)
    ours = laptop.get("iris:1").digest
    source = f"{laptop.registry_uri} + {laptop.artifacts_uri}"
    target = f"{team.registry_uri} + {team.artifacts_uri}"
    assert str(info.value) == (
        f"Cannot copy {source} to {target}: 2 record(s) conflict with the target's, so "
        "nothing was copied:\n"
        f"  - iris:1 is in both registries with different artifacts (target {theirs.digest}, "
        f"source {ours}).\n"
        "  - old:1 was given out by the target registry and deleted there (its counter is "
        "at 1); a copy would reuse the number.\n"
        "Resolve each in one of the two registries (delete or re-point it there, or register "
        "it under another name), or copy into an empty registry; then copy again."
    )
    assert rows(team) == before  # petal, which conflicts with nothing, is not there either

    team.delete_model("iris")
    with pytest.raises(ConflictError, match=r": 2 record\(s\) conflict"):
        laptop.copy_to(team)  # iris:1 too was given out on the target now
    laptop.delete_model("iris")
    laptop.delete_model("old")
    assert laptop.copy_to(team).new["versions"] == 1


def test_a_moved_alias_conflicts_and_a_run_copied_while_running_is_brought_up_to_date(
    stores, home, tmp_path, iris, monkeypatch
):
    laptop = home_registry(tmp_path / "laptop")
    laptop.register(fitted(iris, 0.1), "iris")
    laptop.register(fitted(iris, 0.2), "iris", alias="production")
    run = laptop.start_run("fit")
    team = Registry(home)
    assert laptop.copy_to(team).new["runs"] == 1
    assert team.get_run(run.id).status == "running"

    laptop.end_run(run.id, metrics={"accuracy": 0.97})
    laptop.register(fitted(iris, 0.3), "iris")
    report = laptop.copy_to(team)
    assert (report.new["versions"], report.updated["runs"]) == (1, 1)
    assert listing(team) == listing(laptop)

    team.set_alias("iris:1", "production")  # someone on the team moves it back
    laptop.register(fitted(iris, 0.4), "iris")
    with pytest.raises(ConflictError) as info:
        laptop.copy_to(team)
    assert (
        "1 record(s) conflict with the target's, so nothing was copied:\n"
        "  - iris@production points at iris:1 in the target registry and at iris:2 in the "
        "source.\n"
    ) in str(info.value)
    assert [v.version for v in team.list_versions("iris")] == [1, 2, 3]

    team.end_run(run.id, status="failed")  # and a run that ended otherwise conflicts too
    team.set_alias("iris:2", "production")
    with pytest.raises(ConflictError, match=r"The training run \w{12} is in both registries "):
        laptop.copy_to(team)


def test_copying_a_registry_onto_itself_is_refused(tmp_path):
    laptop = home_registry(tmp_path / "laptop")
    with pytest.raises(
        ValueError, match="needs two different registries, got the database sqlite:///"
    ):
        laptop.copy_to(home_registry(tmp_path / "laptop"))


def test_the_target_store_checks_each_record_again_under_its_write_lock(stores, home, iris):
    """A record changed on the target after the copy read it is refused, not overwritten."""
    team = Registry(home)
    theirs = team.register(fitted(iris, 0.1), "iris", alias="production")
    found = team.store.export_rows()
    model, version = found["models"][0], dict(found["versions"][0])
    assert team.store.import_version(model, version, inside=lambda: None) is False  # the same

    version["digest"] = "sha256:" + "0" * 64
    with pytest.raises(ConflictError) as info:
        team.store.import_version(model, version, inside=lambda: None)
    assert str(info.value) == (
        f"iris:1 is in both registries with different artifacts (target {theirs.digest}, "
        f"source sha256:{'0' * 64}). Nothing was written for it."
    )
    with pytest.raises(ConflictError, match=r"^iris@production points at iris:1 in the target"):
        team.store.import_alias({"name": "iris", "alias": "production", "version": 2})
    assert rows(team) == found
