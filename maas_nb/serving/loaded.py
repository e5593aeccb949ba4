"""One model version in memory: loaded from the registry, warmed, with its batcher (or,
a shadow's, loaded in a process of its own: `model_process`)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from .. import flavors
from ..flavors.signature import Signature
from ..registry import Registry
from . import warming
from .batching import Answered, Batcher, predictor
from .model_process import ModelProcess

#: The config keys that say how the traffic is split, not how a version is served: a
#: change of them alone reuses the versions already loaded (a promote, a rollback or a
#: new guard swaps splits of the versions in memory; "log" is read at each request),
#: except a version that becomes a shadow alone, or stops being one: it is loaded afresh,
#: in its own process or in the server's (`Loaded.apart`).
TRAFFIC_KEYS = frozenset({"traffic", "generation", "sticky", "shadow", "log", "guard", "promoted"})


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
    apart: bool = False  # called in a process of its own

    @property
    def key(self) -> tuple:
        return (self.version, serving_key(self.config), self.apart)


async def load(
    registry: Registry,
    name: str,
    version: int,
    config: dict[str, Any],
    observe_batch: Callable[..., Any] | None = None,
    answered: Answered | None = None,
    *,
    apart: bool = False,
) -> Loaded:
    """Version *version* of model *name* loaded, warmed and given a batcher (*config*:
    its batching settings; *observe_batch* and *answered*: its hooks, see `Batcher`);
    *apart*: in a process of its own, not in this one."""
    uri = f"{name}:{version}"
    if apart:
        record = await asyncio.to_thread(registry.get, uri)
        process = await ModelProcess.start(registry.home, uri)
        try:
            batcher = _batcher(None, uri, config, observe_batch, answered, process)
        except BaseException:
            await process.close()
            raise
        return Loaded(
            name, version, record.flavor, record.signature, batcher, config, process.labels, True
        )
    record, predict, labels = await asyncio.to_thread(prepared, registry, uri)
    batcher = _batcher(predict, uri, config, observe_batch, answered)
    return Loaded(name, version, record.flavor, record.signature, batcher, config, labels)


def _batcher(
    predict: Callable[..., Any] | None,
    uri: str,
    config: dict[str, Any],
    observe_batch: Callable[..., Any] | None,
    answered: Answered | None,
    process: ModelProcess | None = None,
) -> Batcher:
    return Batcher(
        predict,
        name=uri,
        max_batch_size=int(config["max_batch_size"]),
        max_latency_ms=float(config["max_latency_ms"]),
        max_queue_rows=config.get("max_queue_rows"),
        observe_batch=observe_batch,
        answered=answered,
        process=process,
    )


def prepared(
    registry: Registry, uri: str
) -> tuple[Any, Callable[..., Any], tuple[str, ...] | None]:
    """Version *uri* loaded (digests verified) and warmed: its record, the function a
    batcher calls and its class labels; in the server or in its own process."""
    record, model = registry.get(uri), registry.load(uri)
    flavor = flavors.get(record.flavor)
    predict = predictor(flavor, model)
    if record.signature is not None:
        warming.warm(predict, record.signature, uri)
    return record, predict, class_labels(flavor.classes(model))


def serving_key(config: dict[str, Any]) -> tuple:
    """What of *config* a loaded version depends on (batching, revision), comparable."""
    return tuple(sorted((k, str(v)) for k, v in config.items() if k not in TRAFFIC_KEYS))


def class_labels(classes: Any) -> tuple[str, ...] | None:
    """The flavor's *classes* as the labels of the ``probabilities`` columns, if 1-D."""
    array = np.asarray(classes) if classes is not None else None
    if array is None or array.ndim != 1:
        return None  # multi-output classifiers have one array of classes per output
    return tuple(str(c) for c in array.tolist())
