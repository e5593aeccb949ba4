"""Where the registry keeps its records and its artifacts: stores chosen by URI scheme.

Two small tables map a URI scheme to a function that opens a store from its URI: metadata
stores (``sqlite:``) and artifact stores (``file:``, ``s3:``). Another backend (``postgresql:``)
plugs in without touching the registry, the way papermill finds its engines:
a package declares an entry point ``SCHEME = "module:function"`` in the group
``maas_nb.metadata_stores`` or ``maas_nb.artifact_stores``, or code calls `register`.
The function takes the whole URI and returns the store (see `store.MetadataStore` and
`artifacts.ArtifactStore`); it raises `ConfigurationError` for a URI it cannot use.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

from ..config import ARTIFACTS_URI_ENV, REGISTRY_URI_ENV
from ..exceptions import ConfigurationError, RegistryUnavailableError

Opener = Callable[[str], Any]

_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):")
_PASSWORD = re.compile(r"(//[^/:@]*:)[^/@]*@")


def redact(uri: str) -> str:
    """*uri* with the password of its user part (``user:PASSWORD@host``) hidden."""
    return _PASSWORD.sub(r"\1***@", uri)


class Schemes:
    """One kind of store: its openers by scheme, filled by `register` and entry points."""

    def __init__(self, kind: str, group: str, env: str, argument: str, example: str) -> None:
        self.kind, self.group, self.env, self.argument, self.example = (
            kind,
            group,
            env,
            argument,
            example,
        )
        self._openers: dict[str, Opener] = {}
        self._entry_points_loaded = False
        self._lock = threading.Lock()

    def register(self, scheme: str, opener: Opener) -> None:
        """Open URIs of *scheme* (``postgresql``, ``s3``) with *opener*."""
        self._openers[scheme.lower()] = opener

    def known(self) -> list[str]:
        self._load_entry_points()
        return sorted(self._openers)

    def open(self, uri: str, source: str) -> Any:
        """The store *uri* names; *source* says where the URI came from, for messages."""
        if not isinstance(uri, str):
            raise ConfigurationError(
                f"{source} must be a URI string such as {self.example!r}, "
                f"got {type(uri).__name__}: {uri!r}."
            )
        match = _SCHEME.match(uri)
        scheme = match.group(1).lower() if match else ""
        opener = self._find(scheme)
        if opener is None:
            problem = (
                f"names the scheme {scheme!r}, but no {self.kind} store for it is installed"
                if scheme
                else "has no scheme"
            )
            plugin = f"adds {scheme!r}" if scheme else "adds your scheme"
            raise ConfigurationError(
                f"{source} {redact(uri)!r} {problem} (known schemes: "
                f"{', '.join(self.known())}). Set {self.env} (or pass {self.argument}=) to a "
                f"URI such as {self.example!r}, or install the package that {plugin} to the "
                f"entry point group {self.group!r}."
            )
        return opener(uri)

    def _find(self, scheme: str) -> Opener | None:
        if not scheme:
            return None
        # ``postgresql+psycopg`` falls back to ``postgresql``, as SQLAlchemy URLs name drivers.
        for candidate in (scheme, scheme.partition("+")[0]):
            if candidate in self._openers:
                return self._openers[candidate]
        self._load_entry_points()
        for candidate in (scheme, scheme.partition("+")[0]):
            if candidate in self._openers:
                return self._openers[candidate]
        return None

    def _load_entry_points(self) -> None:
        # Read only when a scheme is not built in: scanning installed packages costs time.
        with self._lock:
            if self._entry_points_loaded:
                return
            from importlib.metadata import entry_points

            for entry in entry_points(group=self.group):
                if entry.name.lower() in self._openers:
                    continue  # built in, or registered by code: those win
                try:
                    self._openers[entry.name.lower()] = entry.load()
                except Exception as exc:
                    raise ConfigurationError(
                        f"The {self.kind} store {entry.name!r} (entry point {entry.value!r} in "
                        f"{self.group!r}) failed to import: {type(exc).__name__}: {exc}. "
                        "Reinstall the package that provides it, or uninstall it."
                    ) from exc
            self._entry_points_loaded = True


METADATA = Schemes(
    "metadata",
    "maas_nb.metadata_stores",
    REGISTRY_URI_ENV,
    "registry_uri",
    "sqlite:////srv/maas/registry.db",
)
ARTIFACTS = Schemes(
    "artifact",
    "maas_nb.artifact_stores",
    ARTIFACTS_URI_ENV,
    "artifacts_uri",
    "file:///srv/maas/artifacts",
)


def sqlite_store(uri: str) -> Any:
    """``sqlite:///relative.db`` or ``sqlite:////absolute/registry.db`` (SQLAlchemy's form)."""
    from .sqlite import SqliteStore

    prefix = "sqlite:///"
    path = uri[len(prefix) :] if uri.lower().startswith(prefix) else ""
    if not path or "?" in path or path == ":memory:":
        raise ConfigurationError(
            f"The SQLite registry URI {uri!r} does not name a database file. Set "
            f"{REGISTRY_URI_ENV} (or registry_uri=) to 'sqlite:///' then the file's path: "
            "'sqlite:////srv/maas/registry.db' (absolute) or 'sqlite:///registry.db' "
            "(relative to the working directory)."
        )
    return SqliteStore(_with_parent(Path(path).expanduser().absolute(), uri))


def postgres_store(uri: str) -> Any:
    """``postgresql://USER:PASSWORD@HOST:PORT/DATABASE`` (libpq's URI; ``postgres://`` too)."""
    from .postgres import PostgresStore

    return PostgresStore(uri)


def file_store(uri: str) -> Any:
    """``file:///absolute/dir`` (or ``file:relative/dir``): blobs as files in a directory."""
    from .artifacts import LocalArtifactStore

    parts = urlsplit(uri)
    if parts.netloc not in ("", "localhost") or not parts.path or parts.query:
        raise ConfigurationError(
            f"The artifact store URI {uri!r} does not name a local directory. Set "
            f"{ARTIFACTS_URI_ENV} (or artifacts_uri=) to 'file://' then the absolute path, such as 'file:///srv/maas/artifacts'."
        )
    return LocalArtifactStore(Path(unquote(parts.path)).expanduser().absolute())


def s3_store(uri: str) -> Any:
    """``s3://bucket/prefix``: blobs as objects in an S3-compatible bucket (boto3)."""
    from .s3_artifacts import s3_store as open_s3

    return open_s3(uri)


def _with_parent(path: Path, uri: str) -> Path:
    """*path*, once its directory exists."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise RegistryUnavailableError(
            f"Cannot create the directory of the registry database {uri!r}: "
            f"{exc.strerror or exc}. Point {REGISTRY_URI_ENV} at a file in a directory you "
            "can write."
        ) from exc
    return path


METADATA.register("sqlite", sqlite_store)
METADATA.register("postgresql", postgres_store)
METADATA.register("postgres", postgres_store)
ARTIFACTS.register("file", file_store)
ARTIFACTS.register("s3", s3_store)
