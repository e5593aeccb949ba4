"""The guard: a deployment's split rolled back by the server when a version misbehaves.

A row's ``guard`` config (`maas_nb.registry.guards` checks it) names thresholds on what
the live window measures per version (`window.summary`): an error rate, a p99 latency, a live
accuracy on the feedback received. Every ``interval_s`` the server checks each arm that
is not the primary (`check`, a pure function of the summary); an arm with fewer than
``min_sample`` requests (feedback rows, for the accuracy) is not judged yet. Once an arm
fails more than ``failures_allowed`` checks in a row (Argo Rollouts' and Flagger's
failure limit), the server serves the primary alone, at once, logs a WARNING naming the
version, the threshold and the measured value, and reports ``rolled_back`` in its
deployment state. The server never writes the registry: the row still names the split,
so the rollback lasts until the next generation (``maas traffic``, ``maas promote`` or
``maas rollback``, which makes it durable), or until the server restarts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..exceptions import ConfigurationError
from ..registry.guards import DEFAULTS, THRESHOLDS, guard_config
from .counts import FIELDS, Counts

if TYPE_CHECKING:
    from .slot import Slot
    from .window import Window

log = logging.getLogger("maas_nb.serving")

WATCHING, ROLLED_BACK = "watching", "rolled_back"


@dataclass(frozen=True)
class Finding:
    """One arm's check: ``failed`` thresholds as (key, threshold, measured); ``waiting``
    when its sample is too small to judge (then it neither fails nor passes)."""

    version: str
    failed: tuple[tuple[str, float, float], ...] = ()
    waiting: bool = False

    def reason(self) -> str:
        return "; ".join(
            f"{THRESHOLDS[key]} {measured:.4g} {'below' if key.startswith('min') else 'above'} "
            f"the guard's {key}={threshold:g}"
            for key, threshold, measured in self.failed
        )


def check(summary: Mapping[str, Any], guard: Mapping[str, Any]) -> list[Finding]:
    """Each non-primary arm of *summary* (`window.summary`'s dict) judged by *guard*."""
    findings = []
    least = int(guard.get("min_sample", DEFAULTS["min_sample"]))
    for entry in summary.get("versions", ()):
        if entry.get("role") != "arm":
            continue
        failed: list[tuple[str, float, float]] = []
        by_requests = guard.get("max_error_rate") is not None or guard.get("max_p99_ms") is not None
        judged = by_requests and int(entry.get("requests") or 0) >= least
        if judged and guard.get("max_error_rate") is not None:
            rate = entry["errors"]["rate"]
            if rate is not None and rate > guard["max_error_rate"]:
                failed.append(("max_error_rate", guard["max_error_rate"], rate))
        if judged and guard.get("max_p99_ms") is not None:
            p99 = entry["latency_ms"].get("p99")
            if p99 is not None and p99 > guard["max_p99_ms"]:
                failed.append(("max_p99_ms", guard["max_p99_ms"], p99))
        if guard.get("min_accuracy") is not None:
            feedback = entry.get("feedback") or {}
            enough = int(feedback.get("count") or 0) >= least
            value = feedback.get("value")
            if enough and feedback.get("metric") == "accuracy" and value is not None:
                judged = True
                if value < guard["min_accuracy"]:
                    failed.append(("min_accuracy", guard["min_accuracy"], value))
        findings.append(Finding(entry["version"], tuple(failed), waiting=not judged))
    return findings


class GuardState:
    """One deployment's guard while one generation serves: consecutive failed checks
    per arm, the recent checks, and the rollback once it happened."""

    def __init__(self, generation: int, guard: Mapping[str, Any]) -> None:
        self.generation = generation
        self.guard = dict(guard)
        self.given: Any = guard  # the row's guard, as the row gives it
        self.state = WATCHING
        self.failures: dict[str, int] = {}
        self.checks: list[dict[str, Any]] = []
        self.reason = ""
        self.version: str | None = None
        self.at: float | None = None
        #: The window's counts when this generation began (see `Watcher.summary`).
        self.baseline: dict[str, dict[int, Counts]] = {}

    def observe(self, findings: list[Finding], at: float) -> Finding | None:
        """Count *findings*; the finding that rolls the deployment back (None: none)."""
        allowed = int(self.guard["failures_allowed"])
        for finding in findings:
            if finding.waiting:
                outcome = "waiting"
            elif finding.failed:
                self.failures[finding.version] = self.failures.get(finding.version, 0) + 1
                outcome = "failed"
            else:
                self.failures[finding.version] = 0
                outcome = "passed"
            self.checks.append(
                {
                    "at": at,
                    "version": finding.version,
                    "result": outcome,
                    "failures": self.failures.get(finding.version, 0),
                    "reason": finding.reason(),
                }
            )
        del self.checks[:-20]  # the recent checks only
        for finding in findings:
            if not finding.waiting and self.failures.get(finding.version, 0) > allowed:
                return finding
        return None

    def roll_back(self, finding: Finding, at: float) -> None:
        self.state, self.version, self.at = ROLLED_BACK, finding.version, at
        failures = self.failures[finding.version]
        self.reason = (
            f"{finding.version} failed {failures} checks in a row ({finding.reason()}); "
            "the primary serves alone"
        )

    def describe(self) -> dict[str, Any]:
        """The ``guard`` entry of the deployment's state and of the experiment's JSON."""
        return {
            "state": self.state,
            "generation": self.generation,
            "config": self.guard,
            "checks": list(self.checks),
            "version": self.version,
            "reason": self.reason,
            "at": self.at,
        }


class Watcher:
    """The server's guard loop: every *tick* seconds, each guarded deployment whose
    interval has passed is checked on *window*'s summary of it (this worker's traffic);
    a rollback swaps the slot's split for `Split.primary_only` (one assignment, as a new split
    is swapped in), so no request drawn after it reaches another arm. The guard's state
    goes in the slot (``/maas/deployments``) and the window's ``guards`` (the experiment's
    JSON)."""

    def __init__(self, slots: dict[str, Slot], window: Window, *, tick: float = 0.1) -> None:
        self.slots = slots
        self.window = window
        self.tick = tick
        self.states: dict[str, GuardState] = {}
        self._due: dict[str, float] = {}
        self._failed: dict[str, str] = {}  # why a deployment's last check failed (a bug)
        self._task: asyncio.Task | None = None

    def start(self) -> Watcher:
        self._task = asyncio.get_running_loop().create_task(self._loop())
        return self

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await asyncio.sleep(self.tick)
            self.step(time.monotonic())

    def step(self, now: float) -> None:
        """Check every guarded deployment that is due at *now* (monotonic seconds); one
        deployment's failure is logged (once) and never stops the others' checks."""
        for name in set(self.states) - set(self.slots):
            del self.states[name]
            self._failed.pop(name, None)
        for name, slot in list(self.slots.items()):
            try:
                self._step(name, slot, now)
            except Exception as exc:  # a bug: its traceback once, not at every tick
                if self._failed.get(name) != repr(exc):
                    log.exception("checking the guard of deployment %r failed", name)
                self._failed[name] = repr(exc)
            else:
                self._failed.pop(name, None)

    def _step(self, name: str, slot: Slot, now: float) -> None:
        """Check deployment *name* if due: by the guard its serving split was made with."""
        split = slot.split
        guard = split.guard if split is not None else None
        if not guard or split is None:
            self.states.pop(name, None)
            slot.guard = None
            self.window.guards.pop(name, None)
            return
        state = self.states.get(name)
        if state is None or state.generation != split.generation or state.given != guard:
            # A new generation (or guard) starts watching afresh: a rollback is over.
            slot.rolled_back = None
            try:
                checked = guard_config(guard)
            except ConfigurationError as exc:  # a row written by hand, not by traffic
                self.states.pop(name, None)
                slot.guard = {"state": "invalid", "generation": split.generation}
                slot.guard["reason"] = str(exc)
                return
            state = self.states[name] = GuardState(split.generation, checked)
            state.given = guard
            state.baseline = self.window.counts(name)  # fresh copies
            self._due[name] = now + float(state.guard["interval_s"])
        self._show(name, slot, state)
        if state.state == ROLLED_BACK or now < self._due[name]:
            return
        self._due[name] = now + float(state.guard["interval_s"])
        if split.single is not None and split.single is split.primary:
            return  # the primary takes all the traffic: nothing to judge
        finding = state.observe(check(self.summary(name, state), state.guard), time.time())
        if finding is not None:
            state.roll_back(finding, time.time())
            slot.rolled_back = (split.generation, split.guard)
            slot.install(split)  # its primary alone, and so is any split rebuilt for it
            log.warning(
                "deployment %r: the guard rolled generation %d back to %s alone: %s",
                name,
                split.generation,
                split.primary.label,
                state.reason,
            )
        self._show(name, slot, state)

    def summary(self, name: str, state: GuardState) -> dict[str, Any]:
        """The window's summary of *name* counting only what happened since *state*'s
        generation began: what an earlier generation did (a rolled-back candidate's
        errors) must not roll the next one back."""
        from .experiment import summarize

        counts = self.window.counts(name)
        for label, buckets in counts.items():
            for number, values in buckets.items():
                before = state.baseline.get(label, {}).get(number)
                if before is not None:
                    _subtract(values, before)
        window = self.window
        return summarize(
            window.describe(name),
            counts,
            now=window.clock(),
            window_s=window.window_s,
            bucket_s=window.bucket_s,
        )

    def _show(self, name: str, slot: Slot, state: GuardState) -> None:
        slot.guard = self.window.guards[name] = state.describe()


def _subtract(counts: Counts, before: Counts) -> None:
    """Take *before* (the same bucket's counts earlier) from *counts*."""
    for name in FIELDS:
        setattr(counts, name, getattr(counts, name) - getattr(before, name))
    counts.latency = [a - b for a, b in zip(counts.latency, before.latency, strict=True)]
