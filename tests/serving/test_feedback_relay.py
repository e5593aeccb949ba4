"""The --workers feedback relay's files: a worker past the asker's deadline joins
nothing (the client was told those ids are unknown), and no file is left behind."""

from __future__ import annotations

import json
import os
import time

import numpy as np

from maas_nb.serving import feedback
from maas_nb.serving.window import Window

OTHER = os.getpid() + 1  # the asking worker; this process answers


def remembering(*ids: str) -> Window:
    window = Window(lambda name: {})
    window.watch("iris")
    for rid in ids:
        outputs = {"predictions": np.asarray([1])}
        window.answered("iris", "iris:1", rid, 0.001, outputs, at=time.time())
    return window


def ask(folder, name: str, ids: list[str], deadline: float) -> None:
    items = [[i, 1] for i in ids]
    body = {"deployment": "iris", "items": items, "deadline": deadline}
    (folder / f"{name}.json").write_text(json.dumps(body))


def test_a_worker_answers_in_time_and_not_after_the_deadline(tmp_path):
    folder = tmp_path / feedback.DIRECTORY
    folder.mkdir()
    window = remembering("a", "b")
    ask(folder, f"{OTHER}-late", ["a"], time.time() - 0.01)
    ask(folder, f"{OTHER}-early", ["b"], time.time() + 60)
    feedback.answer(tmp_path, window)
    assert not (folder / f"{OTHER}-late.{os.getpid()}.answer").exists()
    assert "a" in window.answers["iris"]  # still there for a later post
    answered = json.loads((folder / f"{OTHER}-early.{os.getpid()}.answer").read_text())
    assert answered["joined"] == 1 and "b" not in window.answers["iris"]


def test_what_no_asker_waits_for_is_removed(tmp_path):
    folder = tmp_path / feedback.DIRECTORY
    folder.mkdir()
    (folder / f"{OTHER}-gone.{OTHER + 1}.answer").write_text("{}")  # its asker cleaned up
    ask(folder, f"{OTHER}-dead", ["a"], time.time() - feedback.STALE_S - 1)  # asker died
    stale = folder / f".{OTHER}-x.{OTHER + 1}.answer.tmp"
    stale.write_text("{")
    os.utime(stale, (time.time() - feedback.STALE_S - 1,) * 2)
    fresh = folder / f".{OTHER}-y.json.tmp"  # an asker writing its request right now
    fresh.write_text("{")
    ask(folder, f"{OTHER}-waiting", ["z"], time.time() + 60)
    feedback.answer(tmp_path, remembering())
    assert sorted(p.name for p in folder.iterdir()) == sorted(
        [fresh.name, f"{OTHER}-waiting.json", f"{OTHER}-waiting.{os.getpid()}.answer"]
    )
