"""Ground truth posted to one worker of a server, joined on every worker.

Each worker remembers the answers of the requests it served (`window`). Feedback posted
to one worker is joined there first; the ids it does not remember are written to a
request file in the run directory (``feedback/<pid>-<uuid>.json``), an ask tells the
other workers (see `workers`), each joins what it remembers and writes an answer file
(``<request>.<pid>.answer``), and the asking worker adds the answers up: an id is
unknown only if no worker remembers it. A worker that is gone counts as remembering
nothing; one that does not answer within `WAIT_S` neither (its ids stay unknown).

So that an id the client is told is unknown is never joined afterwards, the request file
carries a deadline (wall clock, the asker's wait less `MARGIN_S`): a worker reading it
later joins nothing and writes nothing. The join and the answer's write take no await,
so a worker that began in time answers before the asker gives up unless it is stalled
for `MARGIN_S`. Every worker asked also removes what an asker no longer waits for:
answers to requests gone, and requests whose asker died (`STALE_S` past their deadline).
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
#: Time kept between a request's deadline and the asker's giving up.
MARGIN_S = 0.5
#: How long past its deadline a request file is left for its asker to remove.
STALE_S = 60.0


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
    request = {"deployment": name, "items": rest, "deadline": time.time() + WAIT_S - MARGIN_S}
    _write_json(folder / f"{ask}.json", request)
    group._ask(ASK)
    answers: dict[int, dict[str, Any]] = {}
    try:
        pids = [int(s["pid"]) for s in group._siblings()]
        deadline = time.monotonic() + WAIT_S
        while True:
            for pid in pids:
                path = folder / f"{ask}.{pid}.answer"
                if pid in answers:
                    continue
                if path.exists():
                    answers[pid] = json.loads(path.read_text())
                elif not pid_alive(pid):
                    answers[pid] = {"joined": 0, "unknown": [i for i, _ in rest]}
            if len(answers) >= len(pids) or time.monotonic() >= deadline:
                break  # (the files were looked at once more after the deadline)
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
    folder = directory / DIRECTORY
    for path in folder.glob("*.json"):
        done = path.with_name(f"{path.stem}.{me}.answer")
        if path.stem.startswith(f"{me}-") or done.exists():
            continue
        try:
            asked = json.loads(path.read_text())
        except (OSError, ValueError):
            continue  # answered and removed meanwhile
        late = time.time() - float(asked.get("deadline", 0.0))
        if late > STALE_S:
            path.unlink(missing_ok=True)  # its asker is gone
        if late >= 0:
            continue  # the asker has given up (or is about to): its ids stay unknown
        items = [(str(i), t) for i, t in asked["items"]]
        _write_json(done, window.join_feedback(asked["deployment"], items))
    sweep(folder)


def sweep(folder: Path) -> None:
    """Remove the answers of requests no longer there, and files half-written by a
    worker that died (`STALE_S` old)."""
    for path in folder.glob("*.answer"):
        if not (folder / f"{path.name.split('.', 1)[0]}.json").exists():
            path.unlink(missing_ok=True)
    for path in folder.glob(".*.tmp"):
        try:
            if time.time() - path.stat().st_mtime > STALE_S:
                path.unlink(missing_ok=True)
        except OSError:
            continue  # renamed into place meanwhile


def _write_json(path: Path, data: Any) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(data))
    os.replace(tmp, path)
