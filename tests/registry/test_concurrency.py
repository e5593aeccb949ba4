"""Many processes writing one registry at once: no gaps, no duplicates, no lock errors,
on SQLite and on PostgreSQL (whose version counter is bumped with ``RETURNING``)."""

import contextlib
import json

import pytest

from maas_nb.registry import Registry
from tests.helpers import running

WORKER = """
import json, sys
import numpy as np
from sklearn.dummy import DummyClassifier
from maas_nb.registry import Registry

home, worker, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
registry = Registry(home)
model = DummyClassifier().fit(np.zeros((4, 2)), [0, 1, 0, 1])
print("ready", flush=True)
sys.stdin.readline()  # the barrier: every worker starts registering at once
versions = [
    registry.register(model, "shared", tags={"worker": worker, "i": i}).version
    for i in range(count)
]
print(json.dumps(versions), flush=True)
"""


@pytest.mark.slow
@pytest.mark.usefixtures("stores")
def test_eight_processes_register_two_hundred_versions(home):
    Registry(home)  # create the schema once, so the race is on versions, not on setup
    with contextlib.ExitStack() as stack:
        workers = [stack.enter_context(running(WORKER, str(home), str(w), "25")) for w in range(8)]
        for proc in workers:
            assert proc.stdout.readline().strip() == "ready", proc.stderr.read()
        for proc in workers:
            proc.stdin.write("go\n")
            proc.stdin.flush()
        results = []
        for proc in workers:
            out, err = proc.communicate(timeout=300)
            assert proc.returncode == 0, err
            assert "locked" not in err
            results.append(json.loads(out.strip().splitlines()[-1]))

    every = sorted(v for versions in results for v in versions)
    assert every == list(range(1, 201))
    for versions in results:
        assert versions == sorted(versions)
    stored = Registry(home).list_versions("shared")
    assert [v.version for v in stored] == list(range(1, 201))
    by_worker = {(v.tags["worker"], v.tags["i"]) for v in stored}
    assert len(by_worker) == 200
