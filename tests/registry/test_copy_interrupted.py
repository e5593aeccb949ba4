"""An interrupted ``maas registry copy`` leaves whole records only, and running it again
finishes the job: a copying process killed in the middle (held at a write point by
`crash_points`, then SIGKILLed), and a target S3 server that drops one upload."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import pytest

from maas_nb.exceptions import ArtifactStoreUnavailableError
from maas_nb.registry import Registry, crash_points
from tests.helpers import ROOT, wait_for
from tests.registry.populated import NEW, home_registry, listing, loads_verified, populate, rows
from tests.registry.test_s3_interrupted import relay

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

#: Writes let through before the kill: the first two versions in the copy's order.
RELEASED = 2


@pytest.mark.slow
@pytest.mark.parametrize("point", [crash_points.ARTIFACT_WRITTEN, crash_points.BEFORE_COMMIT])
def test_a_copy_killed_midway_leaves_whole_records_and_a_rerun_finishes_it(
    stores, point, home, tmp_path, iris, monkeypatch
):
    laptop = home_registry(tmp_path / "laptop")
    populate(laptop, iris, monkeypatch)
    marker = tmp_path / "held"
    # ``-``: the registry of the environment (MAAS_HOME and the URIs of `stores`).
    command = [sys.executable, "-m", "maas_nb.cli", "registry", "copy", str(laptop.home), "-"]
    env = {**os.environ, crash_points.ENV: f"{point}:{marker}"}
    proc = subprocess.Popen(command, env=env, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    try:
        for _ in range(RELEASED):
            wait_for(marker.exists, timeout=120, interval=0.01, what=f"the copy to reach {point}")
            marker.unlink()  # let this write through
        wait_for(marker.exists, timeout=120, interval=0.01, what=f"the copy to reach {point}")
        os.kill(proc.pid, signal.SIGKILL)  # in the middle of the third version's write
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate(timeout=60)

    team = Registry(home)
    copied = [(m.name, v.version) for m in team.list_models() for v in team.list_versions(m.name)]
    assert copied == [("iris", 1), ("iris", 3)][:RELEASED]
    assert loads_verified(team, iris) == RELEASED
    assert team.list_runs() == []

    report = laptop.copy_to(team)
    assert report.new["versions"] == NEW["versions"] - RELEASED
    assert report.unchanged["versions"] == RELEASED
    assert listing(team) == listing(laptop)
    assert rows(team) == rows(laptop)
    assert loads_verified(team, iris) == NEW["versions"]


def test_the_target_s3_dropping_an_upload_stops_the_copy_and_a_rerun_finishes_it(
    postgres_uri, s3_server, s3_uri, home, tmp_path, iris, monkeypatch
):
    laptop = home_registry(tmp_path / "laptop")
    populate(laptop, iris, monkeypatch)
    monkeypatch.setenv("MAAS_ARTIFACTS_URI", s3_uri)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "2")  # one retry, which finds the relay gone
    empty = rows(Registry(home))
    with relay(s3_server.endpoint, cut=lambda: None) as proxy:
        monkeypatch.setenv("AWS_ENDPOINT_URL", proxy.endpoint)
        with pytest.raises(ArtifactStoreUnavailableError, match=" while uploading sha256:"):
            laptop.copy_to(Registry(home))
    assert proxy.done.is_set(), "the upload finished before the relay cut it"
    monkeypatch.setenv("AWS_ENDPOINT_URL", s3_server.endpoint)
    team = Registry(home)
    assert rows(team) == empty  # the version whose upload broke is not there

    assert laptop.copy_to(team).new == NEW
    assert listing(team) == listing(laptop)
    assert loads_verified(team, iris) == NEW["versions"]
