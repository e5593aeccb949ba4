"""The ``s3://`` artifact store against a real S3 server (moto): verified loads, the local
read-through cache, and errors that say what to do."""

from __future__ import annotations

import hashlib
import socket
import sqlite3

import numpy as np
import pytest

from maas_nb.exceptions import (
    ArtifactCorruptedError,
    ArtifactMissingError,
    ArtifactStoreUnavailableError,
    ConfigurationError,
)
from maas_nb.registry import Registry
from tests.s3 import BUCKET, client


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def shared(tmp_path, s3_uri):
    """The URIs of one shared registry: a SQLite file and a prefix of the bucket."""
    return {"registry_uri": f"sqlite:///{tmp_path / 'shared.db'}", "artifacts_uri": s3_uri}


def object_key(s3_uri: str, digest: str) -> str:
    prefix = s3_uri.removeprefix(f"s3://{BUCKET}/")
    return f"{prefix}/sha256/{digest[7:9]}/{digest[9:]}"


def test_a_registered_model_loads_from_s3_with_its_digest_verified(
    tmp_path, shared, s3_server, classifier, iris
):
    X, _ = iris
    version = Registry(tmp_path / "laptop", **shared).register(classifier, "iris")
    stored = client(s3_server.endpoint).get_object(
        Bucket=BUCKET, Key=object_key(shared["artifacts_uri"], version.digest)
    )
    data = stored["Body"].read()
    assert "sha256:" + hashlib.sha256(data).hexdigest() == version.digest
    assert len(data) == version.size

    server = Registry(tmp_path / "server", **shared)  # another machine: an empty cache
    assert server.artifacts_uri == shared["artifacts_uri"]
    np.testing.assert_array_equal(server.load("iris:1").predict(X), classifier.predict(X))
    cached = tmp_path / "server" / "cache" / "artifacts" / "sha256" / version.digest[7:9]
    assert (cached / version.digest[9:]).read_bytes() == data


def test_a_corrupted_object_is_refused(tmp_path, shared, s3_server, classifier):
    version = Registry(tmp_path / "laptop", **shared).register(classifier, "iris")
    key = object_key(shared["artifacts_uri"], version.digest)
    client(s3_server.endpoint).put_object(Bucket=BUCKET, Key=key, Body=b"not the model")
    with pytest.raises(ArtifactCorruptedError) as info:
        Registry(tmp_path / "server", **shared).load("iris:1")
    assert str(info.value) == (
        f"The artifact at 's3://{BUCKET}/{key}' is corrupted: its sha256 is "
        f"sha256:{hashlib.sha256(b'not the model').hexdigest()}, but {version.digest} was "
        "recorded when it was registered. Do not use it; register the model again or restore "
        "the object from a backup."
    )


def test_a_missing_object_is_named(tmp_path, shared, s3_server, classifier):
    version = Registry(tmp_path / "laptop", **shared).register(classifier, "iris")
    key = object_key(shared["artifacts_uri"], version.digest)
    client(s3_server.endpoint).delete_object(Bucket=BUCKET, Key=key)
    with pytest.raises(ArtifactMissingError) as info:
        Registry(tmp_path / "server", **shared).load("iris:1")
    assert str(info.value) == (
        f"The artifact {version.digest} is missing from '{shared['artifacts_uri']}': the "
        f"registry refers to the object '{key}', but the bucket does not hold it. Restore it "
        "from a backup or delete the versions that use it."
    )


def test_the_cache_serves_a_second_load_without_touching_s3(
    tmp_path, shared, classifier, regressor, iris, monkeypatch
):
    X, _ = iris
    laptop = Registry(tmp_path / "laptop", **shared)
    laptop.register(classifier, "iris")
    laptop.register(regressor, "petal-width")
    Registry(tmp_path / "server", **shared).load("iris:1")  # seen once, from S3

    # The same server after S3 went away: what it has seen loads from its own disk...
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    offline = Registry(tmp_path / "server", **shared)
    np.testing.assert_array_equal(offline.load("iris:1").predict(X), classifier.predict(X))
    # ...and what it has not seen needs S3, which says so.
    with pytest.raises(ArtifactStoreUnavailableError, match=r"^Cannot reach the artifact store"):
        offline.load("petal-width:1")


