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
import gc
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .. import flavors
from ..exceptions import MaasError, RegistryUnavailableError
from ..flavors.signature import Signature
from ..registry import Registry
from ..registry.registry import DATABASE
from ..registry.uri import ModelRef
from . import warming
from .batching import Batcher, predictor
from .errors import NotFound, Unavailable
from .metrics import Metrics
from .outcomes import OutcomeSink
from .status import FAILED, LOADING, READY

log = logging.getLogger("maas_nb.serving")

DEFAULT_CONFIG = {"max_batch_size": 64, "max_latency_ms": 5.0}
#: Config read at each request, whose change needs no reload of the model.
LIVE_CONFIG = frozenset({"log"})


@dataclass
class Loaded:
    """One model version in memory with its batcher."""

    name: str
    version: int
    flavor: str
    signature: Signature | None
    batcher: Batcher
    config: dict[str, Any]
    labels: tuple[str, ...] | None = None  # the class of each probabilities column


@dataclass
class Slot:
    """What the server holds for one deployment."""

    name: str
    target: str
    config: dict[str, Any]
    current: Loaded | None = None
    status: str = LOADING
    reason: str = ""
    loading: tuple | None = None  # (version, config key) being loaded
    failed: tuple | None = None  # (version, config key) that failed to load
    failed_revision: str | None = None
    task: asyncio.Task | None = field(default=None, repr=False)

    def ready(self) -> Loaded:
        if self.current is not None:
            return self.current
        if self.status == FAILED:
            raise Unavailable(f"Deployment {self.name!r} failed to load: {self.reason}")
        raise Unavailable(
            f"Deployment {self.name!r} is still loading; retry shortly.",
            headers={"Retry-After": "1"},
        )

    def describe(self, registry_error: str | None = None) -> dict[str, Any]:
        """What ``/maas/deployments`` shows; *registry_error* says why the registry cannot
        be read now (the reason of a deployment serving on meanwhile)."""
        cur = self.current
        reason = self.reason
        if registry_error and cur is not None and not reason:
            reason = f"The registry is unavailable, so version {cur.version} serves on: "
            reason += registry_error
        return {
            "name": self.name,
            "target": self.target,
            "model": cur.name if cur else ModelRef.parse(self.target).name,
            "version": cur.version if cur else None,
            "status": self.status,
            "reason": reason,
            "revision": cur.config.get("revision") if cur else None,
            "failed_revision": self.failed_revision,
            "config": self.config,
        }


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
        #: Who hears of every answered request (`outcomes`): the prediction log, ...
        self.sinks: list[OutcomeSink] = []
        self.server = server  # this server's name; None: it serves every deployment
        self.deployment = deployment  # serve only this deployment (a Ray Serve replica's)
        self.poll_interval = poll_interval
        self.on_home_gone = on_home_gone
        self._database = registry.home / DATABASE
        self._identity = _file_identity(self._database)
        self.slots: dict[str, Slot] = {}
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
            for name, (target, version, config, error) in wanted.items():
                slot = self.slots.get(name)
                if slot is None:
                    slot = self.slots[name] = Slot(name, target, config)
                slot.target, slot.config = target, config
                if error is not None:
                    if slot.current is None:
                        slot.status, slot.reason = FAILED, error
                    continue
                key = (version, _config_key(config))
                current = slot.current
                if current is not None and (current.version, _config_key(current.config)) == key:
                    continue
                if key in (slot.loading, slot.failed):
                    continue  # being loaded, or failed as it is: redeploy to retry
                if slot.task is not None and not slot.task.done():
                    slot.task.cancel()  # the target moved again: only the newest load counts
                slot.loading = key
                slot.task = asyncio.get_running_loop().create_task(
                    self._load(slot, version, config, key)
                )

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

    def _read_registry(self) -> dict[str, tuple[str, int, dict[str, Any], str | None]]:
        wanted: dict[str, tuple[str, int, dict[str, Any], str | None]] = {}
        for dep in self.registry.list_deployments(server=self.server):
            if self.deployment is not None and dep.name != self.deployment:
                continue
            config = {**DEFAULT_CONFIG, **dep.config}
            try:
                version = self.registry.get(dep.target).version
                wanted[dep.name] = (dep.target, version, config, None)
            except RegistryUnavailableError:
                raise  # the registry's fault, not this deployment's
            except Exception as exc:
                wanted[dep.name] = (dep.target, 0, config, str(exc))
        return wanted

    async def _load(self, slot: Slot, version: int, config: dict[str, Any], key: tuple) -> None:
        name = ModelRef.parse(slot.target).name
        uri = f"{name}:{version}"
        if slot.current is None:
            slot.status = LOADING
        start = time.perf_counter()
        try:
            record, model = await asyncio.to_thread(self._load_model, uri)
            flavor = flavors.get(record.flavor)
            predict = predictor(flavor, model)
            labels = class_labels(flavor.classes(model))
            if record.signature is not None:
                await asyncio.to_thread(warming.warm, predict, record.signature, uri)
        except Exception as exc:
            log.warning("deployment %r: loading %s failed: %s", slot.name, uri, exc)
            if slot.loading != key:
                return  # superseded meanwhile: its failure is not the slot's
            slot.reason = f"{type(exc).__name__}: {exc}"
            slot.failed, slot.failed_revision = key, config.get("revision")
            if slot.current is None:
                slot.status = FAILED
            slot.loading = None
            return
        if slot.loading != key or self.slots.get(slot.name) is not slot:
            return  # a newer target (or an undeploy) superseded this load while it ran
        metrics = self.metrics[slot.name]
        batcher = Batcher(
            predict,
            name=uri,
            max_batch_size=int(config["max_batch_size"]),
            max_latency_ms=float(config["max_latency_ms"]),
            max_queue_rows=config.get("max_queue_rows"),
            observe_batch=metrics.observe_batch,
        )
        metrics.load_seconds = time.perf_counter() - start
        old, slot.current = (
            slot.current,
            Loaded(name, version, record.flavor, record.signature, batcher, config, labels),
        )
        slot.status, slot.reason, slot.loading, slot.failed = READY, "", None, None
        slot.failed_revision = None  # a failure is news until a later version serves
        log.info("deployment %r now serves %s (%.3f s)", slot.name, uri, metrics.load_seconds)
        # What a model load leaves on the heap lives as long as the model: keep the cyclic
        # GC from rescanning it on every full collection (pauses of ~100 ms under load).
        gc.freeze()
        if old is not None:
            self._retire(old)

    def _retire(self, loaded: Loaded) -> None:
        """Close a replaced model's batcher in its own task: the requests it has queued
        finish on it, even if whatever replaced it is cancelled meanwhile."""
        task = asyncio.get_running_loop().create_task(loaded.batcher.close())
        self._retiring.add(task)
        task.add_done_callback(self._retiring.discard)

    def _load_model(self, uri: str) -> tuple[Any, Any]:
        return self.registry.get(uri), self.registry.load(uri)

    async def _unload(self, slot: Slot) -> None:
        if slot.task is not None and not slot.task.done():
            slot.task.cancel()
        if slot.current is not None:
            current, slot.current = slot.current, None
            self._retire(current)

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
        return {n: s.current.batcher.queued_rows for n, s in self.slots.items() if s.current}

    def all_ready(self) -> bool:
        return all(s.current is not None for s in self.slots.values())


def class_labels(classes: Any) -> tuple[str, ...] | None:
    """The flavor's *classes* as the labels of the ``probabilities`` columns, if 1-D."""
    array = np.asarray(classes) if classes is not None else None
    if array is None or array.ndim != 1:
        return None  # multi-output classifiers have one array of classes per output
    return tuple(str(c) for c in array.tolist())


def _file_identity(path: os.PathLike[str]) -> tuple[int, int] | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st.st_dev, st.st_ino


def _config_key(config: dict[str, Any]) -> tuple:
    return tuple(sorted((k, str(v)) for k, v in config.items() if k not in LIVE_CONFIG))
