"""Content-addressed artifact storage: bytes stored once under their sha256 digest."""

from __future__ import annotations

import contextlib
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple, Protocol

from ..exceptions import ArtifactCorruptedError, ArtifactMissingError, RegistryUnavailableError
from ..processes import pid_alive
from . import crash_points


def digest_of(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


class StoredArtifact(NamedTuple):
    """One blob in a store, as `ArtifactStore.stored` lists it."""

    digest: str
    size: int
    #: When it was written (seconds since the epoch): ``maas registry gc`` spares young
    #: blobs, which a registration may be about to name.
    modified: float


class ArtifactStore(Protocol):
    """Stores immutable blobs by digest. An object-store backend implements the same.

    A store whose reads cross the network sets ``remote = True``: the registry then reads
    it through a local cache keyed by digest (see `artifact_cache`).
    """

    @property
    def uri(self) -> str:
        """The URI that opens this store from any process (``MAAS_ARTIFACTS_URI``)."""

    def put(self, data: bytes) -> str:
        """Store *data* durably (or find it already stored, and refresh its time, which
        ``maas registry gc`` reads); return its digest."""

    def get(self, digest: str) -> bytes:
        """Return the bytes stored under *digest*, verified against it."""

    def exists(self, digest: str) -> bool: ...

    def delete(self, digest: str) -> None: ...

    def stored(self) -> Iterator[StoredArtifact]:
        """Every blob in the store, in no particular order."""


class LocalArtifactStore:
    """Blobs as files ``<root>/sha256/ab/cdef...``, written atomically.

    A blob is written to a temporary file, fsynced and renamed into place, and the
    directory is fsynced, so a crash leaves either the whole blob or none of it (plus,
    at worst, a temporary file that the next store opened removes).
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._tmp = root / "tmp"
        try:
            self._tmp.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise RegistryUnavailableError(
                f"Cannot create the artifact store at '{root}': {exc.strerror}. Set MAAS_HOME "
                "(or MAAS_ARTIFACTS_URI) to a directory you can write, or fix its permissions."
            ) from exc
        self._remove_abandoned_temporaries()

    @property
    def uri(self) -> str:
        return self.root.as_uri()

    def path(self, digest: str) -> Path:
        algorithm, _, hexdigest = digest.partition(":")
        return self.root / algorithm / hexdigest[:2] / hexdigest[2:]

    def put(self, data: bytes) -> str:
        digest = digest_of(data)
        path = self.path(digest)
        if self._holds(path, digest):
            with contextlib.suppress(OSError):
                os.utime(path)  # young again: gc spares it while its version commits
            return digest
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self._tmp / f"{os.getpid()}-{os.urandom(6).hex()}.tmp"
        try:
            with open(tmp, "xb") as f:
                f.write(data)
                f.flush()
                os.fsync(f.fileno())
            crash_points.reached(crash_points.ARTIFACT_WRITTEN)
            os.replace(tmp, path)
        finally:
            with contextlib.suppress(FileNotFoundError):
                tmp.unlink()
        _fsync_dir(path.parent)
        crash_points.reached(crash_points.ARTIFACT_RENAMED)
        return digest

    def get(self, digest: str) -> bytes:
        try:
            data = self.path(digest).read_bytes()
        except FileNotFoundError:
            raise ArtifactMissingError(
                f"The artifact {digest} is missing from '{self.root}'. The registry database "
                "refers to it, but the file is gone; restore the artifacts directory from a "
                "backup or delete the versions that use it."
            ) from None
        actual = digest_of(data)
        if actual != digest:
            raise ArtifactCorruptedError(
                f"The artifact at '{self.path(digest)}' is corrupted: its sha256 is {actual}, "
                f"but {digest} was recorded when it was registered. Do not use it; register "
                "the model again or restore the file from a backup."
            )
        return data

    def exists(self, digest: str) -> bool:
        return self.path(digest).is_file()

    def delete(self, digest: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path(digest).unlink()

    def stored(self) -> Iterator[StoredArtifact]:
        for path in self.root.glob("sha256/??/*"):
            with contextlib.suppress(FileNotFoundError):
                stat = path.stat()
                yield StoredArtifact(
                    f"sha256:{path.parent.name}{path.name}", stat.st_size, stat.st_mtime
                )

    def _holds(self, path: Path, digest: str) -> bool:
        try:
            return digest_of(path.read_bytes()) == digest
        except FileNotFoundError:
            return False

    def _remove_abandoned_temporaries(self) -> None:
        for tmp in self._tmp.glob("*.tmp"):
            pid = tmp.name.partition("-")[0]
            if pid.isdigit() and not pid_alive(int(pid)):
                with contextlib.suppress(OSError):
                    tmp.unlink()


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
