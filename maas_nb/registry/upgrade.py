"""``python -m maas_nb.registry.upgrade [URI]``: upgrade a registry database's schema.

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
    before: int | None = None
    after: int | None = None
    try:
        if uri.lower().startswith("postgres"):
            from .postgres_database import upgrade

            before, after = upgrade(uri)
        else:
            stores.METADATA.open(uri, "the URI")  # a SQLite database migrates on opening
    except MaasError as exc:
        print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    if before is None or before == after:
        print(f"{stores.redact(uri)}: the schema is current.")
    else:
        print(f"{stores.redact(uri)}: schema version {before} -> {after}.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
