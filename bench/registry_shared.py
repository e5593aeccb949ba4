"""bench/registry.py's PostgreSQL + S3 rows: a shared registry next to raw psycopg and boto3.

The servers are the test suite's own (tests/postgres.py, tests/s3.py): a PostgreSQL from
Debian's package in a temporary directory on a free port (fsync off, as in the tests; the
baselines commit as often as we do, so both pay the same), and moto's S3 server on
loopback. This module starts them, and stops only those two, by their process ids.

Each row times ours and its baseline alternately (repeat after repeat), so load from
other processes on the machine falls on both alike; a row prints both medians.
"""

from __future__ import annotations

import contextlib
import os
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import skops.io as sio

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # the repo's tests/ helpers

from maas_nb.registry import Registry
from tests.postgres import running_postgres
from tests.s3 import BUCKET, MotoServer, client, environment


@contextlib.contextmanager
def servers(tmp: Path) -> Iterator[tuple[str, str]]:
    """A PostgreSQL database URI and an S3 endpoint, both started here and stopped after."""
    (tmp / "moto").mkdir()
    with running_postgres("maas-bench-postgres-") as postgres:
        moto = MotoServer(tmp / "moto")
        try:
            client(moto.endpoint).create_bucket(Bucket=BUCKET)
            yield postgres.create_database(), moto.endpoint
        finally:
            moto.stop()


def paired_ms(
    ours: Callable[[], object],
    baseline: Callable[[], object],
    repeat: int,
    setup: Callable[[], object] = lambda: None,
) -> tuple[float, float]:
    """Median ms of *ours* and of *baseline*, run alternately; *setup* (untimed) before each."""
    times: tuple[list[float], list[float]] = ([], [])
    for i in range(repeat):
        pair = (ours, baseline) if i % 2 == 0 else (baseline, ours)
        for fn in pair:
            setup()
            start = time.perf_counter()
            fn()
            times[fn is baseline].append((time.perf_counter() - start) * 1000)
    return statistics.median(times[0]), statistics.median(times[1])


def row(what: str, times: tuple[float, float], baseline_name: str) -> float:
    ours, baseline = times
    ratio = ours / baseline
    print(
        f"{what:<28} {ours:>10.3f} ms   {baseline_name:<34} {baseline:>10.3f} ms   x{ratio:>6.2f}"
    )
    return ratio


class Raw:
    """The baselines' own connections: one psycopg connection and one boto3 client."""

    def __init__(self, uri: str, endpoint: str) -> None:
        import psycopg

        self.conn = psycopg.connect(uri, autocommit=True)
        # The same columns, defaults and indexes as `versions`, without its foreign key.
        self.conn.execute("CREATE TABLE baseline_versions (LIKE versions INCLUDING ALL)")
        self.s3 = client(endpoint)
        self.versions = 0

    def put(self, data: bytes) -> None:
        self.s3.put_object(Bucket=BUCKET, Key=f"baseline/{uuid.uuid4().hex}", Body=data)

    def insert(self, size: int) -> None:
        self.versions += 1
        self.conn.execute(
            "INSERT INTO baseline_versions (name, version, flavor, digest, size, signature, "
            "params, metrics, tags, description, lineage, run_id, created_at, trust, "
            "idempotency_key) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)",
            (
                "baseline",
                self.versions,
                "sklearn",
                f"sha256:{uuid.uuid4().hex * 2}",
                size,
                '{"inputs": [], "outputs": []}',
                '{"C": 1.0}',
                "{}",
                "{}",
                "",
                "{}",
                None,
                "2026-01-01T00:00:00+00:00",
                "{}",
                uuid.uuid4().hex,
            ),
        )

    def register(self, model: Any) -> None:
        data = sio.dumps(model)
        self.put(data)
        self.insert(len(data))


def rows(tmp: Path, big: Any, small: Any, repeat: int) -> dict[str, float]:
    """Print the PostgreSQL + S3 rows; their ratios by row."""
    with servers(tmp) as (uri, endpoint):
        os.environ.update(environment(endpoint))
        registry = Registry(
            tmp / "shared-home", registry_uri=uri, artifacts_uri=f"s3://{BUCKET}/registry"
        )
        print(f"-- PostgreSQL + S3 (moto at {endpoint}; each repeat registers new bytes)")
        raw = Raw(uri, endpoint)
        return measure(registry, raw, big, small, repeat)


