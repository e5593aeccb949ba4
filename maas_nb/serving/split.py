"""A deployment's traffic split: which loaded versions answer, in which shares.

A `Split` is immutable and swapped in whole (one assignment), so a request sees either
the old split or the new one, never a mix. A request draws a number in [0, 100) once:
from a stable hash (CRC-32) of its sticky header's value when the split is sticky, so
that one key reaches one arm for as long as the split stands; otherwise from an additive
golden-ratio sequence with a random start (a low-discrepancy sequence): every window of
N requests gives each arm its share to within about one request per few hundred, where
independent random draws would wander by sqrt(N) (a 10% arm over 5,000 requests: 500
+/- 21 at one sigma), and no client's request pattern lines up with it. The
arm is the first whose cumulative weight exceeds the draw, so an arm of weight 0 (whose
bound equals its predecessor's) is never picked. A request picks its arm again with the
same draw if the split changes while its body is decoded (see `requests`).
"""

from __future__ import annotations

import bisect
import random
import zlib
from dataclasses import dataclass
from typing import Any

from ..registry.uri import ModelRef
from .loaded import Loaded

_PHI = 0.6180339887498949  # the golden ratio's fractional part


class _Sequence:
    """Draws in [0, 100) spread as evenly as possible: x(n+1) = x(n) + phi mod 1."""

    __slots__ = ("x",)

    def __init__(self) -> None:
        self.x = random.random()  # noqa: S311 (a starting point, not a secret)

    def __call__(self) -> float:
        x = self.x + _PHI
        if x >= 1.0:
            x -= 1.0
        self.x = x
        return x * 100.0


_next_draw = _Sequence()  # one per process: requests run on one event loop


@dataclass(frozen=True, slots=True)
class Shadow:
    """The version a share of the traffic is copied to; its answers are only recorded."""

    target: str
    loaded: Loaded
    percent: float
    timeout_s: float
    label: str  # NAME:VERSION


@dataclass(frozen=True, slots=True)
class Arm:
    """One version in a split, with what its responses say, made once per split."""

    target: str
    loaded: Loaded
    weight: int
    generation: str  # the X-Maas-Generation header's value
    label: str  # the X-Maas-Version header's value: NAME:VERSION
    shadow: Shadow | None  # the shadow of this arm's requests (None: none, or another input)


class Split:
    """Arms with cumulative weights, the generation, stickiness and the shadow; *guard*:
    the row's guard this split was made with (as the row gives it; None: none), the one
    the server's guard applies to it (`watch`)."""

    __slots__ = ("arms", "bounds", "generation", "guard", "primary", "shadow", "single", "sticky")

    def __init__(
        self,
        arms: list[tuple[str, Loaded, int]],
        generation: int = 1,
        sticky: str | None = None,
        shadow: Shadow | None = None,
        guard: Any = None,
    ) -> None:
        made = []
        for target, loaded, weight in arms:
            label = f"{loaded.name}:{loaded.version}"
            copied = shadow
            if shadow is not None and (
                shadow.loaded is loaded or not _same_inputs(shadow.loaded, loaded)
            ):
                copied = None  # the rows decoded for this arm would not fit the shadow
            made.append(Arm(target, loaded, weight, str(generation), label, copied))
        self.arms: tuple[Arm, ...] = tuple(made)
        bounds, total = [], 0
        for arm in self.arms:
            total += arm.weight
            bounds.append(total)
        self.bounds: tuple[int, ...] = tuple(bounds)
        self.primary: Arm = self.arms[0]
        self.generation = generation
        self.sticky = sticky.lower() if sticky else None
        self.shadow = shadow
        self.guard = guard or None
        # One arm takes all the traffic: no draw at all (the common case).
        live = [a for a in self.arms if a.weight > 0]
        self.single: Arm | None = live[0] if len(live) == 1 else None

    @classmethod
    def of(cls, loaded: Loaded, target: str | None = None) -> Split:
        """A split of one version taking all the traffic."""
        return cls([(target or f"{loaded.name}:{loaded.version}", loaded, 100)])

    def primary_only(self) -> Split:
        """This split with its primary taking all the traffic (the same generation,
        versions, shadow and guard: the versions stay loaded until the next generation)."""
        arms = [(a.target, a.loaded, 100 if a is self.primary else 0) for a in self.arms]
        return Split(arms, self.generation, self.sticky, self.shadow, self.guard)

    def draw(self, headers: Any) -> float:
        """This request's number in [0, 100): its sticky key's hash, else random."""
        if self.single is not None:
            return 0.0
        if self.sticky is not None:
            key = headers.get(self.sticky)
            if key is not None:
                return (zlib.crc32(key.encode("utf-8", "surrogateescape")) % 10_000) / 100
        return _next_draw()

    def pick(self, draw: float) -> Arm:
        """The arm a request with *draw* reaches."""
        if self.single is not None:
            return self.single
        return self.arms[bisect.bisect_right(self.bounds, draw)]

    def serving(self, version: int) -> Arm | None:
        """The arm taking traffic that serves *version* (a request naming its version)."""
        for arm in self.arms:
            if arm.weight > 0 and arm.loaded.version == version:
                return arm
        return None

    def loaded(self) -> list[Loaded]:
        """Every version this split holds (arms and shadow), once each."""
        found = {id(a.loaded): a.loaded for a in self.arms}
        if self.shadow is not None:
            found[id(self.shadow.loaded)] = self.shadow.loaded
        return list(found.values())

    def describe(self) -> list[dict[str, Any]]:
        return [
            {"target": a.target, "version": a.loaded.version, "weight": a.weight} for a in self.arms
        ]


def _same_inputs(a: Loaded, b: Loaded) -> bool:
    """Whether rows decoded for *b* fit *a* as they are (the same kind and inputs)."""
    sa, sb = a.signature, b.signature
    if sa is None or sb is None:
        return sa is sb
    return (sa.kind, sa.inputs) == (sb.kind, sb.inputs)


@dataclass(frozen=True)
class Wanted:
    """What the registry's row asks a deployment to serve, with versions resolved."""

    target: str
    config: dict[str, Any]
    arms: tuple[tuple[str, int, int], ...] = ()  # (target, version, weight)
    shadow: tuple[str, int, float, float] | None = None  # (target, version, %, timeout ms)
    sticky: str | None = None
    generation: int = 1
    error: str | None = None

    @property
    def model(self) -> str:
        return ModelRef.parse(self.target).name

    def versions(self) -> list[int]:
        found = [v for _, v, _ in self.arms]
        if self.shadow is not None:
            found.append(self.shadow[1])
        return list(dict.fromkeys(found))


def arms_of(target: str, config: dict[str, Any]) -> list[tuple[str, int]]:
    """The (target, weight) of each arm a row's config asks for."""
    traffic = config.get("traffic")
    if not traffic:
        return [(target, 100)]
    return [(str(a["target"]), int(a["weight"])) for a in traffic]
