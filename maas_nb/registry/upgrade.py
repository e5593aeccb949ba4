"""Upgrade a registry database's schema: ``maas registry upgrade`` (``%maas registry
upgrade``), or ``python -m maas_nb.registry.upgrade [URI]`` where the CLI is not at hand.

A shared (``postgresql://``) registry is never migrated by an ordinary client: one person
runs this once every client has the new maas_nb. The URI is the argument, else
``$MAAS_REGISTRY_URI``. A SQLite registry is migrated by opening it, so this works for
both.
"""

from __future__ import annotations

import os
import sys

from ..config import REGISTRY_URI_ENV
from ..exceptions import MaasError
from . import stores


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    uri = args[0] if args else os.environ.get(REGISTRY_URI_ENV, "")
    if len(args) > 1 or not uri or uri.startswith("-"):
        print(
            f"usage: python -m maas_nb.registry.upgrade [URI]  (else ${REGISTRY_URI_ENV}); "
            f"got {args!r}",
            file=sys.stderr,
        )
        return 2
    try:
        print(upgrade(uri))
    except MaasError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    return 0


def upgrade(uri: str) -> str:
    """Upgrade the schema of the registry database *uri*; say what was done."""
    before: int | None = None
    after: int | None = None
    if uri.lower().startswith("postgres"):
        from .postgres_database import upgrade as upgrade_postgres

        before, after = upgrade_postgres(uri)
    else:
        stores.METADATA.open(uri, "the URI")  # a SQLite database migrates on opening
    if before is None or before == after:
        return f"{stores.redact(uri)}: the schema is current."
    return f"{stores.redact(uri)}: schema version {before} -> {after}."


if __name__ == "__main__":
    sys.exit(main())
