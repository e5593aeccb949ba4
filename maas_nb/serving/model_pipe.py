"""The messages between the server and a model's own process (`model_process`,
`model_child`): pickles, each after its length (4 bytes).

The child's answers are unpickled with an allow-list: the objects the unpickler
resolves for pickles of numpy arrays of every kind outputs have, recorded at import.
A name in an answer only picks a candidate of that list, never looked up anywhere else
(no import, no attribute of a module run for it); the candidate is accepted if the
module already imported holds that very object under that name. A Python function is
handed out as a fresh wrapper, so a pickle's BUILD cannot set attributes on the
server's own. So a child's answer can neither run code in the server nor change it.
"""

from __future__ import annotations

import contextlib
import io
import pickle
import struct
import sys
import types
from typing import Any

import numpy as np

LENGTH = struct.Struct("!I")
#: The largest answer a child may send, in bytes; a bigger one ends the child.
MOST_BYTES = 256 * 2**20


class ModelProcessError(RuntimeError):
    """A model's process failed to load, died, sent what it must not, is waiting before
    it is started again, or is closed."""


def frame(message: Any) -> bytes:
    """*message* pickled, after its length."""
    data = pickle.dumps(message, protocol=5)
    return LENGTH.pack(len(data)) + data


def _allowed() -> dict[tuple[str, str], Any]:
    """(module, name) -> the object the unpickler resolves for it, for pickles of numpy
    arrays of every kind outputs have."""
    samples: list[Any] = [
        np.zeros((2, 2), np.float32),
        np.array([1, 2]),
        np.array([True]),
        np.array(["a", None], dtype=object),
        np.array(["a", "bc"]),
        np.array([b"a"]),
        np.array(["2020-01-01"], dtype="datetime64[D]"),
        np.array([1], dtype="timedelta64[s]"),
        np.zeros(2, dtype=[("a", "f8"), ("b", "i4")]),
        np.array([np.float64(1), np.int64(2), np.bool_(True), np.str_("a")], dtype=object),
    ]
    with contextlib.suppress(AttributeError):  # numpy >= 2 only
        samples.append(np.array(["a"], dtype=np.dtypes.StringDType()))
    found: dict[tuple[str, str], Any] = {}

    class Recording(pickle.Unpickler):
        def find_class(self, module: str, name: str) -> Any:
            found[module, name] = super().find_class(module, name)
            return found[module, name]

    for sample in samples:
        Recording(io.BytesIO(pickle.dumps(sample, protocol=5))).load()
    return found


ALLOWED = _allowed()


class _Answers(pickle.Unpickler):
    """Unpickles only what numpy arrays are made of (see the module)."""

    def find_class(self, module: str, name: str) -> Any:
        obj = ALLOWED.get((module, name))
        held = vars(sys.modules[module]).get(name) if module in sys.modules else None
        if obj is None or held is not obj:
            raise ModelProcessError(
                f"the model's process sent {module}.{name}, which is not part of a numpy "
                "array: outputs must be arrays of numbers, strings or booleans"
            )
        if isinstance(obj, types.FunctionType):
            return _wrapped(obj)
        return obj


def _wrapped(function: Any) -> Any:
    def call(*args: Any, **kwargs: Any) -> Any:
        return function(*args, **kwargs)

    return call


def answer(data: bytes) -> Any:
    """A message from a child (*data*: its pickle), unpickled with the allow-list."""
    return _Answers(io.BytesIO(data)).load()
