"""A writer to an S3 artifact store killed inside each window of its write leaves no version
without its object; ``maas registry gc`` then removes exactly the orphans it left.

The writers are the forked processes of tests/registry/test_crash.py's HOST, held at each
crash point (after the upload, after its verification, before the commit) and killed.
"""

from __future__ import annotations

import os
import signal

import pytest

from maas_nb.exceptions import ArtifactError
from maas_nb.registry import Registry, crash_points, stores
from tests.helpers import running
from tests.registry.test_crash import HOST, Host

KILLS_PER_WINDOW = 2


def shared_objects(bucket) -> set[str]:
    return {a.digest for a in bucket.stored()}


def intact(bucket, version) -> bool:
    try:
        return len(bucket.get(version.digest)) == version.size
    except ArtifactError:
        return False


@pytest.mark.slow
def test_sigkill_inside_each_window_of_an_s3_write_then_gc(home, tmp_path, s3_uri, monkeypatch):
    monkeypatch.setenv("MAAS_ARTIFACTS_URI", s3_uri)  # the host and its writers inherit it
    bucket = stores.ARTIFACTS.open(s3_uri, "the test")  # S3 itself: no local cache between
    plan = list(crash_points.POINTS) * KILLS_PER_WINDOW
    acked: dict[int, tuple[int, str]] = {}
    seen: list[tuple[str, int, bool]] = []
    registry = Registry(home)
    with running(HOST, str(home), str(tmp_path / "warm-up")) as proc:
        host = Host(proc, tmp_path)
        host.expect("ready")
        for point in plan:
            before = shared_objects(bucket)
            pid, _, i, acked[i] = host.hold(point)
            # Held in every window, the object is in the bucket and its version is not.
            new = shared_objects(bucket) - before - {acked[i][1]}
            visible = any(v.tags["i"] == str(i + 1) for v in registry.list_versions("crash"))
            seen.append((point, len(new), visible))
            os.kill(pid, signal.SIGKILL)
            assert host.expect("reaped") == [str(pid), str(-signal.SIGKILL)]

    assert seen == [(point, 1, False) for point in plan]
    # The host warmed up on a registry of its own that shares this prefix; gc takes a
    # prefix to be one registry's, so that registry's model goes first.
    Registry(tmp_path / "warm-up").delete_model("warm-up")
    visible = {int(v.tags["i"]): v for v in registry.list_versions("crash")}
    assert {t: (v.version, v.digest) for t, v in visible.items()} == acked
    assert [v.uri for v in visible.values() if not intact(bucket, v)] == []

    # Each kill left one object that no version names; gc finds those and only those.
    named = {v.digest for v in visible.values()} | {
        r.notebook_digest for r in registry.list_pipeline_runs()
    }
    orphans = shared_objects(bucket) - named
    assert len(orphans) == len(plan)
    assert {a.digest for a in registry.gc(older_than=0)} == orphans
    assert shared_objects(bucket) == named
    assert [v.uri for v in visible.values() if not intact(bucket, v)] == []
