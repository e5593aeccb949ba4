"""Whether the registry's two stores can be used, each checked on its own: what
``maas doctor`` and ``%maas doctor`` report about the registry.

A `Registry` refuses to open when either store fails, which is right for work but no
help to someone finding out why; here each store is opened and asked one cheap question
(the metadata store how many models and versions it holds, the artifact store for the
first page of its objects), and a failure becomes a sentence that says what to do.
"""

from __future__ import annotations

from pathlib import Path
from typing import NamedTuple

from .. import config
from ..exceptions import MaasError
from . import stores


class StoreHealth(NamedTuple):
    """One store: what it is (its URI, password hidden), what it holds, and its problem."""

    uri: str
    state: str  # what it holds when usable, else "unusable"
    problem: str | None
    models: int | None = None  # the metadata store's count of models


def check(
    home: Path, *, registry_uri: str | None = None, artifacts_uri: str | None = None
) -> tuple[StoreHealth, StoreHealth]:
    """The health of the metadata store and of the artifact store, as `Registry` would
    open them with these arguments."""
    return _metadata(*config.registry_uri(home, registry_uri)), _artifacts(
        *config.artifacts_uri(home, artifacts_uri)
    )


def _metadata(uri: str, source: str) -> StoreHealth:
    shown = stores.redact(uri)
    try:
        store = stores.METADATA.open(uri, source)
        models, versions = len(store.list_models()), store.version_count()
    except MaasError as exc:
        return StoreHealth(shown, "unusable", f"The metadata store {shown!r} fails: {exc}")
    return StoreHealth(shown, f"{models} models, {versions} versions", None, models)


def _artifacts(uri: str, source: str) -> StoreHealth:
    shown = stores.redact(uri)
    try:
        store = stores.ARTIFACTS.open(uri, source)
        listed = sum(1 for _ in zip(range(1000), store.stored(), strict=False))
    except MaasError as exc:
        return StoreHealth(shown, "unusable", f"The artifact store {shown!r} fails: {exc}")
    more = "+" if listed == 1000 else ""
    return StoreHealth(shown, f"reachable, {listed}{more} objects", None)
