"""Blobs in an S3-compatible bucket (``s3://bucket/prefix``), content-addressed by sha256.

The key of a blob is ``<prefix>/sha256/ab/cdef...``, the local store's layout. boto3 finds
the endpoint (``AWS_ENDPOINT_URL``, ``AWS_ENDPOINT_URL_S3``), the region and the
credentials the usual way (environment, ``AWS_PROFILE`` and ``~/.aws``, an instance role).

Writing stays crash-safe without a rename: S3 makes an object visible only once all of its
bytes have arrived, and `put` returns only after the server has shown that it holds the
bytes sent: by the ETag its PUT answered with (the MD5 it computed of what it received,
for a single-part upload), else by a HEAD (the object's size and its sha256 checksum
where the server keeps one, else its MD5 ETag), else by reading the bytes back. moto
neither checks nor keeps a sent ChecksumSHA256 (5.2), so there the ETag is what verifies.
The registry commits the version row after `put` returns, so no reader sees a version
whose object is not there.
"""

from __future__ import annotations

import base64
import hashlib
import threading
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

from ..config import ARTIFACTS_URI_ENV
from ..exceptions import (
    ArtifactCorruptedError,
    ArtifactMissingError,
    ArtifactStoreUnavailableError,
    ConfigurationError,
    MissingDependencyError,
)
from . import crash_points
from .artifacts import StoredArtifact, digest_of

INSTALL = "pip install 'maas_nb[s3]'"
#: From this size on, `put` asks (HEAD) whether the object is already there before it
#: uploads; below it an upload costs about what the question does, and storing the same
#: bytes again makes them young just as well.
ASK_FIRST = 1 << 20
#: What `put` (and the registry's check under its write lock) does: a failure leaves no version.
_WRITING = ("checking", "uploading", "verifying")


