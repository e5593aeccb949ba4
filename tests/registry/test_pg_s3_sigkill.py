"""Registering processes SIGKILLed at random moments against PostgreSQL + S3 (moto).

A host process builds a model of about 12 MB (a nearest-neighbours model keeps its
training data), so that its upload takes a while, then forks one writer per round; each
writer registers new versions of it back to back until the test kills it. The moment of
each kill is drawn from a seeded generator: anywhere in the writer's life, at a random
point of an upload, or at a random point after one (verifying, committing). botocore's
history hook, read-only, tells the writer's output when its upload's request went out
and when its answer came, so the test knows where each kill landed.

Afterwards: every acknowledged version is there, versions are numbered without a gap (a
killed transaction gives its number back), every visible version loads from the bucket
with its digest checked, and ``maas registry gc`` removes exactly the objects no
version names, leaving every named one.
"""

from __future__ import annotations

import json
import os
import random
import signal
import sys
import time
from collections import Counter

import pytest

from maas_nb.cli import main
from maas_nb.registry import Registry, stores
from tests.helpers import running

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL")

HOST = """
import os
import sys
import time
import traceback

# One thread for OpenMP (the model's predict, which the signature calls): a pool of
# OpenMP threads does not survive a fork, and a writer would hang in its first predict.
os.environ["OMP_NUM_THREADS"] = "1"

import botocore.history
import numpy as np
from sklearn.neighbors import KNeighborsClassifier

from maas_nb.registry import Registry
from maas_nb.registry.postgres_connections import close_pools


class Uploads(botocore.history.BaseHistoryHandler):
    # Prints when an upload (a PUT) is sent and when its answer arrives.
    putting = False

    def emit(self, event_type, payload, source):
        if event_type == "HTTP_REQUEST" and payload.get("method") == "PUT":
            self.putting = True
            print("put", time.monotonic(), flush=True)
        elif event_type == "HTTP_RESPONSE" and self.putting:
            self.putting = False
            print("put-done", time.monotonic(), flush=True)


recorder = botocore.history.get_global_history_recorder()
recorder.add_handler(Uploads())
recorder.enable()

rng = np.random.default_rng(0)
rows = 12 * 2**20 // 64  # rows of 8 float64 features: about 12 MB of training data
model = KNeighborsClassifier(algorithm="brute").fit(
    rng.normal(size=(rows, 8)), rng.integers(0, 2, rows)
)


def register(registry, i):
    model.leaf_size = 1000 + i  # a parameter of its own: new bytes for every version
    return registry.register(model, "big", tags={"i": i})


v = register(Registry(sys.argv[1]), 0)  # imports, the schema and the bucket, once
print("ack", 0, v.version, v.digest, time.monotonic(), flush=True)
close_pools()  # each writer opens its own connections
print("ready", flush=True)
for line in sys.stdin:
    first = int(line)
    pid = os.fork()
    if pid == 0:
        code = 0
        try:
            registry = Registry(sys.argv[1])
            print("start", os.getpid(), time.monotonic(), flush=True)
            for i in range(first, first + 1000):
                v = register(registry, i)
                print("ack", i, v.version, v.digest, time.monotonic(), flush=True)
        except BaseException:
            traceback.print_exc()
            code = 1
        os._exit(code)
    _, status = os.waitpid(pid, 0)
    print("reaped", pid, os.waitstatus_to_exitcode(status), flush=True)
"""

SEED = 14
#: Kills drawn anywhere in a writer's life, inside an upload, and after one.
PLAN = ["anywhere"] * 12 + ["upload"] * 8 + ["after upload"] * 4
BEFORE, DURING, AFTER = "before the upload", "during the upload", "after the upload"


