"""What the Ray Serve replicas of one deployment know of each other: their metrics.

Serve's proxy sends a scrape of ``{proxy}/NAME/metrics`` to any one replica, so each
replica would count only its own requests. Instead, as the workers of a local server
do (`maas_nb.serving.workers`), every replica publishes its metrics snapshot, every half
second and when scraped, to the deployment's detached actor (the one holding its
settings, `ray_app.SettingsHolder`), and answers a scrape with the sum of every
replica's latest snapshot. The actor keeps the last snapshot of a replica that has gone
(scaled down, killed, replaced), so the summed counters never go backwards.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import uuid
from typing import TYPE_CHECKING, Any

from .metrics import render
from .workers import PUBLISH_EVERY_S, WorkerGroup

if TYPE_CHECKING:
    from .pool import ModelPool

log = logging.getLogger("maas_nb.serving")

#: How long a scrape waits for the actor before answering with this replica's figures.
METRICS_WAIT_S = 2.0


class ReplicaGroup(WorkerGroup):
    """One replica among its deployment's replicas, meeting them at the actor *holder*
    (a Ray actor handle with ``publish(key, snapshot)`` and ``snapshots()``)."""

    def __init__(self, holder: Any) -> None:
        super().__init__()
        self.holder = holder
        self.key = uuid.uuid4().hex  # this replica, among every one the deployment had
        self._publisher: asyncio.Task | None = None

    async def start(self, pool: ModelPool) -> None:
        await super().start(pool)
        self._publisher = asyncio.get_running_loop().create_task(self._publish_often())

    async def stop(self) -> None:
        if self._publisher is not None:
            self._publisher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._publisher
        with contextlib.suppress(Exception):  # the actor may be gone with the deployment
            await asyncio.wait_for(self._send(), METRICS_WAIT_S)
        await super().stop()

    async def metrics(self) -> str:
        """The Prometheus text of every replica's figures, summed."""
        assert self.pool is not None
        own = self.pool.metrics.snapshot()
        try:
            await asyncio.wait_for(self.holder.publish.remote(self.key, own), METRICS_WAIT_S)
            every = await asyncio.wait_for(self.holder.snapshots.remote(), METRICS_WAIT_S)
        except Exception as exc:  # the actor is unreachable: say what this replica knows
            log.warning("the other replicas' metrics are unavailable (%s): this one's only", exc)
            every = {}
        every[self.key] = own
        return render(list(every.values()))

    async def _send(self) -> None:
        assert self.pool is not None
        await self.holder.publish.remote(self.key, self.pool.metrics.snapshot())

    async def _publish_often(self) -> None:
        while True:
            await asyncio.sleep(PUBLISH_EVERY_S)
            try:
                await asyncio.wait_for(self._send(), METRICS_WAIT_S)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # keep serving; the next publish may get through
                log.warning("publishing this replica's metrics failed: %s", exc)
