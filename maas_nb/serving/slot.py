"""What the server holds for one deployment: the split it serves and the one it loads."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from typing import Any

from ..registry.uri import ModelRef
from .errors import Unavailable
from .loaded import Loaded
from .split import Split
from .status import FAILED, LOADING, READY


@dataclass
class Slot:
    """What the server holds for one deployment."""

    name: str
    target: str
    config: dict[str, Any]
    split: Split | None = None
    status: str = LOADING
    reason: str = ""
    key: tuple | None = None  # the key of the split serving (see `pool`)
    loading: tuple | None = None  # the key of the split being loaded
    failed: tuple | None = None  # the key of the split that failed to load
    failed_revision: str | None = None
    failed_generation: int | None = None
    wanted: Any = None  # the registry's `Wanted` being loaded (or last loaded)
    guard: dict[str, Any] | None = None  # the guard's state (see `watch`); None: no guard
    #: (generation, guard) the server's guard rolled back (see `watch`); None: none.
    rolled_back: tuple[int, Any] | None = None
    task: asyncio.Task | None = field(default=None, repr=False)

    def install(self, split: Split) -> Split:
        """Serve *split* from now on (the split installed returned). While the guard has
        rolled back *split*'s generation and guard, its primary serves alone: a split
        rebuilt for the same generation (an alias the row names moved) must not bring the
        rolled-back arm back."""
        if self.rolled_back is not None and self.rolled_back == (split.generation, split.guard):
            split = split.primary_only()
        self.split = split
        return split

    @property
    def current(self) -> Loaded | None:
        """The primary version served now (None: nothing yet)."""
        split = self.split
        return split.primary.loaded if split is not None else None

    def serving(self) -> Split:
        """The split serving now; 503 while there is none."""
        split = self.split
        if split is not None:
            return split
        if self.status == FAILED:
            raise Unavailable(f"Deployment {self.name!r} failed to load: {self.reason}")
        raise Unavailable(
            f"Deployment {self.name!r} is still loading; retry shortly.",
            headers={"Retry-After": "1"},
        )

    def ready(self) -> Loaded:
        """The primary version serving now; 503 while there is none."""
        return self.serving().primary.loaded

    def describe(self, registry_error: str | None = None) -> dict[str, Any]:
        """What ``/maas/deployments`` shows; *registry_error* says why the registry cannot
        be read now (the reason of a deployment serving on meanwhile)."""
        split = self.split
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
            "generation": split.generation if split else None,
            "failed_generation": self.failed_generation,
            "sticky": split.sticky if split else None,
            "arms": self._arms(),
            "shadow": self._shadow(),
            "guard": self._guard(),
        }

    def _guard(self) -> dict[str, Any] | None:
        """The guard's state of the split serving (None until it watches it)."""
        guard, split = self.guard, self.split
        if guard is None or split is None or guard["generation"] != split.generation:
            return None
        return guard

    def _arms(self) -> list[dict[str, Any]]:
        """The arms serving, then those of a split being loaded (or failed) not yet in."""
        split = self.split
        arms = [{**a, "status": READY} for a in split.describe()] if split else []
        wanted = self.wanted
        if wanted is None or (split is not None and wanted.generation == split.generation):
            return arms
        status = FAILED if self.failed is not None else LOADING
        return arms + [
            {"target": t, "version": v, "weight": w, "status": status, "next": True}
            for t, v, w in wanted.arms
        ]

    def _shadow(self) -> dict[str, Any] | None:
        split = self.split
        if split is None or split.shadow is None:
            return None
        s = split.shadow
        return {
            "target": s.target,
            "version": s.loaded.version,
            "percent": s.percent,
            "timeout_ms": s.timeout_s * 1000,
        }