def measure(registry: Registry, raw: Raw, big: Any, small: Any, repeat: int) -> dict[str, float]:
    ratios: dict[str, float] = {}
    registry.register(small, "warmup")  # the pool's first connection, boto3's client
    raw.register(small)

    # A different model each repeat: new bytes, so every registration really uploads.
    def new_big() -> None:
        big.n_neighbors += 1

    size = len(sio.dumps(big))
    ratios["register big"] = row(
        f"register {size / 1e6:.1f} MB model",
        paired_ms(
            lambda: registry.register(big, "big"), lambda: raw.register(big), repeat, new_big
        ),
        "dump + put_object + INSERT",
    )

    def new_small() -> None:
        small.C *= 1.001

    ratios["register small"] = row(
        "register small model",
        paired_ms(
            lambda: registry.register(small, "small"),
            lambda: raw.register(small),
            repeat * 4,
            new_small,
        ),
        "dump + put_object + INSERT",
    )

    version = registry.register(small, "iris", alias="production")
    # What resolving gives a client is the version's row (its digest to load, its
    # signature): one SELECT of that row is the least a client could send for it.
    select = (
        "SELECT v.* FROM aliases a JOIN versions v ON v.name = a.name "
        "AND v.version = a.version WHERE a.name = %s AND a.alias = %s"
    )
    ratios["resolve"] = row(
        "resolve iris@production",
        paired_ms(
            lambda: registry.get("iris@production"),
            lambda: raw.conn.execute(select, ("iris", "production")).fetchone(),
            repeat * 20,
        ),
        "one SELECT of the version's row",
    )
    bare = "SELECT version FROM aliases WHERE name = 'iris' AND alias = 'production'"
    row(
        "  (not judged) same resolve",
        paired_ms(
            lambda: registry.get("iris@production"),
            lambda: raw.conn.execute(bare).fetchone(),
            repeat * 20,
        ),
        "SELECT of the version number only",
    )

    key = registry.artifacts.store.key(version.digest)  # type: ignore[attr-defined]
    cached = registry.artifacts.path(version.digest)  # type: ignore[attr-defined]
    ratios["load cold"] = row(
        "load small, cold (from S3)",
        paired_ms(
            lambda: registry.load("iris@production"),
            lambda: sio.loads(raw.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()),
            repeat * 4,
            lambda: cached.unlink(missing_ok=True),
        ),
        "get_object + skops.io.loads",
    )

    registry.load("iris@production")  # in the cache from now on
    local = cached.parent / "baseline.skops"
    local.write_bytes(cached.read_bytes())
    warm = paired_ms(lambda: registry.load("iris@production"), lambda: sio.load(local), repeat * 20)
    ratios["load warm"] = row("load small, warm (cached)", warm, "skops.io.load from a file")
    # The cache rule: the same registry database, the artifact from the local store.
    on_disk = Registry(registry.home, registry_uri=registry.registry_uri)
    on_disk.register(small, "iris-local", alias="production")
    pair = paired_ms(
        lambda: registry.load("iris@production"),
        lambda: on_disk.load("iris-local@production"),
        repeat * 20,
    )
    ratios["cache"] = row("load small, warm (cached)", pair, "same, from the local store")

    fields = {"flavor": "sklearn", "digest": version.digest, "size": version.size}
    fields.update(signature=version.signature, metrics={"accuracy": 0.97})
    fields["params"] = dict(version.params)
    start = time.perf_counter()
    for _ in range(10_000):
        registry.store.create_version("many", fields)
    fill_s = time.perf_counter() - start
    row(
        "list 10,000 versions",
        paired_ms(
            lambda: registry.list_versions("many"),
            lambda: raw.conn.execute("SELECT * FROM versions WHERE name = 'many'").fetchall(),
            max(3, repeat // 3),
        ),
        "psycopg SELECT * ... fetchall()",
    )
    print(f"(writing those 10,000 versions took {fill_s:.1f} s: {fill_s / 10:.2f} ms each)")
    return ratios