def test_a_corrupted_cache_file_is_detected_and_fetched_again(tmp_path, shared, classifier, iris):
    X, _ = iris
    version = Registry(tmp_path / "laptop", **shared).register(classifier, "iris")
    server = Registry(tmp_path / "server", **shared)
    server.load("iris:1")
    cached = server.home / "cache" / "artifacts" / "sha256" / version.digest[7:9]
    path = cached / version.digest[9:]
    good = path.read_bytes()
    path.write_bytes(good[:-10] + b"0123456789")  # same size, other bytes
    np.testing.assert_array_equal(server.load("iris:1").predict(X), classifier.predict(X))
    assert path.read_bytes() == good
    assert sorted(p.name for p in cached.iterdir()) == [version.digest[9:]]  # no temporaries


def test_identical_bytes_are_uploaded_once(tmp_path, shared, s3_server):
    store = Registry(tmp_path / "laptop", **shared).artifacts
    digest = store.put(b"same bytes")
    assert store.put(b"same bytes") == digest
    listed = client(s3_server.endpoint).list_objects_v2(
        Bucket=BUCKET, Prefix=shared["artifacts_uri"].removeprefix(f"s3://{BUCKET}/")
    )
    assert [item["Key"] for item in listed["Contents"]] == [
        object_key(shared["artifacts_uri"], digest)
    ]
    assert [(s.digest, s.size) for s in store.stored()] == [(digest, 10)]
    store.delete(digest)
    assert not store.exists(digest) and list(store.stored()) == []


def unreachable(monkeypatch):
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{closed_port()}")
    return "s3://maas-tests/team", "Cannot reach the artifact store 's3://maas-tests/team'"


def no_bucket(monkeypatch):
    return "s3://no-such-bucket/team", "The bucket 'no-such-bucket' does not exist at http://"


def no_credentials(monkeypatch):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")  # no instance role to ask
    return "s3://maas-tests/team", "No AWS credentials were found for the artifact store"


@pytest.mark.parametrize(
    ("setup", "fix"),
    [
        (
            unreachable,
            "Check that the S3 server is running and that AWS_ENDPOINT_URL names it; nothing "
            "was registered, so try again once it answers.",
        ),
        (no_bucket, "Create it (aws s3 mb s3://no-such-bucket) or set MAAS_ARTIFACTS_URI"),
        (
            no_credentials,
            "Set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (or AWS_PROFILE, or use an "
            "instance role); nothing was changed.",
        ),
    ],
    ids=lambda value: getattr(value, "__name__", ""),
)
def test_a_store_that_cannot_be_used_says_why_and_registers_nothing(
    tmp_path, s3_uri, classifier, monkeypatch, setup, fix
):
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    uri, problem = setup(monkeypatch)
    registry = Registry(tmp_path / "laptop", artifacts_uri=uri)
    with pytest.raises(ArtifactStoreUnavailableError) as info:
        registry.register(classifier, "iris")
    assert str(info.value).startswith(problem)
    assert fix in str(info.value)
    assert info.value.__cause__ is not None  # the botocore error, kept for whoever digs
    db = sqlite3.connect(tmp_path / "laptop" / "registry.db")
    assert db.execute("SELECT count(*) FROM versions").fetchone() == (0,)


@pytest.mark.parametrize("uri", ["s3://", "s3:///prefix", "s3://bucket/p?versionId=1"])
def test_a_uri_that_names_no_bucket_is_refused(tmp_path, uri):
    with pytest.raises(ConfigurationError) as info:
        Registry(tmp_path, artifacts_uri=uri)
    assert str(info.value) == (
        f"The artifact store URI {uri!r} does not name an S3 bucket. Set MAAS_ARTIFACTS_URI "
        "(or artifacts_uri=) to 's3://' then the bucket and an optional prefix, such as "
        "'s3://team-models/maas'; the endpoint and the credentials come from "
        "AWS_ENDPOINT_URL and the AWS credential chain."
    )
