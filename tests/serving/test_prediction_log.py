"""The prediction log sink: its sample rate, its size limit and rotation, what a line holds,
that `record` never waits, and its place in the server's lifespan.

Part A of issue 16 (traffic splits) adds the call of `pool.sinks` on every answered
request; until it is merged these tests hand `Outcome` objects to the sink directly, as
that call will.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
import random
import time

import numpy as np
import pytest

from maas_nb.registry import Registry
from maas_nb.serving.app import create_app
from maas_nb.serving.outcomes import Outcome
from maas_nb.serving.prediction_log import (
    MAX_QUEUED,
    MAX_ROWS,
    SUFFIX,
    LogSettings,
    PredictionLog,
    lines,
    log_dir,
)
from maas_nb.serving.rows import Rows
from tests.helpers import offer, wait_for


def outcome(i: int = 0, rows: int = 2, deployment: str = "iris", **changes) -> Outcome:
    X = np.arange(rows * 4, dtype=np.float64).reshape(rows, 4) + i
    fields = dict(
        deployment=deployment,
        model="iris",
        version=1,
        request_id=f"req-{i}",
        latency_s=0.0015,
        rows=rows,
        inputs=X,
        outputs={"predictions": np.arange(rows), "probabilities": np.full((rows, 3), 1 / 3)},
        shadow=False,
        at=1_700_000_000.0 + i,
    )
    fields.update(changes)
    return Outcome(**fields)


def read_lines(home, deployment="iris"):
    return [
        json.loads(line)
        for path in sorted(log_dir(home, deployment).glob(f"*{SUFFIX}"))
        for line in path.read_bytes().splitlines()
    ]


def sink(home, config, seed=0, **kwargs) -> PredictionLog:
    return PredictionLog(home, lambda deployment: config, rng=random.Random(seed), **kwargs)


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("rate", [0.01, 0.1, 0.5])
def test_the_sample_rate_holds_within_five_standard_deviations(tmp_path, seed, rate):
    n = 20_000
    log = sink(tmp_path, {"sample": rate}, seed)
    for i in range(n):
        offer(log, outcome(i, rows=1))
    log.close()
    logged = len(read_lines(tmp_path))
    bound = 5 * math.sqrt(n * rate * (1 - rate))
    assert abs(logged - n * rate) <= bound, (logged, n * rate, bound)
    assert logged == log.written


@pytest.mark.parametrize(
    "config",
    [None, {}, {"sample": 0}, {"sample": 0.0, "max_bytes": 1 << 20}],
    ids=["no config", "empty", "zero", "zero with a cap"],
)
def test_nothing_is_logged_unless_a_deployment_asks(tmp_path, config):
    log = sink(tmp_path, config)
    for i in range(100):
        offer(log, outcome(i))
    log.close()
    assert not log_dir(tmp_path, "iris").exists()


@pytest.mark.parametrize(
    ("value", "message"),
    [
        (
            "1%",
            'log must be a dict such as {"sample": 0.01, "max_bytes": 67108864}, got str: \'1%\'.',
        ),
        (
            {"sample": 2},
            "log sample is the fraction of requests logged, from 0 to 1, got 2; for 1% write 0.01.",
        ),
        ({"sample": "all"}, "log sample must be a number from 0 to 1, got 'all'."),
        (
            {"sample": 0.1, "max_bytes": 10},
            "log max_bytes must be at least 16384 (16 KiB), got 10.",
        ),
        (
            {"sample": 0.1, "max_bytes": 1.5e6},
            "log max_bytes must be a whole number, got 1500000.0.",
        ),
    ],
)
def test_bad_settings_say_what_was_wrong(value, message):
    with pytest.raises(ValueError) as caught:
        LogSettings.parse(value)
    assert str(caught.value) == message


def test_a_bad_config_on_the_server_logs_nothing_and_says_so(tmp_path, caplog):
    log = sink(tmp_path, {"sample": 5})
    offer(log, outcome())
    offer(log, outcome(1))
    log.close()
    assert not log_dir(tmp_path, "iris").exists()
    warned = [r.getMessage() for r in caplog.records if "is not logged" in r.getMessage()]
    assert len(warned) == 1  # once per config, not once per request
    assert warned[0].startswith("Deployment 'iris' is not logged: log sample is the fraction")


def test_a_line_per_row_with_inputs_outputs_version_latency_and_id(tmp_path):
    log = sink(tmp_path, {"sample": 1.0})
    offer(log, outcome(7, rows=2))
    offer(log, outcome(8, rows=1, shadow=True, version=2))
    log.close()
    first, second, shadow = read_lines(tmp_path)
    assert first == {
        "at": 1_700_000_007.0,
        "request_id": "req-7",
        "model": "iris",
        "version": 1,
        "latency_ms": 1.5,
        "shadow": False,
        "row": 0,
        "inputs": {"x0": 7.0, "x1": 8.0, "x2": 9.0, "x3": 10.0},
        "outputs": {"predictions": 0, "probabilities": [1 / 3, 1 / 3, 1 / 3]},
    }
    assert (second["row"], second["inputs"]["x0"], second["outputs"]["predictions"]) == (1, 11.0, 1)
    assert (shadow["shadow"], shadow["version"], shadow["request_id"]) == (True, 2, "req-8")


def test_frames_text_and_missing_values_are_logged_by_name(tmp_path):
    import pandas as pd

    log = sink(tmp_path, {"sample": 1.0})
    frame = pd.DataFrame({"sl": [1.0, float("nan")], "kind": ["a", "b"]})
    offer(log, outcome(rows=2, inputs=frame, outputs={"predictions": np.array(["x", "y"])}))
    offer(log, outcome(rows=1, inputs=["some text"], outputs={"predictions": np.array([0.5])}))
    offer(log, outcome(rows=1, inputs=None))  # a sink may be given no inputs
    log.close()
    rows = read_lines(tmp_path)
    assert [r["inputs"] for r in rows] == [
        {"sl": 1.0, "kind": "a"},
        {"sl": None, "kind": "b"},
        {"text": "some text"},
        {},
    ]
    assert [r["outputs"]["predictions"] for r in rows] == ["x", "y", 0.5, 0]


def test_the_servers_decoded_rows_are_logged_by_column(tmp_path):
    log = sink(tmp_path, {"sample": 1.0})
    frame = Rows("dataframe", {"sl": np.array([1.5]), "kind": np.array(["a"], dtype=object)}, 1)
    offer(log, outcome(rows=1, inputs=frame))
    offer(log, outcome(rows=1, inputs=Rows("tensor", np.array([[1.0, 2.0]]), 1)))
    log.close()
    assert [r["inputs"] for r in read_lines(tmp_path)] == [
        {"sl": 1.5, "kind": "a"},
        {"x0": 1.0, "x1": 2.0},
    ]


def test_a_big_request_logs_at_most_max_rows_rows():
    assert len(lines(outcome(rows=MAX_ROWS * 3))) == MAX_ROWS


def test_the_log_stays_within_its_size_limit_and_keeps_the_newest(tmp_path):
    max_bytes = 64 * 1024
    log = sink(tmp_path, {"sample": 1.0, "max_bytes": max_bytes})
    sizes = []
    for i in range(3_000):
        offer(log, outcome(i, rows=1))
        if i % 100 == 99:
            log.flush()
            files = list(log_dir(tmp_path, "iris").glob(f"*{SUFFIX}"))
            sizes.append(sum(p.stat().st_size for p in files))
    log.close()
    assert max(sizes) <= max_bytes, sizes
    files = sorted(log_dir(tmp_path, "iris").glob(f"*{SUFFIX}"))
    assert 8 <= len(files) <= 11  # rotated at a tenth of the cap; the oldest removed
    kept = read_lines(tmp_path)
    ids = [int(r["request_id"].split("-")[1]) for r in kept]
    assert ids == sorted(ids) and ids[-1] == 2_999  # the oldest went, in order
    assert ids[0] > 2_000
    assert len(kept) * 250 < max_bytes < len(kept) * 600  # most of the cap is in use


def test_deployments_have_logs_of_their_own(tmp_path):
    log = sink(tmp_path, {"sample": 1.0})
    offer(log, outcome(1, deployment="a"))
    offer(log, outcome(2, deployment="b"))
    log.close()
    assert [r["request_id"] for r in read_lines(tmp_path, "a")] == ["req-1"] * 2
    assert [r["request_id"] for r in read_lines(tmp_path, "b")] == ["req-2"] * 2


def test_record_never_waits_for_the_disk(tmp_path):
    """With no writer running, a full queue drops outcomes (counted) instead of waiting."""
    log = sink(tmp_path, {"sample": 1.0})
    many = [outcome(i, rows=1) for i in range(MAX_QUEUED + 5_000)]
    start = time.perf_counter()
    for o in many:
        offer(log, o)
    per_record = (time.perf_counter() - start) / len(many)
    assert per_record < 50e-6, f"{per_record * 1e6:.1f} us per record"
    assert (log.dropped, log.written) == (5_000, 0)
    assert not log_dir(tmp_path, "iris").exists()  # no I/O happened in record()


def test_the_writer_thread_writes_soon_and_close_writes_the_rest(tmp_path):
    log = sink(tmp_path, {"sample": 1.0}, interval_s=0.05).start()
    offer(log, outcome(1))
    wait_for(lambda: len(read_lines(tmp_path)) == 2, timeout=10, what="the writer")
    for i in range(2, 50):
        offer(log, outcome(i))
    log.close()
    assert len(read_lines(tmp_path)) == 98


def test_the_server_logs_through_its_pool_with_the_deployment_config(home, classifier, iris):
    """The real app's lifespan: the sink is in `pool.sinks`, reads the deployment's live
    `log` config, and what it queued is on disk once the server has stopped."""
    X, _ = iris
    registry = Registry(home)
    registry.register(classifier, "iris", sample=X[:5])
    registry.put_deployment("iris", "iris:1", {"log": {"sample": 1.0}})
    registry.put_deployment("quiet", "iris:1", {})
    app = create_app(registry, poll_interval=60)
    inner = app.app  # under the loopback check

    async def lifespan():
        async with _lifespan(app):
            pool = inner.state.pool
            (log,) = [s for s in pool.sinks if isinstance(s, PredictionLog)]
            for name in ("iris", "quiet"):
                offer(pool.sinks[0], outcome(1, deployment=name))
        return log

    log = asyncio.run(lifespan())
    assert log.written == 1
    assert [r["request_id"] for r in read_lines(home, "iris")] == ["req-1", "req-1"]
    assert not log_dir(home, "quiet").exists()


def test_no_outcome_is_built_while_no_deployment_is_logged(home, classifier, iris):
    """The log's sink joins the pool's sinks only while some deployment has a ``log``
    config: without one, the serving path builds no `Outcome`."""
    registry = Registry(home)
    registry.register(classifier, "iris", sample=iris[0][:5])
    registry.put_deployment("quiet", "iris:1", {})
    app = create_app(registry, poll_interval=60)

    async def lifespan():
        async with _lifespan(app):
            pool = app.app.state.pool
            quiet = list(pool.sinks)
            registry.put_deployment("loud", "iris:1", {"log": {"sample": 1.0}})
            await pool.reconcile()
            loud = [type(s).__name__ for s in pool.sinks]
            registry.delete_deployment("loud")
            await pool.reconcile()
            again = list(pool.sinks)
        return quiet, loud, again

    assert asyncio.run(lifespan()) == ([], ["PredictionLog"], [])


@contextlib.asynccontextmanager
async def _lifespan(app):
    """*app* started through ASGI lifespan messages, and shut down on leaving."""
    inbox: asyncio.Queue = asyncio.Queue()
    outbox: asyncio.Queue = asyncio.Queue()
    await inbox.put({"type": "lifespan.startup"})
    task = asyncio.create_task(
        app({"type": "lifespan", "asgi": {"version": "3.0"}}, inbox.get, outbox.put)
    )
    assert (await outbox.get())["type"] == "lifespan.startup.complete"
    try:
        yield
    finally:
        await inbox.put({"type": "lifespan.shutdown"})
        assert (await outbox.get())["type"] == "lifespan.shutdown.complete"
        await task
