"""Settings read from the environment: the registry home and the trusted model types."""

from __future__ import annotations

import fnmatch
import os
from collections.abc import Iterable
from pathlib import Path

HOME_ENV = "MAAS_HOME"
TRUSTED_TYPES_ENV = "MAAS_TRUSTED_TYPES"

#: Types trusted when loading scikit-learn artifacts, on top of skops' own defaults.
#: Patterns use shell-style wildcards and match the fully qualified type name.
#: scikit-learn's own internals (tree structures, histogram-GBM predictors) are safe to
#: construct; anything else must be trusted explicitly by the user.
DEFAULT_TRUSTED_TYPES: tuple[str, ...] = ("sklearn.*",)


def home_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """Return the registry home: *home*, else ``$MAAS_HOME``, else ``~/.maas``."""
    if home is None:
        home = os.environ.get(HOME_ENV) or Path.home() / ".maas"
    return Path(home).expanduser().absolute()


def trusted_types(extra: Iterable[str] | None = None) -> tuple[str, ...]:
    """Return the trusted type patterns: defaults, ``$MAAS_TRUSTED_TYPES``, then *extra*."""
    from_env = [t.strip() for t in os.environ.get(TRUSTED_TYPES_ENV, "").split(",")]
    patterns = [*DEFAULT_TRUSTED_TYPES, *(t for t in from_env if t), *(extra or ())]
    return tuple(dict.fromkeys(patterns))


def is_trusted(type_name: str, patterns: Iterable[str]) -> bool:
    """Tell whether the fully qualified *type_name* matches one of *patterns*."""
    return any(fnmatch.fnmatchcase(type_name, p) for p in patterns)
