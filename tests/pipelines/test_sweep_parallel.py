"""Sweeps run up to `parallel` grid points at the same time, and the progress bar counts them.

Each point's notebook records, in its own output, when its cell started and ended (wall
clock) and the PIDs of its kernel and of the worker process driving it. The points of a
parallel sweep meet at a rendezvous: each waits until `expect` points have started (or 60 s
pass, which happens only when the points never meet), so with parallel=2 two points are in
their cell at once whatever the machine's load, and a sweep that ran them one after the
other shows two disjoint intervals.
"""

import json
import re

import nbformat
import pytest

from maas_nb.api import registry
from maas_nb.pipelines import sweep
from tests.helpers import write_notebook

RECORD = """import json, os, time
from pathlib import Path

started = time.time()
(Path(rendezvous) / f"started-{point}").touch()
deadline = time.monotonic() + 60
while len(list(Path(rendezvous).glob("started-*"))) < expect and time.monotonic() < deadline:
    time.sleep(0.01)
print(json.dumps({"point": point, "start": started, "end": time.time(),
                  "kernel": os.getpid(), "worker": os.getppid()}))"""


@pytest.fixture
def timing_nb(tmp_path):
    path = write_notebook(
        tmp_path / "timing.ipynb", RECORD, parameters='point = 0\nrendezvous = ""\nexpect = 1'
    )
    (tmp_path / "meet").mkdir()
    return path


def intervals(result):
    """What each point's notebook printed about itself, read from its executed notebook."""
    recorded = []
    for run in result.runs:
        assert run.status == "finished", run.error
        executed = nbformat.reads(registry().pipeline_notebook(run, executed=True).decode(), 4)
        (line,) = [o.text for c in executed.cells for o in c.get("outputs", []) if "text" in o]
        recorded.append(json.loads(line))
    assert [r["point"] for r in recorded] == list(range(len(result.runs)))
    return recorded


def most_at_once(recorded):
    """The largest number of points whose cells were running at the same instant."""
    events = sorted([(r["start"], 1) for r in recorded] + [(r["end"], -1) for r in recorded])
    running = peak = 0
    for _, step in events:
        running += step
        peak = max(peak, running)
    return peak


@pytest.mark.slow
def test_parallel_two_runs_two_points_at_once_and_never_three(timing_nb):
    meet = str(timing_nb.parent / "meet")
    result = sweep(
        timing_nb,
        {"point": [0, 1, 2], "rendezvous": [meet], "expect": [2]},
        parallel=2,
        progress=False,
    )
    recorded = intervals(result)
    spans = [(round(r["start"], 3), round(r["end"], 3)) for r in recorded]
    first, second, third = recorded
    assert first["start"] < second["end"] and second["start"] < first["end"], (
        f"points 0 and 1, the first two started with parallel=2, were not in their cells "
        f"at the same time; (start, end) per point: {spans}"
    )
    assert third["start"] > min(first["end"], second["end"]), (
        f"point 2 started before a slot was free (parallel=2); (start, end) per point: {spans}"
    )
    assert most_at_once(recorded) == 2, spans
    assert len({r["kernel"] for r in recorded}) == 3
    assert len({r["worker"] for r in recorded}) == 3  # a worker process per point


@pytest.mark.slow
def test_parallel_one_runs_points_one_after_the_other_with_a_progress_bar(timing_nb, capsys):
    meet = str(timing_nb.parent / "meet")
    result = sweep(timing_nb, {"point": [0, 1], "rendezvous": [meet]}, parallel=1)
    first, second = intervals(result)
    assert first["end"] < second["start"], (first, second)
    assert first["worker"] != second["worker"]

    # tqdm redraws the bar in place (carriage returns) on stderr: at the start, once per
    # finished point (the points are seconds apart), and again when it closes.
    frames = [f.strip() for f in capsys.readouterr().err.split("\r") if f.strip()]
    counts = [re.search(r"\| (\d)/2 \[", f).group(1) for f in frames]
    assert list(dict.fromkeys(counts)) == ["0", "1", "2"] and counts == sorted(counts), frames
    assert all(f.startswith("sweep timing.ipynb: ") for f in frames), frames
    assert re.match(r"sweep timing\.ipynb: 100%\|█+\| 2/2 \[", frames[-1]), frames
