"""Importing Keras (and TensorFlow under it) without TensorFlow's start-up log lines.

TensorFlow's C++ side writes lines such as ``oneDNN custom operations are on`` and
``WARNING: All log messages before absl::InitializeLog() ...`` straight to file
descriptor 2 while it is imported; a notebook kernel forwards that descriptor into the
cell's output, and ``TF_CPP_MIN_LOG_LEVEL`` no longer silences all of them. So the
import runs with descriptor 2 pointed at a temporary file, and afterwards every line
TensorFlow's own log level would not have shown is dropped; anything else (errors, or
lines that are not TensorFlow's log lines) is written back to stderr. Only the import is
wrapped: the user's own warnings, later, reach the output untouched.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
import threading
from types import ModuleType

from .imports import require

EXTRA = "maas_nb[tensorflow]"
LEVEL_ENV = "TF_CPP_MIN_LOG_LEVEL"
#: Without the user's own setting: hide TensorFlow's INFO and WARNING lines, keep errors.
DEFAULT_LEVEL = "2"

#: absl/glog prefixes: I (info), W (warning), E (error), F (fatal) + MMDD.
_LOG_LINE = re.compile(r"^([IWEF])\d{4} ")
_SEVERITY = {"I": 0, "W": 1, "E": 2, "F": 3}
_ABSL_PREAMBLE = "WARNING: All log messages before absl::InitializeLog() is called"
#: Descriptor 2 is the process's: two threads swapping it at once could leave it lost.
_swapping = threading.Lock()


def import_keras() -> ModuleType:
    """Import Keras; the first time, keep TensorFlow's start-up log lines out of stderr."""
    os.environ.setdefault(LEVEL_ENV, DEFAULT_LEVEL)
    if _imported():
        return sys.modules["keras"]
    try:
        level = int(os.environ[LEVEL_ENV])
    except ValueError:
        level = int(DEFAULT_LEVEL)
    with _swapping, tempfile.TemporaryFile() as caught:
        if _imported():
            return sys.modules["keras"]  # another thread imported it meanwhile
        sys.stderr.flush()
        saved = os.dup(2)
        os.dup2(caught.fileno(), 2)
        try:
            keras = require("keras", EXTRA)
        finally:
            os.dup2(saved, 2)
            os.close(saved)
            caught.seek(0)
            kept = shown(caught.read().decode(errors="replace"), level)
            if kept:
                sys.stderr.write(kept)
    return keras


def _imported() -> bool:
    """Keras is in ``sys.modules`` and done importing (not half-way, in another thread)."""
    module = sys.modules.get("keras")
    return module is not None and not getattr(module.__spec__, "_initializing", False)


def shown(text: str, level: int) -> str:
    """The lines of *text* that TensorFlow's log *level* would show (continuations follow
    their line); lines that are not TensorFlow log lines are always kept."""
    kept = []
    dropping = False
    for line in text.splitlines(keepends=True):
        match = _LOG_LINE.match(line)
        if match:
            dropping = _SEVERITY[match.group(1)] < level
        elif line.startswith(_ABSL_PREAMBLE):
            dropping = level >= 2
        elif not line.startswith((" ", "\t", "To enable the following instructions")):
            dropping = False
        if not dropping:
            kept.append(line)
    return "".join(kept)