class Writers:
    """The HOST process: forks a writer per round and reports what it printed."""

    def __init__(self, proc) -> None:
        self.proc = proc
        self.acked: dict[int, tuple[int, str]] = {}  # tag -> (version, digest)
        self.since_ack: list[str] = []  # the upload's events since the writer's last ack

    def line(self) -> list[str]:
        line = self.proc.stdout.readline()
        if not line:
            self.proc.kill()
            raise AssertionError(f"the host exited: {self.proc.communicate()[1]}")
        words = line.split()
        if words[0] == "ack":
            self.acked[int(words[1])] = (int(words[2]), words[3])
        if words[0] in ("put", "put-done"):
            self.since_ack.append(words[0])
        elif words[0] in ("ack", "start"):
            self.since_ack = []
        return words

    def until(self, *wanted: str) -> list[str]:
        while (words := self.line())[0] not in wanted:
            pass
        return words

    def round(self, first: int, kill_when: str, rng: random.Random, times: dict) -> str:
        """Start a writer, kill it as *kill_when* says; where the kill landed."""
        self.proc.stdin.write(f"{first}\n")
        self.proc.stdin.flush()
        pid = int(self.until("start")[1])
        if kill_when == "anywhere":
            time.sleep(rng.uniform(0, 1.5 * times["registration"]))
        elif kill_when == "upload":
            self.until("put")
            time.sleep(rng.uniform(0, 0.8 * times["upload"]))
        else:
            self.until("put-done")
            time.sleep(rng.uniform(0, times["after upload"]))
        os.kill(pid, signal.SIGKILL)
        words = self.until("reaped")
        assert words[1:] == [str(pid), str(-signal.SIGKILL)], self.proc.stderr
        return {(): BEFORE, ("put",): DURING}.get(tuple(self.since_ack), AFTER)

    def measure(self) -> dict[str, float]:
        """How long a registration, its upload, and what follows the upload take (the
        first two registrations of a writer, killed after them)."""
        self.proc.stdin.write("1\n")
        self.proc.stdin.flush()
        pid = int(self.until("start")[1])
        events = []
        while (words := self.line())[:2] != ["ack", "2"]:
            events.append(float(words[-1]))
        os.kill(pid, signal.SIGKILL)
        self.until("reaped")
        put, done, ack, *_ = events
        return {
            "registration": float(words[-1]) - ack,
            "upload": done - put,
            "after upload": ack - done,
        }


@pytest.mark.slow
def test_sigkill_at_random_moments_against_postgres_and_s3(
    home, tmp_path, postgres_uri, s3_uri, monkeypatch, capsys
):
    monkeypatch.setenv("MAAS_ARTIFACTS_URI", s3_uri)  # the host and its writers inherit it
    rng = random.Random(SEED)
    plan = rng.sample(PLAN, len(PLAN))
    landed: Counter[str] = Counter()
    with running(HOST, str(home)) as proc:
        writers = Writers(proc)
        writers.until("ready")
        times = writers.measure()
        for n, kill_when in enumerate(plan):
            landed[writers.round(1000 * (n + 1), kill_when, rng, times)] += 1
    acked = writers.acked
    with capsys.disabled():
        print(f"\nkills landed: {dict(landed)}; {len(acked)} versions acknowledged; {times}")
    assert landed.total() == len(PLAN)
    assert landed[DURING] >= 3 and landed[BEFORE] >= 1 and landed[AFTER] >= 1, landed

    registry = Registry(home)
    visible = {int(v.tags["i"]): v for v in registry.list_versions("big")}
    assert [t for t in acked if (visible[t].version, visible[t].digest) != acked[t]] == []
    assert sorted(v.version for v in visible.values()) == list(range(1, len(visible) + 1))
    reader = Registry(tmp_path / "reader")  # an empty cache: every load reads the bucket
    loaded = {t: reader.load(v.uri).leaf_size for t, v in visible.items()}
    assert loaded == {t: 1000 + t for t in visible}

    bucket = stores.ARTIFACTS.open(s3_uri, "the test")  # S3 itself: no local cache between
    named = {v.digest for v in visible.values()}
    objects = {a.digest for a in bucket.stored()}
    orphans = objects - named
    assert named <= objects
    assert 1 <= len(orphans) <= landed[DURING] + landed[AFTER]
    assert registry.gc() == []  # all young: they might belong to registrations under way

    assert main(["registry", "gc", "--older-than", "0", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["removed"] == sorted(orphans)
    assert {a.digest for a in bucket.stored()} == named
    assert all(len(bucket.get(v.digest)) == v.size for v in visible.values())
    registry.delete_model("big")  # the session's S3 server keeps its objects in memory
    assert list(bucket.stored()) == []