class S3ArtifactStore:
    """Blobs as objects ``s3://<bucket>/<prefix>/sha256/ab/cdef...``."""

    remote = True

    def __init__(self, bucket: str, prefix: str = "") -> None:
        self.bucket, self.prefix = bucket, prefix.strip("/")
        self._client: Any = None
        self._lock = threading.Lock()

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}" if self.prefix else f"s3://{self.bucket}"

    def key(self, digest: str) -> str:
        algorithm, _, hexdigest = digest.partition(":")
        key = f"{algorithm}/{hexdigest[:2]}/{hexdigest[2:]}"
        return f"{self.prefix}/{key}" if self.prefix else key

    def put(self, data: bytes) -> str:
        hashed = hashlib.sha256(data).digest()
        digest, sha256 = f"sha256:{hashed.hex()}", base64.b64encode(hashed).decode()
        key = self.key(digest)
        if len(data) >= ASK_FIRST and self._holds(key, data, digest, sha256):
            # Young again (a copy onto itself): gc spares it while its version commits.
            source = {"Bucket": self.bucket, "Key": key}
            self._call(
                "checking",
                digest,
                "copy_object",
                Key=key,
                CopySource=source,
                MetadataDirective="REPLACE",
                ChecksumAlgorithm="SHA256",
                Metadata={"maas-stored": "again"},
            )
            return digest
        # The server checks the checksum against the bytes it received (AWS, MinIO) and
        # refuses a damaged upload; it keeps the object invisible until the PUT completes.
        sent = self._call(
            "uploading", digest, "put_object", Key=key, Body=data, ChecksumSHA256=sha256
        )
        crash_points.reached(crash_points.ARTIFACT_WRITTEN)
        if not (_md5_etag(sent, data) or self._holds(key, data, digest, sha256)):
            raise ArtifactCorruptedError(
                f"The upload of {digest} to '{self.uri}' did not verify: the object the "
                f"server holds at '{key}' is not the {len(data)} bytes sent. Nothing was "
                "registered; try again, and check the endpoint (AWS_ENDPOINT_URL) if it recurs."
            )
        crash_points.reached(crash_points.ARTIFACT_RENAMED)
        return digest

    def get(self, digest: str) -> bytes:
        response = self._call("downloading", digest, "get_object", Key=self.key(digest))
        data: bytes = self._read(response["Body"], digest)
        actual = digest_of(data)
        if actual != digest:
            raise ArtifactCorruptedError(
                f"The artifact at 's3://{self.bucket}/{self.key(digest)}' is corrupted: "
                f"its sha256 is {actual}, but {digest} was recorded when it was registered. "
                "Do not use it; register the model again or restore the object from a backup."
            )
        return data

    def exists(self, digest: str) -> bool:
        return self._head(self.key(digest), digest) is not None

    def delete(self, digest: str) -> None:
        self._call("deleting", digest, "delete_object", Key=self.key(digest))

    def stored(self) -> Iterator[StoredArtifact]:
        start = f"{self.prefix}/sha256/" if self.prefix else "sha256/"
        pages = self._call("listing", "", "get_paginator", "list_objects_v2")
        try:
            for page in pages.paginate(Bucket=self.bucket, Prefix=start):
                for item in page.get("Contents", ()):
                    hexdigest = item["Key"][len(start) :].replace("/", "")
                    yield StoredArtifact(
                        f"sha256:{hexdigest}", item["Size"], item["LastModified"].timestamp()
                    )
        except Exception as exc:
            raise self._translated(exc, "listing", "") from exc

    # -- the client and its errors ----------------------------------------------------

    @property
    def client(self) -> Any:
        # Made on first use: a boto3 client costs tens of milliseconds, and many
        # commands open a registry without touching its artifacts.
        with self._lock:
            if self._client is None:
                try:
                    import boto3  # noqa: F401  (what _session needs; missing, say so here)
                    from botocore.config import Config
                except ImportError as exc:
                    raise MissingDependencyError(
                        f"The artifact store '{self.uri}' needs boto3, which is not "
                        f"installed. Install it with: {INSTALL}"
                    ) from exc
                # Standard retries (3 attempts unless AWS_MAX_ATTEMPTS says otherwise)
                # back off briefly; the legacy default waits much longer on a dead endpoint.
                config = Config(retries={"mode": "standard"}, connect_timeout=10, read_timeout=60)
                self._client = _session().client("s3", config=config)
            return self._client

    def _call(self, action: str, digest: str, method: str, *args: Any, **params: Any) -> Any:
        if method != "get_paginator":
            params["Bucket"] = self.bucket
        try:
            return getattr(self.client, method)(*args, **params)
        except Exception as exc:
            raise self._translated(exc, action, digest) from exc

    def _read(self, body: Any, digest: str) -> bytes:
        try:
            return bytes(body.read())
        except Exception as exc:
            raise self._translated(exc, "downloading", digest) from exc

    def _head(self, key: str, digest: str) -> dict[str, Any] | None:
        try:
            head: dict[str, Any] = self.client.head_object(
                Bucket=self.bucket, Key=key, ChecksumMode="ENABLED"
            )
        except Exception as exc:
            if _code(exc) in ("404", "NoSuchKey", "NotFound"):
                return None
            raise self._translated(exc, "checking", digest) from exc
        return head

    def _holds(self, key: str, data: bytes, digest: str, sha256: str) -> bool:
        """Whether the object at *key* is exactly *data* (of *digest*; *sha256* in base64),
        asking for as little as possible."""
        head = self._head(key, digest)
        if head is None or head.get("ContentLength") != len(data):
            return False
        if head.get("ChecksumSHA256"):
            return bool(head["ChecksumSHA256"] == sha256)
        if _md5_form(head.get("ETag")):
            return _md5_etag(head, data)
        response = self._call("verifying", digest, "get_object", Key=key)
        return self._read(response["Body"], digest) == data

    def _translated(self, exc: Exception, action: str, digest: str) -> Exception:
        """Our error for a boto3/botocore failure: what failed, where, and what to do."""
        from botocore import exceptions as boto

        what = f"{action} {digest}" if digest else action
        where = f"'{self.uri}' (endpoint {self._endpoint()})"
        if isinstance(exc, boto.NoCredentialsError | boto.PartialCredentialsError):
            return ArtifactStoreUnavailableError(
                f"No AWS credentials were found for the artifact store {where} while {what}. "
                "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or use an "
                "instance role); nothing was changed."
            )
        if isinstance(exc, boto.ClientError):
            code = _code(exc)
            message = exc.response.get("Error", {}).get("Message", "")
            if code == "NoSuchBucket":
                return ArtifactStoreUnavailableError(
                    f"The bucket '{self.bucket}' does not exist at {self._endpoint()} (artifact "
                    f"store '{self.uri}', while {what}). Create it (aws s3 mb s3://"
                    f"{self.bucket}) or set {ARTIFACTS_URI_ENV} to an existing bucket."
                )
            if code == "NoSuchKey":
                return ArtifactMissingError(
                    f"The artifact {digest} is missing from '{self.uri}': the registry refers "
                    f"to the object '{self.key(digest)}', but the bucket does not hold it. "
                    "Restore it from a backup or delete the versions that use it."
                )
            if code in ("AccessDenied", "InvalidAccessKeyId", "SignatureDoesNotMatch", "403"):
                return ArtifactStoreUnavailableError(
                    f"The artifact store {where} refused access while {what} ({code}: "
                    f"{message or 'forbidden'}). Check the credentials (AWS_ACCESS_KEY_ID, "
                    "AWS_PROFILE) and that they may read and write the bucket."
                )
            if code in ("BadDigest", "XAmzContentSHA256Mismatch", "InvalidDigest"):
                return ArtifactCorruptedError(
                    f"The artifact store {where} received damaged bytes while {what} ({code}) "
                    "and refused them. Nothing was registered; try again."
                )
            return ArtifactStoreUnavailableError(
                f"The artifact store {where} failed while {what}: {code}: {message}. "
                "Check the bucket and the endpoint, then try again."
            )
        if isinstance(exc, boto.BotoCoreError):
            outcome = "nothing was registered, so try" if action in _WRITING else "try"
            return ArtifactStoreUnavailableError(
                f"Cannot reach the artifact store {where} while {what}: {exc}. Check that the "
                f"S3 server is running and that AWS_ENDPOINT_URL names it; {outcome} again "
                "once it answers."
            )
        return exc

    def _endpoint(self) -> str:
        return str(self._client.meta.endpoint_url) if self._client is not None else "unknown"


