"""The workers of one server: what each process knows of the others.

A server run with ``--workers N`` is a supervisor (`maas_nb.serving.supervisor`) and N
worker processes accepting connections on one listening socket they all inherit. Each
worker reconciles the registry on its own, with its own pool and batchers. What must
look like one server goes through the server's run directory
(``<home>/run/server-<supervisor pid>/``):

- every worker publishes ``<pid>.json``: its deployments' states and its metrics
  snapshot, every half second and whenever it is asked;
- a request that speaks for the whole server (``POST /maas/reconcile``,
  ``GET /metrics``) writes an ask file; every worker watches the ask files (one stat
  each every 50 ms) and answers by publishing, after reconciling and settling its loads
  for a reconcile ask, stamped with when it started;
- the asking worker waits until every sibling has published after its ask, then
  answers with the merged states or the summed metrics.

So ``deploy`` and ``undeploy`` (which wait on ``/maas/reconcile``) return only once every
worker serves the new state, and a scrape landing on any worker counts them all. Files
and asks, not signals: a signal that reaches a worker before it installed its handler
would kill it, and a file left by a dead worker is harmless (the supervisor removes it;
readers skip pids that are gone).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import json
import logging
import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..exceptions import MaasError
from ..processes import pid_alive
from . import feedback
from .live_metrics import add_shadows
from .live_metrics import render as render_live
from .metrics import render
from .status import FAILED, LOADING, READY

if TYPE_CHECKING:
    from .pool import ModelPool

log = logging.getLogger("maas_nb.serving")

WATCH_INTERVAL_S = 0.05
PUBLISH_EVERY_S = 0.5
#: How long a scrape waits for the other workers' figures before using their last ones.
METRICS_WAIT_S = 2.0
#: How long a reconcile waits for the other workers to settle (as long as a load may take).
SETTLE_WAIT_S = 120.0
RECONCILE_ASK = "reconcile.ask"
PUBLISH_ASK = "publish.ask"
_RANK = {FAILED: 0, LOADING: 1, READY: 2}
#: Marks, between workers, an entry whose worker is loading a new version.
PENDING = "pending"


def run_directory(home: Path, supervisor: int) -> Path:
    """Where the workers of the server supervised by pid *supervisor* meet."""
    return home / "run" / f"server-{supervisor}"


class WorkerGroup:
    """This server process and, when it is one of several workers, its siblings.

    Without a *directory* it is the only process and answers from its own pool."""

    def __init__(
        self,
        directory: Path | None = None,
        *,
        index: int = 0,
        supervisor: int | None = None,
        on_orphaned: Callable[[str], None] | None = None,
    ) -> None:
        self.directory = directory
        self.index = index
        self.supervisor = supervisor
        self.on_orphaned = on_orphaned
        self.pool: ModelPool | None = None
        self._task: asyncio.Task | None = None
        self._reconciling: asyncio.Task | None = None
        self._seen: dict[str, tuple[int, int] | None] = {}
        self._published_at = 0.0
        self._settled = 0.0

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self, pool: ModelPool) -> None:
        """Serve *pool*; one of several workers first waits for its models to load, so
        that it takes no connection it would answer 503 (a restarted worker joins a
        server that is serving)."""
        self.pool = pool
        if self.directory is None:
            return
        started = time.monotonic()
        await pool.settle()
        self._settled = started
        self._seen = {ask: self._stamp(ask) for ask in (RECONCILE_ASK, PUBLISH_ASK, feedback.ASK)}
        self._publish()
        self._task = asyncio.get_running_loop().create_task(self._watch())

    async def stop(self) -> None:
        for task in (self._task, self._reconciling):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if self.directory is not None:
            with contextlib.suppress(OSError):
                (self.directory / f"{os.getpid()}.json").unlink()

    async def _watch(self) -> None:
        assert self.pool is not None
        asked = False
        while True:
            await asyncio.sleep(WATCH_INTERVAL_S)
            if self.supervisor is not None and os.getppid() != self.supervisor:
                if self.on_orphaned is not None:
                    self.on_orphaned(f"the supervisor (pid {self.supervisor}) is gone")
                return
            try:
                asked = self._asked(RECONCILE_ASK) or asked
                if asked and (self._reconciling is None or self._reconciling.done()):
                    # In a task of its own: a long load must not stop this worker publishing.
                    asked = False
                    loop = asyncio.get_running_loop()
                    self._reconciling = loop.create_task(self._answer_reconcile())
                if self._asked(feedback.ASK):
                    feedback.answer(self.directory, self.pool.window)
                due = time.monotonic() - self._published_at > PUBLISH_EVERY_S
                if self._asked(PUBLISH_ASK) or due:
                    self._publish()
            except Exception:  # the registry may be briefly unavailable; keep serving
                log.exception("worker %d: answering the other workers failed", self.index)

    async def _answer_reconcile(self) -> None:
        assert self.pool is not None
        started = time.monotonic()
        try:
            await self.pool.reconcile()
            await self.pool.settle()
        except MaasError:
            return  # the registry cannot be read: the pool has said so once
        except Exception:
            log.exception("worker %d: reconciling when asked failed", self.index)
            return
        self._settled = started
        self._publish()

    # -- what the routes answer -----------------------------------------------------------

    def states(self) -> list[dict[str, Any]]:
        """The deployments as the whole server serves them (see `merge`)."""
        own = self._own_states()
        if self.directory is None:
            return _public(own)
        return merge(own, [s["deployments"] for s in self._siblings()])

    async def reconcile(self) -> list[dict[str, Any]]:
        """Reconcile every worker now; their merged states once all have settled."""
        assert self.pool is not None
        asked = time.monotonic()
        if self.directory is not None:
            self._ask(RECONCILE_ASK)
        await self.pool.reconcile()
        await self.pool.settle()
        own = self._own_states()
        if self.directory is None:
            return _public(own)
        self._settled = asked
        self._publish()
        siblings = await self._wait(lambda s: s["settled"] >= asked, SETTLE_WAIT_S)
        return merge(own, [s["deployments"] for s in siblings])

    async def metrics(self) -> str:
        """The Prometheus text of every worker's figures, summed, then the live window's."""
        assert self.pool is not None
        siblings = await self._fresh_siblings()
        text = render([self.pool.metrics.snapshot(), *(s["metrics"] for s in siblings)])
        windows = [s.get("live", {}).get("window", {}) for s in siblings]
        shadows = {d: list(c) for d, c in self.pool.shadowing.by_deployment.items()}
        for s in siblings:
            add_shadows(shadows, s.get("live", {}).get("shadow", {}))
        watched = set(self.pool.window.watched).union(*windows)
        summaries = [
            self.pool.window.summary(name, windows)
            for name in sorted(watched)
            if name in self.pool.slots
        ]
        return text + render_live(summaries, shadows)

    async def experiment(self, name: str) -> dict[str, Any]:
        """The live comparison of deployment *name* over every worker's window."""
        assert self.pool is not None
        self.pool.slot(name)  # 404 before asking the others
        siblings = await self._fresh_siblings()
        windows = [s.get("live", {}).get("window", {}) for s in siblings]
        return self.pool.window.summary(name, windows)

    async def feedback(self, name: str, items: list[tuple[str, Any]]) -> dict[str, Any]:
        """Join ground truth to the answers of deployment *name* on every worker."""
        assert self.pool is not None
        self.pool.slot(name)
        result = self.pool.window.join_feedback(name, items)
        if self.directory is None or not result["unknown"]:
            return result
        return await feedback.relay(self, result, name, items)

    async def _fresh_siblings(self) -> list[dict[str, Any]]:
        """The other workers' published figures, after asking them to publish anew."""
        if self.directory is None:
            return []
        asked = time.monotonic()
        self._ask(PUBLISH_ASK)
        return await self._wait(lambda s: s["published"] >= asked, METRICS_WAIT_S)

    def workers(self) -> dict[str, Any]:
        """Which worker answers (``pid``, ``index``) and the workers serving now."""
        me = {"pid": os.getpid(), "index": self.index}
        siblings = self._siblings() if self.directory is not None else []
        others = [{"pid": s["pid"], "index": s["index"]} for s in siblings]
        return {**me, "workers": sorted([me, *others], key=lambda w: w["index"])}

    # -- the run directory ----------------------------------------------------------------

    def _own_states(self) -> list[dict[str, Any]]:
        """This worker's entries, each marked ``pending`` while a new version loads."""
        assert self.pool is not None
        return [
            {**slot.describe(self.pool.registry_error), PENDING: slot.loading is not None}
            for _, slot in sorted(self.pool.slots.items())
        ]

    def _publish(self) -> None:
        assert self.directory is not None and self.pool is not None
        now = time.monotonic()
        info = {
            "pid": os.getpid(),
            "index": self.index,
            "published": now,
            "settled": self._settled,
            "deployments": self._own_states(),
            "metrics": self.pool.metrics.snapshot(),
            "live": {
                "window": self.pool.window.snapshot(),
                "shadow": self.pool.shadowing.by_deployment,
            },
        }
        path = self.directory / f"{os.getpid()}.json"
        tmp = path.with_suffix(".tmp")
        try:
            tmp.write_text(json.dumps(info))
            os.replace(tmp, path)
        except FileNotFoundError:
            return  # the directory is gone: the server (or its home) is going away
        self._published_at = now

    def _siblings(self) -> list[dict[str, Any]]:
        assert self.directory is not None
        found = []
        for path in self.directory.glob("*.json"):
            if path.stem == str(os.getpid()) or not path.stem.isdigit():
                continue
            try:
                info = json.loads(path.read_text())
            except (OSError, ValueError):
                continue  # removed meanwhile: that worker is gone
            if pid_alive(int(path.stem)):
                found.append(info)
        return found

    async def _wait(self, done: Callable[[dict[str, Any]], bool], timeout: float) -> list:
        """The siblings once each satisfies *done* (or is gone), or as they are after
        *timeout* seconds."""
        deadline = time.monotonic() + timeout
        while True:
            siblings = self._siblings()
            if all(done(s) for s in siblings) or time.monotonic() > deadline:
                return siblings
            await asyncio.sleep(0.01)

    def _ask(self, ask: str) -> None:
        assert self.directory is not None
        path = self.directory / ask
        tmp = path.with_name(f".{ask}.{os.getpid()}")
        tmp.write_text(str(time.monotonic()))
        os.replace(tmp, path)  # a new inode: every watcher sees a new ask
        self._seen[ask] = self._stamp(ask)  # this worker answers its own ask directly

    def _stamp(self, ask: str) -> tuple[int, int] | None:
        assert self.directory is not None
        try:
            st = os.stat(self.directory / ask)
        except OSError:
            return None
        return st.st_ino, st.st_mtime_ns

    def _asked(self, ask: str) -> bool:
        stamp = self._stamp(ask)
        if stamp == self._seen.get(ask):
            return False
        self._seen[ask] = stamp
        return True


