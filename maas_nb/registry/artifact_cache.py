"""A local read-through cache in front of a remote artifact store, keyed by digest.

A blob read from (or written to) the remote store is kept as ``<home>/cache/artifacts/
sha256/ab/cdef...``, written to a temporary file and renamed into place, so a reader never
finds half a file. Every read hashes the cached bytes: a file that does not match its
digest (a torn disk, an edit) is removed and fetched again, so a server loads a model it
has seen from local disk and never loads bytes other than those registered.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from .artifacts import ArtifactStore, StoredArtifact, digest_of


class ReadThroughCache:
    """*store* (remote) with its blobs kept under *root* once read or written."""

    def __init__(self, store: ArtifactStore, root: Path) -> None:
        self.store, self.root = store, root

    @property
    def uri(self) -> str:
        return self.store.uri

    def path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.root / algorithm / hexdigest[:2] / hexdigest[2:]

    def put(self, data: bytes) -> str:
        digest = self.store.put(data)
        self._keep(digest, data)
        return digest

    def get(self, digest: str) -> bytes:
        cached = self._cached(digest)
        if cached is not None:
            return cached
        data = self.store.get(digest)  # verified against the digest by the store
        self._keep(digest, data)
        return data

    def exists(self, digest: str) -> bool:
        # Asks the store, not the cache: the registry checks that the shared copy exists.
        return self.store.exists(digest)

    def delete(self, digest: str) -> None:
        self.store.delete(digest)
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()

    def stored(self) -> Iterator[StoredArtifact]:
        return self.store.stored()

    def _cached(self, digest: str) -> bytes | None:
        path = self.path(digest)
        try:
            data = path.read_bytes()
        except OSError:
            return None
        if digest_of(data) == digest:
            return data
        with contextlib.suppress(OSError):
            path.unlink()
        return None

    def _keep(self, digest: str, data: bytes) -> None:
        path = self.path(digest)
        tmp = path.with_name(f".{path.name}.{os.getpid()}-{os.urandom(4).hex()}.tmp")
        # The cache only saves a download: a disk that cannot hold it must not fail a load.
        with contextlib.suppress(OSError):
            path.parent.mkdir(parents=True, exist_ok=True)
            try:
                tmp.write_bytes(data)
                os.replace(tmp, path)
            finally:
                with contextlib.suppress(FileNotFoundError):
                    tmp.unlink()


def cached(store: ArtifactStore, home: Path) -> ArtifactStore:
    """*store*, read through a cache under *home* if its reads cross the network."""
    if getattr(store, "remote", False):
        return ReadThroughCache(store, home / "cache" / "artifacts")
    return store
