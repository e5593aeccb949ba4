"""The hot path's shortcuts keep the results they replace: orjson gives what json gives,
a cheap model is called on the event loop and a costly one on its thread, and a response
whose head is held for its body still goes out when no body follows."""

from __future__ import annotations

import asyncio
import json
import threading
import time

import httpx
import numpy as np
import pytest

from maas_nb.serving import fastjson
from maas_nb.serving.batching import INLINE_ALONE_S, INLINE_S, Batcher
from maas_nb.serving.rows import Rows

BODIES = [
    b'{"instances": [[1.5, 2, -0.0]]}',
    b"18446744073709551616",  # beyond 64 bits: orjson would give a float
    b'{"instances": [[0.25, 123456789012345678901234]]}',  # the same, after other digits
    bytearray(b"[1.5, 18446744073709551616]"),  # a big body arrives as a bytearray
    b"[-9223372036854775809, 1e400, -1e400]",
    b'{"a": NaN, "b": Infinity}',
    b'"\\ud800"',
    b"\xef\xbb\xbf{}",
    '{"x": 1}'.encode("utf-16"),
    b'{"a": 1, "a": 2}',
    b'{"a": [1, 2',
    b"\xff",
    b"",
]


@pytest.mark.parametrize("body", BODIES)
def test_loads_gives_what_json_gives_or_raises_its_error(body):
    try:
        want = ("value", json.loads(body))
    except ValueError as exc:
        want = ("error", f"{type(exc).__name__}: {exc}")
    try:
        got = ("value", fastjson.loads(body))
    except ValueError as exc:
        got = ("error", f"{type(exc).__name__}: {exc}")
    assert repr(got) == repr(want)


def test_dumps_writes_what_orjson_cannot_as_json_does():
    assert json.loads(fastjson.dumps({"p": [2**70, 0.5, "é"]})) == {"p": [2**70, 0.5, "é"]}
    assert fastjson.dumps({"p": [1, 0.25]}) == b'{"p":[1,0.25]}'


def calls_on(seconds: float):
    """A model taking *seconds* a call that records the thread of each call."""
    threads: list[int] = []

    def predict(rows: Rows) -> dict[str, np.ndarray]:
        threads.append(threading.get_ident())
        if seconds:
            time.sleep(seconds)
        return {"out": rows.data[:, 0]}

    return predict, threads


def rows(n: int = 1) -> Rows:
    return Rows("tensor", np.zeros((n, 1)), n)


def test_a_cheap_model_is_called_on_the_event_loop_after_its_first_call():
    predict, threads = calls_on(0.0)

    async def go():
        batcher = Batcher(predict, name="m:1")
        for _ in range(3):
            await batcher.predict(rows())
        await asyncio.gather(*(batcher.predict(rows()) for _ in range(5)))  # one batch
        await batcher.close()
        return threading.get_ident(), batcher

    loop_thread, batcher = asyncio.run(go())
    assert threads[0] != loop_thread  # cost unknown: the worker thread
    assert threads[1:] == [loop_thread] * (len(threads) - 1)
    assert batcher.costs.loop_seconds is not None and batcher.costs.loop_seconds < INLINE_S


def test_a_costly_model_is_called_on_the_loop_only_while_requests_come_one_at_a_time():
    seconds = (INLINE_S + INLINE_ALONE_S) / 2
    predict, threads = calls_on(seconds)

    async def go():
        batcher = Batcher(predict, name="m:1")
        for _ in range(3):
            await batcher.predict(rows())
        await asyncio.gather(*(batcher.predict(rows()) for _ in range(5)))
        await batcher.close()
        return threading.get_ident()

    loop_thread = asyncio.run(go())
    assert len(threads) == 4  # three lone requests, then one batch of five
    assert threads[0] != loop_thread and threads[1:3] == [loop_thread] * 2
    assert threads[3] != loop_thread  # others wait: off the loop


def test_a_slow_model_stays_on_its_thread():
    predict, threads = calls_on(INLINE_ALONE_S * 2)

    async def go():
        batcher = Batcher(predict, name="m:1")
        for _ in range(3):
            await batcher.predict(rows())
        await batcher.close()
        return threading.get_ident()

    loop_thread = asyncio.run(go())
    assert loop_thread not in threads


def test_a_head_request_gets_its_head_though_no_body_follows(shared_iris_server):
    with httpx.Client(base_url=shared_iris_server.url, timeout=5, trust_env=False) as c:
        response = c.head("/v2/health/live")
        assert response.status_code == 200
        assert response.headers["content-type"] == "application/json"
        answer = c.post(
            "/v2/models/iris/infer",
            json={
                "inputs": [{"name": "input", "shape": [1, 4], "datatype": "FP64", "data": [1] * 4}]
            },
        )
        assert answer.status_code == 200 and answer.json()["model_name"] == "iris"
