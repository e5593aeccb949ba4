"""A registering process killed with SIGKILL leaves no half-registered version behind."""

import os
import random
import signal
import subprocess
import sys

import numpy as np
import pytest
from sklearn.dummy import DummyRegressor

from maas_nb.exceptions import ArtifactError
from maas_nb.processes import pid_alive
from maas_nb.registry import Registry, crash_points
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


# -- kills inside each window of the write, held there by maas_nb.registry.crash_points --

HOST = """
import os
import sys
import traceback

from sklearn.dummy import DummyRegressor

from maas_nb.registry import Registry
from maas_nb.registry.crash_points import ENV


def model(i):
    # A constant of its own gives each version new bytes, so every write makes an artifact.
    return DummyRegressor(strategy="constant", constant=float(i)).fit([[0.0]], [0.0])


# Registering once here imports what a registration needs, so each forked writer need not.
Registry(sys.argv[2]).register(model(0), "warm-up")
print("ready", flush=True)
for line in sys.stdin:
    point, i, marker = line.rstrip("\\n").split(" ", 2)
    i = int(i)
    # A forked writer starts in milliseconds, where a new interpreter takes over a second.
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            registry = Registry(sys.argv[1])
            print("start", os.getpid(), flush=True)
            v = registry.register(model(i), "crash", tags={"i": i})
            print("ack", i, v.version, v.digest, flush=True)
            os.environ[ENV] = point + ":" + marker
            v = registry.register(model(i + 1), "crash", tags={"i": i + 1})
            print("ack", i + 1, v.version, v.digest, flush=True)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("reaped", pid, os.waitstatus_to_exitcode(status), flush=True)
"""

KILLS_PER_WINDOW = 5
#: What a reader sees while the writer is held at each point: the writer's temporary
#: files, new artifacts besides the acknowledged one, whether the held version is visible.
HELD_STATE = {
    crash_points.ARTIFACT_WRITTEN: (1, 0, False),
    crash_points.ARTIFACT_RENAMED: (0, 1, False),
    crash_points.BEFORE_COMMIT: (0, 1, False),
}


def blobs(home):
    return {p for p in (home / "artifacts" / "sha256").rglob("*") if p.is_file()}


class Host:
    """The HOST process: forks one writer per round and reports what it printed."""

    def __init__(self, proc, tmp_path):
        self.proc, self.tmp_path, self.rounds = proc, tmp_path, 0

    def expect(self, word):
        line = self.proc.stdout.readline()
        if line.split()[:1] != [word]:
            self.proc.kill()
            raise AssertionError(f"expected {word!r}, got {line!r}; {self.proc.communicate()[1]}")
        return line.split()[1:]

    def hold(self, point):
        """A writer that registers one version, acknowledges it, then holds at *point*."""
        marker = self.tmp_path / f"hold-{self.rounds}"
        i = 2 * self.rounds
        self.rounds += 1
        self.proc.stdin.write(f"{point} {i} {marker}\n")
        self.proc.stdin.flush()
        (pid,) = self.expect("start")
        tag, version, digest = self.expect("ack")
        assert tag == str(i)
        pid = int(pid)
        wait_for(lambda: marker.exists() or not pid_alive(pid), timeout=60, what=point)
        assert marker.read_text().split() == [str(pid), point]
        return pid, marker, i, (int(version), digest)


def held_state(registry, home, pid, before, acked_digest, held_tag):
    tmps = list((home / "artifacts" / "tmp").glob(f"{pid}-*.tmp"))
    new = blobs(home) - before - {registry.artifacts.path(acked_digest)}
    visible = any(v.tags["i"] == str(held_tag) for v in registry.list_versions("crash"))
    return (len(tmps), len(new), visible)


@pytest.mark.slow
def test_sigkill_inside_each_window_of_the_write(home, tmp_path, capsys):
    plan = list(crash_points.POINTS) * KILLS_PER_WINDOW
    kills = dict.fromkeys(crash_points.POINTS, 0)
    acked = {}  # tag -> (version, digest), as the writer reported them
    held_elsewhere, lost, without_bytes, unacknowledged, leftovers = [], set(), set(), set(), []
    registry = Registry(home)
    with running(HOST, str(home), str(tmp_path / "warm-up")) as proc:
        host = Host(proc, tmp_path)
        host.expect("ready")

        # Released instead of killed, a held write completes: the hold only waits, and the
        # version becomes visible at the commit, not before.
        pid, marker, i, acked[i] = host.hold(crash_points.BEFORE_COMMIT)
        assert not any(v.tags["i"] == str(i + 1) for v in registry.list_versions("crash"))
        marker.unlink()
        tag, version, digest = host.expect("ack")
        acked[int(tag)] = (int(version), digest)
        assert host.expect("reaped") == [str(pid), "0"]

        for point in plan:
            before = blobs(home)
            pid, marker, i, acked[i] = host.hold(point)
            # The writer says where it holds; what a reader sees must agree before it counts.
            state = held_state(registry, home, pid, before, acked[i][1], i + 1)
            os.kill(pid, signal.SIGKILL)
            assert host.expect("reaped") == [str(pid), str(-signal.SIGKILL)]
            if state == HELD_STATE[point]:
                kills[point] += 1
            else:
                held_elsewhere.append(f"{point}: {state}")

            registry = Registry(home)  # reopening removes the dead writer's temporary file
            leftovers += [p.name for p in (home / "artifacts" / "tmp").glob(f"{pid}-*.tmp")]
            visible = {int(v.tags["i"]): v for v in registry.list_versions("crash")}
            lost |= {
                t for t, vd in acked.items() if t not in visible or visible_as(visible[t]) != vd
            }
            unacknowledged |= {v.uri for t, v in visible.items() if t not in acked}
            without_bytes |= {v.uri for v in visible.values() if not intact(registry, v)}

    report = {
        "kills": kills,
        "held elsewhere than the window": held_elsewhere,
        "acknowledged versions lost": sorted(lost),
        "visible versions without bytes": sorted(without_bytes, key=by_version),
        "visible versions never acknowledged": sorted(unacknowledged, key=by_version),
        "temporary files left": leftovers,
    }
    with capsys.disabled():
        print(f"\ncrash windows: {report}")
    assert report == {
        "kills": dict.fromkeys(crash_points.POINTS, KILLS_PER_WINDOW),
        "held elsewhere than the window": [],
        "acknowledged versions lost": [],
        "visible versions without bytes": [],
        "visible versions never acknowledged": [],
        "temporary files left": [],
    }
    assert len(acked) == len(plan) + 2
    fresh = registry.register(DummyRegressor().fit([[0.0]], [1.0]), "after-crash")
    assert registry.load(fresh.uri).predict([[0.0]]).tolist() == [1.0]


def by_version(uri):
    return int(uri.rpartition(":")[2])


def visible_as(version):
    return (version.version, version.digest)


def intact(registry, version):
    try:
        return len(registry.artifacts.get(version.digest)) == version.size
    except ArtifactError:
        return False
