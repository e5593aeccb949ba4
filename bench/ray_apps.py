"""The hand-written Ray Serve deployments bench/serving_ray.py measures beside the ``ray``
target: what a Ray user writes from Ray Serve's docs, and the proxy's floor.

- `Baseline`: the docs' pattern exactly (a ``@serve.deployment`` class loading the model
  in ``__init__``, ``async def __call__(self, request)`` reading the JSON body, calling
  ``self.model.predict`` once and returning the predictions), Serve's default options.
- `Batched`: the best a Ray user writes by hand, ``@serve.batch(max_batch_size=64,
  batch_wait_timeout_s=0.005)`` predicting the whole batch in one call; as Serve's
  batching guide says, ``max_ongoing_requests`` at least the batch size, or a replica is
  never sent enough requests to fill a batch.
- `Floor`: a constant answer (the body read, no model): Serve's HTTP proxy and one
  replica hop, the most any Ray Serve deployment can answer here. It takes as many
  ongoing requests as the ray target's replicas (256), so Serve's default of 5 (and its
  router's retry backoff when every replica is full) does not cap it below the proxy.

The replicas import this module, so the cluster's ``PYTHONPATH`` holds bench/.
"""

from __future__ import annotations

import itertools

import numpy as np
import skops.io as sio
from ray import serve


def load(path: str):
    return sio.load(path, trusted=sio.get_untrusted_types(file=path))


@serve.deployment
class Baseline:
    def __init__(self, path: str):
        self.model = load(path)

    async def __call__(self, request):
        payload = await request.json()
        return {"predictions": self.model.predict(np.asarray(payload["instances"])).tolist()}


@serve.deployment(max_ongoing_requests=64)
class Batched:
    def __init__(self, path: str):
        self.model = load(path)

    @serve.batch(max_batch_size=64, batch_wait_timeout_s=0.005)
    async def predict(self, batch: list[np.ndarray]) -> list[list]:
        sizes = [len(x) for x in batch]
        y = self.model.predict(np.concatenate(batch)).tolist()
        starts = np.cumsum([0, *sizes])
        return [y[a:b] for a, b in itertools.pairwise(starts)]

    async def __call__(self, request):
        payload = await request.json()
        return {"predictions": await self.predict(np.asarray(payload["instances"]))}


@serve.deployment(max_ongoing_requests=256)
class Floor:
    async def __call__(self, request):
        await request.body()
        return {"predictions": [1]}
