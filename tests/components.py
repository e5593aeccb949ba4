"""Real components a test needs (a browser, later PostgreSQL, an S3 server, Ray).

On a developer's machine a missing component skips the tests that need it, with the
command that installs it. In CI it must fail instead: a suite that silently skipped its
browser test would report green for a panel nobody ran. ``.ci/run`` sets
``MAAS_REQUIRE_COMPONENTS=1``; ``CI=true`` (set by most CI services) means the same
unless ``MAAS_REQUIRE_COMPONENTS=0`` says otherwise.

Python packages the dev extra installs (tritonclient, playwright, voila) are imported
unconditionally instead: they are never legitimately missing, so they never skip.
"""

from __future__ import annotations

import os
import shutil
from typing import NoReturn

import pytest

REQUIRE = "MAAS_REQUIRE_COMPONENTS"


def required() -> bool:
    """Whether a missing component fails the test (CI) rather than skipping it."""
    value = os.environ.get(REQUIRE, os.environ.get("CI", ""))
    return value.strip().lower() not in ("", "0", "false", "no")


def missing(component: str, install: str) -> NoReturn:
    """Skip, or under `required()` fail, a test that needs *component*."""
    message = f"{component} is missing: {install}."
    if required():
        pytest.fail(f"{message} {REQUIRE}=1 (or CI=true) makes this a failure, not a skip.")
    pytest.skip(f"{message} Skipped; {REQUIRE}=1 makes this a failure.")


def executable(name: str, *, install: str) -> str:
    """The path of program *name* on PATH, or `missing`."""
    found = shutil.which(name)
    if found is None:
        missing(name, install)
    return found
