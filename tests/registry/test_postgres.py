"""The PostgreSQL metadata store on a real server: its schema and migrations, its errors,
and a client that outlives a restart of the database."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time

import psycopg
import pytest

from maas_nb.exceptions import MaasError, RegistryUnavailableError, SchemaVersionError
from maas_nb.registry import Registry
from maas_nb.registry.postgres_schema import MIGRATIONS, SCHEMA_VERSION
from maas_nb.version import __version__
from tests.custom_models import ThresholdClassifier
from tests.helpers import ROOT
from tests.registry.test_schema import NEW_IN_7

#: How long the database stays down, and how soon a client must notice, or use it again.
OUTAGE_S, TOLD_S = 8.0, 4.0


def _sql(uri: str, statement: str) -> list:
    with psycopg.connect(uri, autocommit=True) as conn:
        cursor = conn.execute(statement)
        return cursor.fetchall() if cursor.description else []


def _schema_version(uri: str) -> int:
    return _sql(uri, "SELECT version FROM maas_schema")[0][0]


def _downgrade(uri: str, version: int) -> None:
    """Turn a current database back into exactly what schema *version* had."""
    if version < 8:
        _sql(uri, "DROP INDEX versions_by_pipeline_run")
        _sql(uri, "DROP INDEX versions_by_created")
    if version < 7:
        for index in NEW_IN_7:
            _sql(uri, f"DROP INDEX {index}")
        _sql(uri, "CREATE INDEX runs_by_name ON runs (name, started_at)")
        _sql(uri, "CREATE INDEX pipeline_runs_by_started ON pipeline_runs (started_at)")
    if version < 6:
        for table in ("versions", "runs", "pipeline_runs", "deployments"):
            _sql(uri, f"ALTER TABLE {table} DROP COLUMN created_by")
        _sql(uri, "ALTER TABLE deployments DROP COLUMN server")
    if version < 5:
        _sql(uri, "ALTER TABLE versions DROP COLUMN idempotency_key")  # and its index
    if version < 4:
        _sql(uri, "ALTER TABLE pipeline_runs DROP COLUMN rerun_of")
    if version < 3:
        _sql(uri, "ALTER TABLE versions DROP COLUMN trust")
    if version < 2:
        _sql(uri, "DROP TABLE pipeline_runs")
    _sql(uri, f"UPDATE maas_schema SET version = {version}")


def _upgrade(uri: str, *command: str) -> str:
    """Run the upgrade command, by default ``maas registry upgrade --registry-uri URI``."""
    argv = command or ("-m", "maas_nb.cli", "registry", "upgrade", "--registry-uri", uri)
    done = subprocess.run(
        [sys.executable, *argv],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def test_a_new_database_gets_the_current_schema(postgres_uri):
    Registry()
    assert _schema_version(postgres_uri) == SCHEMA_VERSION == len(MIGRATIONS)
    tables = {
        r[0]
        for r in _sql(postgres_uri, "SELECT tablename FROM pg_tables WHERE schemaname = 'public'")
    }
    assert tables >= {
        "models",
        "version_counters",
        "versions",
        "aliases",
        "runs",
        "deployments",
        "pipeline_runs",
    }


@pytest.mark.parametrize("version", range(1, SCHEMA_VERSION))
def test_an_older_schema_is_refused_then_upgraded_with_its_data(
    postgres_uri, classifier, iris, version
):
    X, _ = iris
    registry = Registry()
    registry.register(classifier, "iris", alias="production")
    custom = ThresholdClassifier().fit(X)
    registry.register(
        custom, "threshold", trusted_types=["tests.custom_models.ThresholdClassifier"]
    )
    first = registry.start_pipeline_run("train", notebook="train.ipynb", source=b"{}")
    registry.end_pipeline_run(first.id, status="finished", output=b"[]")
    _downgrade(postgres_uri, version)

    with pytest.raises(SchemaVersionError) as refused:
        Registry()
    assert str(refused.value) == (
        f"The registry database '{postgres_uri}' has schema version {version}, older than this "
        f"maas_nb's ({__version__}: version {SCHEMA_VERSION}); a shared database is not upgraded "
        f"behind its other users' backs. Once every client can move to maas_nb {__version__}, "
        "upgrade it with: maas registry upgrade (the URI in MAAS_REGISTRY_URI or given as "
        "--registry-uri URI; in a notebook: %maas registry upgrade)."
    )
    # A client opened before the downgrade refuses to write into the older schema too.
    with pytest.raises(SchemaVersionError, match=f"has schema version {version}, older"):
        registry.register(classifier, "iris")

    assert (
        _upgrade(postgres_uri) == f"{postgres_uri}: schema version {version} -> {SCHEMA_VERSION}."
    )
    assert _schema_version(postgres_uri) == SCHEMA_VERSION
    registry = Registry()
    assert registry.get("iris@production").version == 1
    assert registry.load("iris").predict(X[:2]).tolist() == classifier.predict(X[:2]).tolist()
    runs = registry.list_pipeline_runs()
    if version < 2:  # pipeline runs came with schema 2
        assert runs == []
    else:
        assert [(r.id, r.status, r.rerun_of) for r in runs] == [(first.id, "finished", None)]
    if version < 3:  # trust records came with schema 3: the loader must opt in again
        assert registry.get("threshold:1").trust == {}
    else:
        assert registry.load("threshold").threshold_ == custom.threshold_
    assert registry.register(classifier, "iris").version == 2
    current = _upgrade(postgres_uri, "-m", "maas_nb.registry.upgrade", postgres_uri)
    assert current == f"{postgres_uri}: the schema is current."


def test_a_newer_schema_is_refused(postgres_uri):
    Registry()
    _sql(postgres_uri, f"UPDATE maas_schema SET version = {SCHEMA_VERSION + 1}")
    with pytest.raises(SchemaVersionError) as refused:
        Registry()
    assert str(refused.value) == (
        f"The registry database '{postgres_uri}' has schema version {SCHEMA_VERSION + 1}, but "
        f"this maas_nb ({__version__}) understands versions up to {SCHEMA_VERSION}. Upgrade "
        "maas_nb: pip install -U maas_nb (every client of a shared registry needs a maas_nb "
        "that knows its schema)."
    )


def test_clients_opening_a_new_database_at_once_migrate_it_once(postgres_uri):
    errors: list[BaseException] = []
    barrier = threading.Barrier(6)

    def open_registry() -> None:
        barrier.wait()
        try:
            Registry()
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=open_registry) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert errors == []
    assert _schema_version(postgres_uri) == SCHEMA_VERSION


def test_a_client_keeps_working_across_a_database_restart(
    postgres_server, postgres_uri, classifier
):
    registry = Registry()
    registry.register(classifier, "iris", alias="production")
    assert registry.get("iris@production").version == 1  # the pool holds a connection now

    postgres_server.restart()
    assert registry.get("iris@production").version == 1
    assert registry.register(classifier, "iris").version == 2
    assert registry.set_alias("iris:2", "production").aliases == ("production",)
    assert [v.version for v in registry.list_versions("iris")] == [1, 2]


def test_every_pooled_connection_a_restart_broke_is_replaced_before_a_write(
    postgres_server, postgres_uri, classifier
):
    """Connections are not checked when handed out: the first that fails has the pool
    check the rest, so no write (set_alias is not retried) meets a second broken one."""
    registry = Registry()
    registry.register(classifier, "iris", alias="production")
    registry.register(classifier, "iris")
    with contextlib.ExitStack() as held:  # three connections, idle in the pool after
        for _ in range(3):
            held.enter_context(registry.store._read())
    postgres_server.restart()
    for version in (1, 2, 1, 2):
        assert registry.set_alias(f"iris:{version}", "production").version == version
    assert registry.get("iris@production").version == 2


def test_a_write_while_the_database_is_down_fails_clearly(
    postgres_server, postgres_uri, classifier, monkeypatch
):
    uri = f"{postgres_uri}?connect_timeout=2"
    monkeypatch.setenv("MAAS_REGISTRY_URI", uri)
    registry = Registry()
    registry.register(classifier, "iris")
    postgres_server.stop()
    try:
        with pytest.raises(RegistryUnavailableError) as failed:
            registry.register(classifier, "iris")
    finally:
        postgres_server.start()
    message = str(failed.value)
    assert message.startswith(f"Cannot use the registry database '{uri}': connection failed: ")
    assert "Connection refused" in message
    assert message.endswith(
        "Check that PostgreSQL is running and reachable at that host and port, and that the "
        "URI's user, password and database are right (MAAS_REGISTRY_URI or registry_uri=)."
    )
    assert registry.register(classifier, "iris").version == 2  # and it recovers


@pytest.mark.slow
def test_a_stopped_database_is_told_at_once_and_used_as_soon_as_it_is_back(
    postgres_server, postgres_uri, classifier
):
    registry = Registry()
    registry.register(classifier, "iris")
    postgres_server.stop()
    try:
        # Down for longer than the pool's own reconnection backs off to (1 s, 2 s, 4 s...),
        # each read fails within seconds rather than after the connect timeout (10 s).
        reads = []
        while sum(reads) < OUTAGE_S:
            started = time.monotonic()
            with pytest.raises(RegistryUnavailableError, match="Connection refused"):
                registry.get("iris:1")
            reads.append(time.monotonic() - started)
    finally:
        postgres_server.start()
    back = time.monotonic()
    assert registry.get("iris:1").version == 1
    took = time.monotonic() - back
    assert max(reads) < TOLD_S, reads
    assert took < TOLD_S


@pytest.mark.parametrize(
    ("form", "shown"),
    [
        (
            "postgresql://postgres:s3cret@HOST/no_such_database",
            "postgresql://postgres:***@HOST/no_such_database",
        ),
        (
            "postgresql://postgres@HOST/no_such_database?password=s3cret",
            "postgresql://postgres@HOST/no_such_database?password=***",
        ),
    ],
)
def test_errors_name_the_database_without_its_password(postgres_server, form, shown):
    host = f"127.0.0.1:{postgres_server.port}"
    with pytest.raises(RegistryUnavailableError) as failed:
        Registry(registry_uri=form.replace("HOST", host))
    message = str(failed.value)
    assert isinstance(failed.value, MaasError)
    assert "s3cret" not in message and "s3cret" not in repr(failed.value.args)
    assert message.startswith(f"Cannot use the registry database '{shown.replace('HOST', host)}': ")
    assert 'database "no_such_database" does not exist' in message


def test_concurrent_retries_of_one_registration_make_one_version(postgres_uri, classifier):
    registry = Registry()
    barrier = threading.Barrier(4)
    made: list[int] = []

    def register() -> None:
        barrier.wait()
        made.append(registry.register(classifier, "iris", idempotency_key="job-7").version)

    threads = [threading.Thread(target=register) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert made == [1, 1, 1, 1]
    assert [v.version for v in registry.list_versions("iris")] == [1]


def test_the_upgrade_command_needs_a_uri(monkeypatch, capsys):
    from maas_nb.registry.upgrade import main

    monkeypatch.delenv("MAAS_REGISTRY_URI", raising=False)
    assert main([]) == 2
    assert capsys.readouterr().err == (
        "usage: python -m maas_nb.registry.upgrade [URI]  (else $MAAS_REGISTRY_URI); got []\n"
    )


def test_readers_never_miss_an_alias_while_it_moves(postgres_uri, classifier):
    registry = Registry()
    registry.register(classifier, "iris", alias="production")
    registry.register(classifier, "iris")
    registry.put_deployment("iris-prod", "iris@production")
    done = threading.Event()
    seen: set[int] = set()
    errors: list[BaseException] = []

    def read() -> None:
        while not done.is_set():
            try:
                seen.add(registry.get("iris@production").version)
                assert registry.get_deployment("iris-prod").target == "iris@production"
            except BaseException as exc:
                errors.append(exc)
                return

    reader = threading.Thread(target=read)
    reader.start()
    try:
        for i in range(100):
            registry.set_alias(f"iris:{1 + i % 2}", "production")
            registry.put_deployment("iris-prod", "iris@production", {"moves": i})
    finally:
        done.set()
        reader.join(timeout=60)
    assert errors == []
    assert seen <= {1, 2} and seen


def test_an_upgrade_that_fails_says_so_and_changes_nothing(postgres_uri):
    Registry()
    _downgrade(postgres_uri, 5)
    _sql(postgres_uri, "ALTER TABLE runs ADD COLUMN created_by TEXT")  # a change by hand
    done = subprocess.run(
        [sys.executable, "-m", "maas_nb.cli", "registry", "upgrade"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1
    assert done.stderr == (
        "maas: error: Upgrading the registry database from schema version 5 to 6 failed: "
        'column "created_by" of relation "runs" already exists. PostgreSQL rolled the whole '
        "upgrade back, so the database is still at version 5. Its tables differ from what "
        "version 5 has (changed by hand?): compare them with "
        "maas_nb/registry/postgres_schema.py, or restore a backup.\n"
    )
    assert _schema_version(postgres_uri) == 5
    columns = _sql(
        postgres_uri,
        "SELECT column_name FROM information_schema.columns "
        "WHERE table_name = 'versions' AND column_name = 'created_by'",
    )
    assert columns == []
