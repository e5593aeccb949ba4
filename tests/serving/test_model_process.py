"""A model version called in a process of its own (`model_process`): what it sends back
is read with an allow-list, a version it cannot load says why, and it answers what the
model in this process would."""

from __future__ import annotations

import asyncio
import os
import pickle
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

import maas_nb
from maas_nb.serving import model_pipe, model_process
from maas_nb.serving.model_pipe import ModelProcessError, answer, frame
from maas_nb.serving.model_process import ModelProcess
from maas_nb.serving.rows import Rows
from tests.custom_models import GatedRegressor, ProcessReporter


class _Runs:
    def __reduce__(self):
        return (os.system, ("echo this must not run",))


def test_arrays_of_every_kind_come_back_and_nothing_else_does():
    outputs = {
        "floats": np.zeros((2, 3), np.float32),
        "ints": np.arange(3),
        "strings": np.array(["a", "bc"]),
        "objects": np.array(["a", None, np.float64(1.5)], dtype=object),
        "times": np.array(["2020-01-01"], dtype="datetime64[D]"),
    }
    got = answer(frame(("ok", outputs))[4:])[1]
    assert set(got) == set(outputs)
    for name, value in outputs.items():
        assert got[name].dtype == value.dtype and got[name].tolist() == value.tolist()
    with pytest.raises(ModelProcessError, match=r"sent posix\.system, which is not part"):
        answer(pickle.dumps(("ok", _Runs())))
    with pytest.raises(ModelProcessError, match="not part of a numpy array"):
        answer(pickle.dumps(("ok", ModelProcess)))


def test_a_name_in_an_answer_is_never_looked_up_for_its_sake():
    # numpy imports a submodule on first access of its name (its module __getattr__):
    # checked in a fresh interpreter, where nothing imported numpy.f2py before.
    code = """if True:
        import sys
        from maas_nb.serving.model_pipe import ModelProcessError, answer
        assert "numpy.f2py" not in sys.modules
        try:
            answer(b"\\x80\\x02cnumpy\\nf2py\\n.")
        except ModelProcessError as exc:
            print(exc)
        print("numpy.f2py" in sys.modules)
    """
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.splitlines() == [
        "the model's process sent numpy.f2py, which is not part of a numpy array: outputs "
        "must be arrays of numbers, strings or booleans",
        "False",
    ]


def test_an_answer_cannot_set_attributes_of_the_servers_functions():
    ((module, name),) = [k for k in model_pipe.ALLOWED if k[1] == "_frombuffer"]
    function = model_pipe.ALLOWED[module, name]
    # BUILD with slot state (None, {"__qualname__": "x"}) on the function it named.
    state = b"N}X\x0c\x00\x00\x00__qualname__X\x01\x00\x00\x00xs\x86b."
    got = answer(b"\x80\x02c" + f"{module}\n{name}\n".encode() + state)
    assert got is not function and got.__qualname__ == "x"  # a copy took it
    assert function.__qualname__ == "_frombuffer"


def test_a_version_it_cannot_load_says_why(home):
    async def start():
        return await ModelProcess.start(home, "nothing:1")

    with pytest.raises(ModelProcessError, match="nothing:1 could not be loaded in its process"):
        asyncio.run(start())


def test_it_answers_as_the_model_does_and_stops_when_closed(home, iris, monkeypatch):
    monkeypatch.setenv("MAAS_TOKEN", "the-servers-secret")
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y)
    maas_nb.api.registry().register(model, "iris", sample=X[:5])

    async def run():
        process = await ModelProcess.start(home, "iris:1")
        pid = process.pid
        try:
            environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
            assert f"MAAS_HOME={home}".encode() in environ
            assert not [v for v in environ if v.startswith(b"MAAS_TOKEN=")]
            outputs = await process.call(Rows("tensor", X[:7], 7))
        finally:
            await process.close()
        return process, pid, outputs

    process, pid, outputs = asyncio.run(run())
    assert process.labels == ("0", "1", "2")
    assert outputs["predictions"].tolist() == model.predict(X[:7]).tolist()
    assert np.allclose(outputs["probabilities"], model.predict_proba(X[:7]))
    assert pid is not None and not os.path.exists(f"/proc/{pid}")


def test_a_call_cancelled_midway_leaves_no_answer_for_the_next(home, iris, tmp_path):
    X, _ = iris
    gate = tmp_path / "gate"
    gate.mkdir()
    (gate / "open").touch()  # open while it is registered and warmed up
    trusted = ["tests.custom_models.GatedRegressor"]
    slow = GatedRegressor(str(gate)).fit(X)
    maas_nb.api.registry().register(slow, "gated", sample=X[:5], trusted_types=trusted)

    async def run():
        process = await ModelProcess.start(home, "gated:1")
        first = process.pid
        try:
            (gate / "open").unlink()
            with pytest.raises(TimeoutError):  # its call waits at the gate, then is cancelled
                await asyncio.wait_for(process.call(Rows("tensor", X[:3], 3)), 0.5)
            (gate / "open").touch()
            outputs = await process.call(Rows("tensor", X[5:7], 2))
            return first, process.pid, outputs
        finally:
            await process.close()

    first, second, outputs = asyncio.run(run())
    assert outputs["predictions"].tolist() == X[5:7].sum(axis=1).tolist()
    assert first != second and not os.path.exists(f"/proc/{first}")


def test_a_process_that_keeps_dying_soon_after_its_start_waits_before_the_next(home, iris):
    X, _ = iris
    trusted = ["tests.custom_models.ProcessReporter"]
    maas_nb.api.registry().register(
        ProcessReporter().fit(X), "reporter", sample=X[:5], trusted_types=trusted
    )
    crash = X[:2].copy()
    crash[0, 0] = -1.0  # ends the process mid-call

    async def run():
        process = await ModelProcess.start(home, "reporter:1")
        process.restart_s = 120.0  # "soon" enough for any machine's start
        try:
            for _ in range(2):  # the first death starts the next at once, the second not
                with pytest.raises(ModelProcessError, match="exited with code 3"):
                    await process.call(Rows("tensor", crash, 2))
            with pytest.raises(ModelProcessError, match=r"died 2 times in a row.*starts again"):
                await process.call(Rows("tensor", X[:2], 2))
            assert process.pid is None
        finally:
            await process.close()

    asyncio.run(run())


def test_ctrl_c_is_the_servers_and_a_too_big_answer_ends_the_child(home, iris, monkeypatch):
    X, y = iris
    model = LogisticRegression(max_iter=1000).fit(X, y)
    maas_nb.api.registry().register(model, "iris", sample=X[:5])

    async def run():
        process = await ModelProcess.start(home, "iris:1")
        first = process.pid
        try:
            os.kill(first, signal.SIGINT)  # as Ctrl-C at the server's terminal sends it
            got = await process.call(Rows("tensor", X[:3], 3))
            assert process.pid == first
            assert got["predictions"].tolist() == model.predict(X[:3]).tolist()
            most = model_process.MOST_BYTES
            monkeypatch.setattr(model_process, "MOST_BYTES", 100)
            with pytest.raises(ModelProcessError, match=r"answer of \d+ bytes, over the 100"):
                await process.call(Rows("tensor", X[:3], 3))
            assert process.pid is None
            monkeypatch.setattr(model_process, "MOST_BYTES", most)
            got = await process.call(Rows("tensor", X[3:5], 2))
            return first, process.pid, got
        finally:
            await process.close()

    first, second, got = asyncio.run(run())
    assert got["predictions"].tolist() == model.predict(X[3:5]).tolist()
    assert second not in (None, first)
