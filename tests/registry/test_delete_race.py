"""Deleting the last version that names some bytes while another client registers the
same bytes: the new version keeps its object (on SQLite's write lock; on PostgreSQL a
lock on the digest, since its writers otherwise run side by side)."""

from __future__ import annotations

import os
import threading

from maas_nb.registry import Registry, crash_points
from tests.helpers import running, wait_for

WRITER = """
from sklearn.dummy import DummyClassifier
from maas_nb import flavors
from maas_nb.registry import Registry

registry = Registry()
model = DummyClassifier(strategy="prior").fit([[0.0], [1.0]], [0, 1])
# The very bytes of first:1 (skops stamps its zip entries with the time of saving).
same = registry.artifacts.get(registry.get("first:1").digest)
type(flavors.for_model(model)).save = lambda self, model: same
print(registry.register(model, "second").uri, flush=True)
"""


def test_a_delete_never_removes_the_bytes_a_registration_is_committing(
    stores, home, tmp_path, monkeypatch
):
    from sklearn.dummy import DummyClassifier

    registry = Registry()
    first = registry.register(
        DummyClassifier(strategy="prior").fit([[0.0], [1.0]], [0, 1]), "first"
    )
    marker = tmp_path / "held"
    monkeypatch.setenv(crash_points.ENV, f"{crash_points.BEFORE_COMMIT}:{marker}")
    with running(WRITER) as writer:
        monkeypatch.delenv(crash_points.ENV)
        wait_for(marker.exists, timeout=60, what="the writer held before its commit")
        deleted = threading.Event()

        def delete() -> None:
            registry.delete_version(first.uri)
            deleted.set()

        deleter = threading.Thread(target=delete)
        deleter.start()
        # The delete must wait for the registration holding the same bytes: give it
        # the time to finish if nothing made it wait (it takes milliseconds).
        waited = not deleted.wait(timeout=2.0)
        os.remove(marker)  # release the writer: it commits
        out, err = writer.communicate(timeout=60)
        deleter.join(timeout=60)
    assert writer.returncode == 0, err
    assert out.strip() == "second:1"
    assert waited, "the delete ran while a registration of the same bytes was uncommitted"
    assert [v.uri for v in registry.list_versions("first")] == []
    second = registry.get("second:1")
    assert second.digest == first.digest
    assert registry.load("second:1").predict([[0.0]]).tolist() == [0]
