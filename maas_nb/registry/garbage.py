"""Finding the artifacts nothing names, for ``maas registry gc``.

A registration uploads its artifact before it commits the version row that names it, and
a process killed between the two leaves an object no version names. Collecting those
must never remove one that a version is about to name, so:

1. the store is listed *before* the names are read, so an object uploaded after the
   names were read is not a candidate at all;
2. only objects older than a grace period are candidates, and storing bytes that are
   already there refreshes their time (`ArtifactStore.put`), so a registration that
   reuses an old orphan's bytes makes it young again before it commits its row.

A registration that takes longer than the grace period between upload and commit could
still lose its object; the default period (an hour) is far beyond any real one.

An artifact store (a directory, a bucket prefix) belongs to one registry: gc removes what
*this* registry's records do not name, so two registries sharing one prefix would remove
each other's artifacts.
"""

from __future__ import annotations

import time

from .artifacts import ArtifactStore, StoredArtifact
from .store import MetadataStore

#: Seconds an unnamed artifact is left alone: it may belong to a registration under way.
GRACE_S = 3600.0


def named(store: MetadataStore) -> set[str]:
    """Every digest a version or a pipeline run (its notebook, its output) names."""
    digests = {v.digest for m in store.list_models() for v in store.list_versions(m.name)}
    for run in store.list_pipeline_runs():
        digests.add(run.notebook_digest)
        if run.output_digest is not None:
            digests.add(run.output_digest)
    return digests


def collect(
    store: MetadataStore, artifacts: ArtifactStore, *, older_than: float, dry_run: bool
) -> list[StoredArtifact]:
    """Remove (unless *dry_run*) and return the artifacts older than *older_than* seconds
    that nothing names."""
    cutoff = time.time() - older_than
    candidates = [a for a in artifacts.stored() if a.modified <= cutoff]
    keep = named(store)  # read after the listing: see the module docstring
    orphans = sorted((a for a in candidates if a.digest not in keep), key=lambda a: a.digest)
    if not dry_run:
        for orphan in orphans:
            artifacts.delete(orphan.digest)
    return orphans
