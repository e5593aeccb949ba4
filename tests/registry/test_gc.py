"""``maas registry gc``: artifacts no version names go; one a version names never does.

Runs against the local store and against S3 (moto), like the rest of the registry tests;
the rule that storing bytes again makes them young is shown on the local store, whose
file times a test can set back.
"""

from __future__ import annotations

import json
import os
import time

import pytest

import maas_nb
from maas_nb.cli import main


def age(registry, digest: str, seconds: float) -> None:
    """Make the local copy of *digest* look *seconds* old (S3 objects cannot be aged)."""
    path = registry.artifacts.path(digest)
    then = time.time() - seconds
    os.utime(path, (then, then))


@pytest.fixture
def populated(registry, classifier, regressor):
    """Two versions, a pipeline run with both notebooks, and one orphaned blob."""
    kept = [
        registry.register(classifier, "iris").digest,
        registry.register(regressor, "petal-width").digest,
    ]
    run = registry.start_pipeline_run("train", notebook="t.ipynb", source=b'{"cells": []}')
    registry.end_pipeline_run(run.id, status="finished", output=b'{"executed": 1}')
    kept += [run.notebook_digest, registry.get_pipeline_run(run.id).output_digest]
    orphan = registry.artifacts.put(b"uploaded by a registration killed before its commit")
    return kept, orphan


@pytest.mark.usefixtures("artifacts_uri")
def test_gc_removes_only_what_no_version_or_run_names(registry, populated, iris):
    kept, orphan = populated
    assert {a.digest for a in registry.artifacts.stored()} == {*kept, orphan}
    assert registry.gc() == []  # everything is young: a registration may be under way
    would = registry.gc(older_than=0, dry_run=True)
    assert [a.digest for a in would] == [orphan]
    assert registry.artifacts.exists(orphan)

    (removed,) = registry.gc(older_than=0)
    assert (removed.digest, removed.size) == (orphan, 51)
    assert not registry.artifacts.exists(orphan)
    assert {a.digest for a in registry.artifacts.stored()} == set(kept)
    assert registry.gc(older_than=0) == []
    X, _ = iris
    assert registry.load("iris:1").predict(X[:2]).shape == (2,)
    assert registry.load("petal-width:1").predict(X[:2, :3]).shape == (2,)


def test_storing_bytes_again_makes_them_young(registry, classifier):
    # On the local store only: an S3 object's time cannot be set back.
    data = maas_nb.flavors.get("sklearn").save(classifier)
    digest = registry.artifacts.put(data)
    age(registry, digest, 7200)
    assert [a.digest for a in registry.gc(dry_run=True)] == [digest]
    registry.artifacts.put(data)  # a registration reusing the orphan's bytes
    assert registry.gc() == []


@pytest.mark.usefixtures("artifacts_uri")
def test_maas_registry_gc_from_the_cli(registry, populated, capsys):
    kept, orphan = populated
    assert main(["registry", "gc", "--older-than", "0", "--dry-run", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data == {
        "artifacts_uri": registry.artifacts_uri,
        "dry_run": True,
        "removed": [orphan],
        "bytes": 51,
    }
    assert main(["registry", "gc", "--older-than", "0"]) == 0
    assert capsys.readouterr().out == (
        f"Removed 1 artifact(s) no version names (51 B) from {registry.artifacts_uri}\n"
    )
    assert main(["registry", "gc"]) == 0
    assert capsys.readouterr().out == (
        f"No artifact older than 3600 s is unnamed in {registry.artifacts_uri}; nothing to remove\n"
    )
    assert {a.digest for a in registry.artifacts.stored()} == set(kept)