def merge(own: list[dict[str, Any]], others: list[list[dict[str, Any]]]) -> list[dict[str, Any]]:
    """One entry per deployment for the whole server: where the workers disagree, the
    entry of the one furthest behind (a failed load first, then one still loading a new
    version, then one not serving yet, then one whose version differs from this worker's),
    so that whoever waits for "ready" waits for every worker."""
    views = [own, *others]
    names = sorted({e["name"] for view in views for e in view})
    merged = []
    for name in names:
        entries = [next((e for e in view if e["name"] == name), None) for view in views]
        present = [e for e in entries if e is not None]
        base = present[0]
        if len(present) < len(views):  # being added or removed: not on every worker yet
            entry = {**base, "status": LOADING, "reason": "not yet on every worker"}
            merged.append(_public([entry])[0])
            continue

        chosen = min(present, key=functools.partial(_behind, base=base))
        # Each worker's guard judges its own traffic: one that rolled back says so for all.
        rolled = [e for e in present if (e.get("guard") or {}).get("state") == "rolled_back"]
        if rolled:
            chosen = {**chosen, "guard": rolled[0]["guard"]}
        merged.append(_public([chosen])[0])
    return merged


def _behind(entry: dict[str, Any], base: dict[str, Any]) -> tuple[bool, bool, int, bool]:
    """Sorts first the entry furthest behind (see `merge`)."""
    failed = entry.get("failed_revision") is not None or entry.get("failed_generation") is not None
    agrees = all(
        entry.get(k) == base.get(k) for k in ("revision", "version", "generation", "status")
    )
    return not failed, not entry.get(PENDING), _RANK.get(entry["status"], 1), agrees


def _public(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """*entries* as ``/maas/deployments`` shows them (without the workers' own marks)."""
    return [{k: v for k, v in e.items() if k != PENDING} for e in entries]
