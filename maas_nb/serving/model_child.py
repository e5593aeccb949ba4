"""The child side of a model's own process (`model_process`): load the version the
server names, then answer its batches until the server closes our input.

Run as ``python -m maas_nb.serving.model_child`` by `ModelProcess` only, with the
server's ``sys.path`` as ``PYTHONPATH`` (the same maas_nb and model classes). The
messages (`model_pipe`) travel on copies of standard input and output made first
thing; the model then sees ``/dev/null`` as its input and standard error as its output,
so nothing it reads or prints touches them. Ctrl-C at the server's terminal is the
server's to handle: this process ends when its input does.
"""

from __future__ import annotations

import os
import pickle
import signal
import sys
from typing import Any, BinaryIO

from .model_pipe import LENGTH, frame


def _read(source: BinaryIO) -> Any:
    header = source.read(LENGTH.size)
    if len(header) < LENGTH.size:
        return None  # the server closed our input: exit
    (length,) = LENGTH.unpack(header)
    return pickle.loads(source.read(length))  # noqa: S301  (from the server that started us)


def _write(sink: BinaryIO, message: Any) -> None:
    sink.write(frame(message))
    sink.flush()


def main() -> int:
    """Load the version the server names, then answer its batches until input ends."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    source, sink = os.fdopen(os.dup(0), "rb"), os.fdopen(os.dup(1), "wb")
    os.dup2(os.open(os.devnull, os.O_RDONLY), 0)
    os.dup2(2, 1)
    first = _read(source)
    if first is None:
        return 0
    _, home, uri = first
    try:
        predict, labels = _load(home, uri)
    except Exception as exc:
        _write(sink, ("failed", f"{type(exc).__name__}: {exc}"))
        return 1
    _write(sink, ("ready", labels))
    while (message := _read(source)) is not None:
        try:
            _write(sink, ("ok", predict(message[1])))
        except Exception as exc:
            _write(sink, ("error", type(exc).__name__, str(exc)))
    return 0


def _load(home: str, uri: str) -> tuple[Any, tuple[str, ...] | None]:
    from ..registry import Registry
    from .loaded import prepared

    _, predict, labels = prepared(Registry(home), uri)
    return predict, labels


if __name__ == "__main__":
    sys.exit(main())
