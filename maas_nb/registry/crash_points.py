"""Named points of the registry's write path where a crash test can hold the writer.

Registering a version writes the artifact to a temporary file and fsyncs it, renames it
into place, then inserts the version row and commits (one ``BEGIN IMMEDIATE``). A crash
test must kill the writer *inside* each of those windows, and know it did. So the write
path calls `reached` at each point; when the writing process's own environment holds
``MAAS_TEST_PAUSE_AT=<point>:<marker file>``, reaching that point creates the marker file
(holding the process id and the point) and waits until the marker is removed or, as the
test intends, the process is killed.

Nothing but that process's environment turns it on: no request, file or database row
can, and it only ever waits, never changes what is written. Unset, a point costs one
environment lookup, next to an fsync per write.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from ..exceptions import ConfigurationError

ENV = "MAAS_TEST_PAUSE_AT"

#: The temporary artifact file is written and fsynced; it is not yet renamed into place.
ARTIFACT_WRITTEN = "artifact-written"
#: The artifact is renamed into place (directory fsynced); no transaction has begun.
ARTIFACT_RENAMED = "artifact-renamed"
#: The version row is inserted under the write lock; the transaction is not committed.
BEFORE_COMMIT = "version-before-commit"
POINTS = (ARTIFACT_WRITTEN, ARTIFACT_RENAMED, BEFORE_COMMIT)

#: How long a held writer waits to be killed or released before it gives up.
HOLD_LIMIT_S = 60.0


def reached(point: str) -> None:
    """Hold here if ``MAAS_TEST_PAUSE_AT`` names *point*; otherwise return at once."""
    setting = os.environ.get(ENV)
    if setting:
        _hold(point, setting)


def _hold(point: str, setting: str) -> None:
    wanted, _, marker = setting.partition(":")
    if wanted not in POINTS or not marker:
        raise ConfigurationError(
            f"{ENV} must be '<point>:<marker file>' with a point among {', '.join(POINTS)}; "
            f"got {setting!r}. It is for crash tests only: unset it."
        )
    if wanted != point:
        return
    path = Path(marker)
    partial = path.with_name(path.name + ".partial")
    partial.write_text(f"{os.getpid()} {point}\n")
    os.replace(partial, path)  # the test never reads a half-written marker
    deadline = time.monotonic() + HOLD_LIMIT_S
    while path.exists():
        if time.monotonic() > deadline:
            raise ConfigurationError(
                f"The registry write held at {point!r} ({ENV}) for {HOLD_LIMIT_S:g} s and "
                f"was neither killed nor released. Remove {str(path)!r} to release it, and "
                f"unset {ENV} outside crash tests."
            )
        time.sleep(0.002)
