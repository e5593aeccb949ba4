"""A registering process killed with SIGKILL leaves no half-registered version behind."""

import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest

from maas_nb.registry import Registry
from tests.helpers import running, wait_for

WRITER = """
import sys
import numpy as np
from sklearn.neighbors import KNeighborsClassifier
from maas_nb.registry import Registry

registry = Registry(sys.argv[1])
rng = np.random.default_rng(0)
# About 40 MB of training data kept by the model: every write takes a while.
model = KNeighborsClassifier().fit(rng.normal(size=(320_000, 16)), rng.integers(0, 2, 320_000))
print("ready", flush=True)
for i in range(1000):
    registry.register(model, "big", tags={"i": i})
    print(i, flush=True)
"""

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")


def check_consistent(home):
    """Every visible version has an intact artifact; the registry still registers."""
    registry = Registry(home)
    versions = registry.list_versions("big") if registry.list_models() else []
    for v in versions:
        data = registry.artifacts.get(v.digest)  # raises if missing or corrupted
        assert len(data) == v.size
    from sklearn.dummy import DummyClassifier

    fresh = registry.register(DummyClassifier().fit(np.zeros((2, 1)), [0, 1]), "after-crash")
    assert registry.load(fresh.uri).predict(np.zeros((1, 1))).shape == (1,)
    return registry, versions


def wait_ready(proc):
    assert proc.stdout.readline().strip() == "ready", proc.stderr.read()


@pytest.mark.slow
def test_sigkill_while_the_artifact_is_being_written(home):
    Registry(home)
    tmp_dir = home / "artifacts" / "tmp"
    with running(WRITER, str(home)) as proc:
        wait_ready(proc)
        wait_for(lambda: any(tmp_dir.glob("*.tmp")), timeout=120, what="a temporary artifact file")
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL
    _, versions = check_consistent(home)
    # The half-written temporary file of the dead process was cleaned up on reopening.
    assert not any(tmp_dir.glob(f"{proc.pid}-*.tmp"))
    committed = {v.tags["i"] for v in versions}
    assert committed == {str(i) for i in range(len(versions))}


@pytest.mark.slow
def test_sigkill_at_random_moments(home):
    Registry(home)
    rng = random.Random(1234)
    for _ in range(3):
        with running(WRITER, str(home)) as proc:
            wait_ready(proc)
            # Let it register one version, then kill it at a random point of the next ones.
            assert proc.stdout.readline().strip().isdigit()
            deadline_kill(proc, rng.uniform(0.0, 0.4))
        _, versions = check_consistent(home)
    assert [v.version for v in versions] == sorted(v.version for v in versions)


def deadline_kill(proc, delay):
    """SIGKILL *proc* after *delay* seconds, unless it has ended by then."""
    try:
        proc.wait(timeout=delay)
    except subprocess.TimeoutExpired:
        os.kill(proc.pid, signal.SIGKILL)
    proc.wait(timeout=30)
