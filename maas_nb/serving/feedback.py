"""Ground truth posted to one worker of a server, joined on every worker.

Each worker remembers the answers of the requests it served (`window`). Feedback posted
to one worker is joined there first; the ids it does not remember are written to a
request file in the run directory (``feedback/<pid>-<uuid>.json``), an ask tells the
other workers (see `workers`), each joins what it remembers and writes an answer file
(``<request>.<pid>.answer``), and the asking worker adds the answers up: an id is
unknown only if no worker remembers it. A worker that is gone counts as remembering
nothing; one that does not answer within `WAIT_S` neither (its ids stay unknown).
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..processes import pid_alive
from .window import Window

if TYPE_CHECKING:
    from .workers import WorkerGroup

ASK = "feedback.ask"
DIRECTORY = "feedback"
WAIT_S = 2.0


async def relay(
    group: WorkerGroup, result: dict[str, Any], name: str, items: list[tuple[str, Any]]
) -> dict[str, Any]:
    """*result* (this worker's join) with the other workers' joins of its unknown ids."""
    assert group.directory is not None
    unknown = set(result["unknown"])
    folder = group.directory / DIRECTORY
    folder.mkdir(exist_ok=True)
    ask = f"{os.getpid()}-{uuid.uuid4().hex}"
    rest = [(i, t) for i, t in items if i in unknown]
    _write_json(folder / f"{ask}.json", {"deployment": name, "items": rest})
    group._ask(ASK)
    answers: dict[int, dict[str, Any]] = {}
    try:
        pids = [int(s["pid"]) for s in group._siblings()]
        deadline = time.monotonic() + WAIT_S
        while len(answers) < len(pids) and time.monotonic() < deadline:
            for pid in pids:
                path = folder / f"{ask}.{pid}.answer"
                if pid in answers:
                    continue
                if path.exists():
                    answers[pid] = json.loads(path.read_text())
                elif not pid_alive(pid):
                    answers[pid] = {"joined": 0, "unknown": [i for i, _ in rest]}
            await asyncio.sleep(0.01)
    finally:
        for path in folder.glob(f"{ask}*"):
            path.unlink(missing_ok=True)
    for other in answers.values():
        result["joined"] += other["joined"]
        result["mismatched"] += other.get("mismatched", [])
        unknown &= set(other["unknown"])
        for label, n in other.get("versions", {}).items():
            result["versions"][label] = result["versions"].get(label, 0) + n
    result["unknown"] = [i for i in result["unknown"] if i in unknown]
    return result


def answer(directory: Path | None, window: Window) -> None:
    """Join the feedback the other workers passed on, into answer files."""
    if directory is None:
        return
    me = os.getpid()
    for path in (directory / DIRECTORY).glob("*.json"):
        done = path.with_name(f"{path.stem}.{me}.answer")
        if path.stem.startswith(f"{me}-") or done.exists():
            continue
        try:
            asked = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # answered and removed meanwhile
        items = [(str(i), t) for i, t in asked["items"]]
        _write_json(done, window.join_feedback(asked["deployment"], items))


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