_loader: Any = None
_loader_lock = threading.Lock()


def _session() -> Any:
    """A new boto3 session (its own credentials, read now) sharing one loader of the
    service descriptions, whose parsing makes up most of a client's cost."""
    import boto3
    import botocore.session

    global _loader
    with _loader_lock:
        if _loader is None:
            _loader = botocore.session.get_session().get_component("data_loader")
    core = botocore.session.get_session()
    core.register_component("data_loader", _loader)
    return boto3.session.Session(botocore_session=core)


def _md5_form(etag: object) -> bool:
    return len(str(etag or "").strip('"')) == 32 and "-" not in str(etag)


def _md5_etag(response: dict[str, Any], data: bytes) -> bool:
    """Whether *response* (of a PUT or a HEAD) has the ETag of a single-part upload of
    *data*: the MD5 the server computed of the bytes it holds.

    SSE-KMS and SSE-C objects have other ETags, so False only means "not shown this way".
    """
    etag = response.get("ETag")
    return (
        _md5_form(etag)
        and str(etag).strip('"') == hashlib.md5(data, usedforsecurity=False).hexdigest()
    )


def _code(exc: Exception) -> str:
    response = getattr(exc, "response", None)
    return str(response.get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""


def s3_store(uri: str) -> S3ArtifactStore:
    """``s3://bucket`` or ``s3://bucket/prefix``: blobs as objects in an S3 bucket."""
    parts = urlsplit(uri)
    if not parts.netloc or parts.query or parts.fragment or "@" in parts.netloc:
        raise ConfigurationError(
            f"The artifact store URI {uri!r} does not name an S3 bucket. Set "
            f"{ARTIFACTS_URI_ENV} (or artifacts_uri=) to 's3://' then the bucket and an "
            "optional prefix, such as 's3://team-models/maas'; the endpoint and the "
            "credentials come from AWS_ENDPOINT_URL and the AWS credential chain."
        )
    return S3ArtifactStore(parts.netloc, parts.path)
