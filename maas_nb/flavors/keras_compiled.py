"""A loaded Keras model's inference call, traced once into a TensorFlow graph.

Calling a Keras 3 model eagerly runs every layer's Python on every call: about 2 ms for
a 20-64-64-1 MLP, whatever the batch size, all of it holding the GIL. The same call
traced once by ``tf.function`` runs as one graph in about a tenth of that (what Keras's
own ``predict`` does per batch, without its per-call set-up). `prepare` traces it when
the flavor loads a model, with the input's batch dimension left open (``None``), so
every batch size runs the one graph: no retracing per size. It then calls the graph
once on zeros, so the first request does not pay TensorFlow's graph optimisation.

Only what the graph answers exactly like the eager call goes through it: a model with
one input of a floating dtype (a Sequential or a Functional model), fed an array of
numbers whose shape fits that input, on the TensorFlow backend. The input is converted
to the input's dtype the way Keras converts it (``tf.convert_to_tensor``); the graph's
fused kernels may round the last bit of a float32 differently from the eager ops.
Anything else (a subclassed model, several inputs, strings, a shape the input does not
take: whatever eager Keras would reshape or refuse with its own message) is called
eagerly, as before. A model whose tracing or warm-up call fails is served eagerly too.

Models loaded by the flavor only: a model still being built or trained in a notebook
may change its layers, and a graph traced earlier would not follow.
"""

from __future__ import annotations

import logging
import threading
import weakref
from dataclasses import dataclass
from typing import Any

import numpy as np

log = logging.getLogger("maas_nb.flavors")

#: Array kinds the graph takes: bool, signed and unsigned integers, floats.
_NUMERIC = frozenset("biuf")

_compiled: weakref.WeakKeyDictionary[Any, Compiled] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


@dataclass(frozen=True)
class Compiled:
    """One model's traced inference call and the input it was traced for."""

    function: Any  # the tf.function (it counts its traces)
    concrete: Any  # its one concrete function: the cheapest to call
    shape: tuple[int | None, ...]
    dtype: Any  # a tf.DType

    def fits(self, X: np.ndarray) -> bool:
        """Whether *X* is an array of numbers the traced input takes as it is."""
        return (
            X.dtype.kind in _NUMERIC
            and X.ndim == len(self.shape)
            and all(
                want is None or want == got for want, got in zip(self.shape, X.shape, strict=True)
            )
        )

    def __call__(self, X: np.ndarray) -> Any:
        import tensorflow as tf

        return self.concrete(tf.convert_to_tensor(X, dtype=self.dtype))


def prepare(model: Any, *, uri: str) -> Compiled | None:
    """Trace and warm *model*'s inference graph where it can stand in for the eager call."""
    try:
        compiled = _trace(model)
        if compiled is not None and all(d is not None for d in compiled.shape[1:]):
            compiled(np.zeros([1 if d is None else d for d in compiled.shape], "float32"))
    except Exception as exc:  # a speed-up only: the eager call still answers
        log.info("%s: tracing its inference graph failed (%s); calling it eagerly", uri, exc)
        return None
    if compiled is not None:
        with _lock:
            _compiled[model] = compiled
    return compiled


def compiled_call(model: Any) -> Compiled | None:
    """The traced call `prepare` made for *model*, if any."""
    return _compiled.get(model)


def call(model: Any, X: Any) -> Any:
    """*model*'s outputs for *X*: through its traced graph where that fits, else eagerly."""
    X = np.asarray(X)
    compiled = _compiled.get(model)
    if compiled is not None and compiled.fits(X):
        return compiled(X)
    return model(X, training=False)


def _trace(model: Any) -> Compiled | None:
    import keras
    import tensorflow as tf

    if keras.backend.backend() != "tensorflow":
        return None
    try:
        inputs = model.inputs
    except (AttributeError, ValueError):
        return None  # a subclassed model: no input to trace for
    if not isinstance(inputs, list) or len(inputs) != 1:
        return None  # the flavor calls a model with one array: several inputs stay eager
    spec = inputs[0]
    dtype = tf.as_dtype(spec.dtype)
    if not dtype.is_floating or getattr(spec, "sparse", False) or getattr(spec, "ragged", False):
        return None
    shape = tuple(spec.shape)
    # The graph holds the model weakly: a cached trace must not keep a replaced model alive.
    ref = weakref.ref(model)

    def infer(x: Any) -> Any:
        traced = ref()
        assert traced is not None  # it runs only while tracing, inside prepare(model)
        return traced(x, training=False)

    function = tf.function(infer, input_signature=[tf.TensorSpec(shape, dtype)])
    return Compiled(function, function.get_concrete_function(), shape, dtype)
