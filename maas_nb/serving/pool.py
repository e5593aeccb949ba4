"""The model pool: loaded models kept in step with the registry's deployments table.

The server only reads the registry. Each reconcile pass lists the deployments meant
for this server's name and those meant for any server (it never touches another
server's), and resolves their targets: a new deployment is loaded, a moved alias is
loaded and warmed *before* it takes traffic (requests in flight finish on the old
version), a removed deployment is unloaded. A version that fails to load leaves the
previous one serving. A registry that cannot be read (its database stopped) leaves every
loaded model serving: the pool says so once in its log and in each deployment's reason,
and tries again at every poll until the registry answers.

A server outlives nothing it reads: if its registry home is deleted, or its database
file removed or replaced by another file, the pool stops polling and calls
*on_home_gone*, which stops the server (it would otherwise hold its port forever,
serving a registry that no longer exists).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import gc
import logging
import os
import time
from collections.abc import Callable
from typing import Any

from ..exceptions import MaasError, RegistryUnavailableError
from ..registry import Registry
from ..registry.registry import DATABASE
from . import warming
from .errors import NotFound
from .experiment import layout
from .loaded import Loaded, load, serving_key
from .loaded import class_labels as class_labels  # where callers look for it
from .metrics import Metrics
from .outcomes import OutcomeSink
from .shadowing import Shadowing
from .slot import Slot
from .split import Shadow, Split, Wanted, arms_of
from .status import FAILED, LOADING, READY
from .window import Window

log = logging.getLogger("maas_nb.serving")

DEFAULT_CONFIG = {"max_batch_size": 64, "max_latency_ms": 5.0}


class ModelPool:
    def __init__(
        self,
        registry: Registry,
        *,
        server: str | None = None,
        poll_interval: float = 0.5,
        on_home_gone: Callable[[str], None] | None = None,
        deployment: str | None = None,
    ) -> None:
        self.registry = registry
        self.server = server  # this server's name; None: it serves every deployment
        self.deployment = deployment  # serve only this deployment (a Ray Serve replica's)
        self.poll_interval = poll_interval
        self.on_home_gone = on_home_gone
        self._database = registry.home / DATABASE
        self._identity = _file_identity(self._database)
        self.slots: dict[str, Slot] = {}
        #: Who is told of every answered request (see `outcomes`); none by default.
        self.sinks: list[OutcomeSink] = []
        self._log_sink: OutcomeSink | None = None  # in `sinks` while a deployment is logged
        #: The live comparison (see `window`), told every answer of a watched deployment
        #: directly, a batch at a time (`Window.batch_answered`, by each version's batcher
        #: through `Shadowing.told`, which also copies the batch to a shadow;
        #: `Window.record_copies`): it is not in `sinks`.
        self.window = Window(self.layout)
        self.shadowing = Shadowing(self.sinks, self.window)
        self.metrics = Metrics(self.queue_depth)
        self._lock = asyncio.Lock()
        self._task: asyncio.Task | None = None
        self._preload: asyncio.Task | None = None
        self._retiring: set[asyncio.Task] = set()
        #: Why the registry could not be read at the last reconcile (None: it could).
        self.registry_error: str | None = None
        self._unexpected: str | None = None

    # -- lifecycle ----------------------------------------------------------------------

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._preload = loop.create_task(asyncio.to_thread(warming.preload))
        await self.reconcile()
        self._task = loop.create_task(self._loop())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for slot in list(self.slots.values()):
            await self._unload(slot)
        await self.shadowing.stop()
        if self._retiring:
            await asyncio.wait(list(self._retiring))

    async def settle(self, timeout: float = 120.0) -> None:
        """Wait for the loads in progress to finish (or fail)."""
        pending = [s.task for s in self.slots.values() if s.task is not None and not s.task.done()]
        if pending:
            await asyncio.wait(pending, timeout=timeout)

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.poll_interval)  # POST /maas/reconcile does it sooner
            gone = self.home_gone()
            if gone is not None:
                if self.on_home_gone is not None:
                    self.on_home_gone(gone)
                return
            try:
                await self.reconcile()
            except MaasError:
                pass  # said once by reconcile; the loaded models serve on, and we retry
            except Exception as exc:  # a bug: its traceback once, not at every poll
                if self._unexpected != repr(exc):
                    log.exception("reconciling with the registry failed")
                self._unexpected = repr(exc)
            else:
                self._unexpected = None

    def home_gone(self) -> str | None:
        """Why the registry this pool was started on is no longer there (None if it is)."""
        if not self.registry.home.is_dir():
            return f"the registry home {self.registry.home} was deleted"
        if self._identity is None:
            return None  # a store without a database file here: only the home counts
        identity = _file_identity(self._database)
        if identity is None:
            return f"the registry database {self._database} was deleted"
        if identity != self._identity:
            return f"the registry database {self._database} was replaced by another file"
        return None

    # -- reconcile ----------------------------------------------------------------------

    async def reconcile(self) -> None:
        async with self._lock:
            try:
                wanted = await asyncio.to_thread(self._read_registry)
            except MaasError as exc:
                self._registry_failed(exc)
                raise
            if self.registry_error is not None:
                log.warning("The registry answers again; reconciling with it.")
                self.registry_error = None
            for name in set(self.slots) - set(wanted):
                await self._unload(self.slots.pop(name))
                self.window.forget(name)
            for name, want in wanted.items():
                slot = self.slots.get(name)
                if slot is None:
                    slot = self.slots[name] = Slot(name, want.target, want.config)
                slot.target, slot.config = want.target, want.config
                if want.error is not None:
                    if slot.split is None:
                        slot.status, slot.reason = FAILED, want.error
                    continue
                key = _key(want)
                if slot.split is not None and slot.key == key:
                    continue
                if key in (slot.loading, slot.failed):
                    continue  # being loaded, or failed as it is: redeploy to retry
                if slot.task is not None and not slot.task.done():
                    slot.task.cancel()  # the target moved again: only the newest load counts
                slot.loading, slot.wanted = key, want
                slot.task = asyncio.get_running_loop().create_task(self._load(slot, want, key))
            self._sync_sinks()

    def log_to(self, sink: OutcomeSink) -> None:
        """Give answered requests to *sink* while some deployment has a ``log`` config, and
        build no `Outcome` at all while none has (the serving path's common case)."""
        self._log_sink = sink
        self._sync_sinks()

    def _sync_sinks(self) -> None:
        """The prediction log in `sinks` while a deployment is logged; in place:
        `shadowing` holds this list."""
        sink = self._log_sink
        if sink is None:
            return
        logged = any(slot.config.get("log") for slot in self.slots.values())
        if logged and sink not in self.sinks:
            self.sinks.append(sink)
        elif not logged and sink in self.sinks:
            self.sinks.remove(sink)

    def _sync_window(self, slot: Slot) -> None:
        """Watch *slot* in the window once it runs an experiment (several arms, a shadow
        or a guard); it stays watched until undeployed, so that a promote's before and
        after stay in view. A single version never watched costs nothing per request."""
        split = slot.split
        if split is None or slot.name in self.window.watched:
            return
        if len(split.arms) > 1 or split.shadow is not None or split.guard:
            self.window.watch(slot.name)

    def layout(self, name: str) -> dict[str, Any]:
        """The versions *name* serves now with their roles, for the window's summary
        (404 for a deployment not served here; no versions while it loads)."""
        return layout(name, self.slot(name).split)

    def _registry_failed(self, exc: MaasError) -> None:
        """Note (and log, once per outage) that the registry cannot be read."""
        if self.registry_error is None:
            log.warning(
                "The registry is unavailable; the loaded models serve on, and reconciling "
                "is retried every %g s. %s",
                self.poll_interval,
                exc,
            )
        self.registry_error = str(exc)

    def _read_registry(self) -> dict[str, Wanted]:
        wanted: dict[str, Wanted] = {}
        for dep in self.registry.list_deployments(server=self.server):
            if self.deployment is not None and dep.name != self.deployment:
                continue
            wanted[dep.name] = self._resolve(dep.target, {**DEFAULT_CONFIG, **dep.config})
        return wanted

    def _resolve(self, target: str, config: dict[str, Any]) -> Wanted:
        """The row's arms and shadow with their versions (an error: why they cannot be)."""
        try:
            arms = tuple((t, self.registry.get(t).version, w) for t, w in arms_of(target, config))
            shadow = None
            if config.get("shadow"):
                s = config["shadow"]
                version = self.registry.get(s["target"]).version
                shadow = (str(s["target"]), version, float(s["percent"]), float(s["timeout_ms"]))
        except RegistryUnavailableError:
            raise  # the registry's fault, not this deployment's
        except Exception as exc:
            return Wanted(target, config, error=str(exc))
        sticky = config.get("sticky") or None
        return Wanted(target, config, arms, shadow, sticky, int(config.get("generation", 1)))

    async def _load(self, slot: Slot, want: Wanted, key: tuple) -> None:
        """Load (and warm) every version of *want* not loaded yet, then swap its split in."""
        if slot.split is None:
            slot.status = LOADING
        have = {x.key: x for x in slot.split.loaded()} if slot.split is not None else {}
        made: dict[int, Loaded] = {}
        metrics = self.metrics[slot.name]
        start = time.perf_counter()
        config, uri = want.config, ""
        try:
            for version in want.versions():
                uri = f"{want.model}:{version}"
                apart = version not in {v for _, v, _ in want.arms}  # a shadow's alone
                reuse = have.get((version, serving_key(config), apart))
                made[version] = reuse or await load(
                    self.registry,
                    want.model,
                    version,
                    config,
                    metrics.observe_batch,
                    functools.partial(self.shadowing.told, slot, uri),
                    apart=apart,
                )
        except Exception as exc:
            log.warning("deployment %r: loading %s failed: %s", slot.name, uri, exc)
            self._close_new(made, have)
            if slot.loading != key:
                return  # superseded meanwhile: its failure is not the slot's
            slot.reason = f"{type(exc).__name__}: {exc}"
            slot.failed, slot.failed_revision = key, config.get("revision")
            slot.failed_generation = want.generation
            if slot.split is None:
                slot.status = FAILED
            slot.loading = None
            return
        except asyncio.CancelledError:
            self._close_new(made, have)
            raise
        if slot.loading != key or self.slots.get(slot.name) is not slot:
            self._close_new(made, have)
            return  # a newer target (or an undeploy) superseded this load while it ran
        shadow = None
        if want.shadow is not None:
            target, version, percent, timeout_ms = want.shadow
            loaded = made[version]
            shadow = Shadow(target, loaded, percent, timeout_ms / 1000, f"{want.model}:{version}")
        arms = [(t, made[v], w) for t, v, w in want.arms]
        guard = want.config.get("guard")
        old = slot.split
        split = slot.install(Split(arms, want.generation, want.sticky, shadow, guard))
        slot.key = key
        self._sync_window(slot)
        metrics.load_seconds = time.perf_counter() - start
        slot.status, slot.reason, slot.loading, slot.failed = READY, "", None, None
        slot.failed_revision = slot.failed_generation = None  # news until a later one serves
        log.info(
            "deployment %r now serves %s (generation %d, %.3f s)",
            slot.name,
            ", ".join(f"{a.label}={a.weight}" for a in split.arms),
            want.generation,
            metrics.load_seconds,
        )
        # What a model load leaves on the heap lives as long as the model: keep the cyclic
        # GC from rescanning it on every full collection (pauses of ~100 ms under load).
        gc.freeze()
        if old is not None:
            kept = {id(x) for x in split.loaded()}
            for loaded in old.loaded():
                if id(loaded) not in kept:
                    self._retire(loaded)

    def _close_new(self, made: dict[int, Loaded], have: dict[tuple, Loaded]) -> None:
        """Close the batchers of versions loaded for a split that will not serve."""
        kept = {id(x) for x in have.values()}
        for loaded in made.values():
            if id(loaded) not in kept:
                self._retire(loaded)

    def _retire(self, loaded: Loaded) -> None:
        """Close a replaced model's batcher in its own task: the requests it has queued
        finish on it, even if whatever replaced it is cancelled meanwhile."""
        task = asyncio.get_running_loop().create_task(loaded.batcher.close())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    async def _unload(self, slot: Slot) -> None:
        if slot.task is not None and not slot.task.done():
            slot.task.cancel()
        if slot.split is not None:
            split, slot.split = slot.split, None
            for loaded in split.loaded():
                self._retire(loaded)

    # -- lookups ------------------------------------------------------------------------

    def slot(self, name: str) -> Slot:
        try:
            return self.slots[name]
        except KeyError:
            known = ", ".join(sorted(self.slots)) or "none"
            raise NotFound(f"No deployment named {name!r}; deployed: {known}.") from None

    def only_slot(self) -> Slot:
        if len(self.slots) != 1:
            known = ", ".join(sorted(self.slots)) or "none"
            raise NotFound(
                f"/invocations needs exactly one deployment, but {len(self.slots)} are deployed "
                f"({known}); use /models/NAME/invocations."
            )
        return next(iter(self.slots.values()))

    def live_config(self, key: str) -> Callable[[str], Any]:
        """A lookup of the *key* config of a deployment (None if absent), for the event loop."""

        def lookup(deployment: str) -> Any:
            slot = self.slots.get(deployment)
            return slot.config.get(key) if slot is not None else None

        return lookup

    def queue_depth(self) -> dict[str, int]:
        return {
            n: sum(x.batcher.queued_rows for x in s.split.loaded())
            for n, s in self.slots.items()
            if s.split is not None
        }

    def all_ready(self) -> bool:
        return all(s.split is not None for s in self.slots.values())


def _file_identity(path: os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _key(want: Wanted) -> tuple:
    """What a slot must serve for *want*: its arms, shadow, stickiness, settings and guard
    (a split carries the guard it is watched by)."""
    guard = repr(want.config.get("guard") or None)
    return (want.arms, want.shadow, want.sticky, want.generation, serving_key(want.config), guard)
