"""``maas doctor`` / ``%maas doctor`` check each of the registry's two stores on its own,
on a real PostgreSQL and a real S3 server, and say what is wrong with either."""

from __future__ import annotations

import json

import maas_nb
from maas_nb.cli import main
from maas_nb.registry.postgres_schema import SCHEMA_VERSION
from tests.registry.test_postgres import _downgrade


def doctor(capsys, *argv: str) -> dict[str, str]:
    assert main([*argv, "doctor", "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_both_team_stores_are_checked_and_described(postgres_uri, s3_uri, monkeypatch, capsys):
    monkeypatch.setenv("MAAS_ARTIFACTS_URI", s3_uri)
    from sklearn.dummy import DummyClassifier

    maas_nb.register(DummyClassifier().fit([[0], [1]], [0, 1]), "dummy")
    facts = doctor(capsys)
    assert facts["metadata store"] == f"{postgres_uri} (1 models, 1 versions)"
    assert facts["artifact store"] == f"{s3_uri} (reachable, 1 objects)"
    assert facts["problems"] == "none found"


def test_an_unreachable_artifact_store_is_named_with_what_to_do(home, monkeypatch, capsys):
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")  # nothing listens there
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    facts = doctor(capsys, "--artifacts-uri", "s3://nowhere/models")
    assert facts["artifact store"] == "s3://nowhere/models (unusable)"
    assert facts["problems"].startswith(
        "The artifact store 's3://nowhere/models' fails: Cannot reach the artifact store "
        "'s3://nowhere/models' (endpoint http://127.0.0.1:9) while listing"
    )
    assert (
        "Check that the S3 server is running and that AWS_ENDPOINT_URL names it"
        in (facts["problems"])
    )
    # The metadata store, which works, is still described.
    assert facts["metadata store"] == f"sqlite:///{home}/registry.db (0 models, 0 versions)"


def test_a_missing_bucket_says_how_to_create_it(s3_uri, capsys):
    facts = doctor(capsys, "--artifacts-uri", "s3://no-such-bucket/x")
    assert "The bucket 'no-such-bucket' does not exist at http://127.0.0.1:" in facts["problems"]
    assert "Create it (aws s3 mb s3://no-such-bucket)" in facts["problems"]


def test_an_older_shared_schema_names_the_upgrade_command(postgres_uri, capsys):
    maas_nb.registry().list_models()  # creates the schema
    _downgrade(postgres_uri, 5)
    facts = doctor(capsys)
    assert facts["metadata store"] == f"{postgres_uri} (unusable)"
    assert facts["registry"].endswith(": unusable")
    assert "has schema version 5, older than this maas_nb's" in facts["problems"]
    assert "upgrade it with: maas registry upgrade" in facts["problems"]
    # ... which is a verb that works although the registry cannot be opened.
    assert main(["registry", "upgrade"]) == 0
    assert capsys.readouterr().out == f"{postgres_uri}: schema version 5 -> {SCHEMA_VERSION}.\n"
    assert doctor(capsys)["problems"] == "none found"


def test_a_database_that_does_not_answer(monkeypatch, capsys):
    gone = "postgresql://maas@127.0.0.1:9/maas?connect_timeout=2"
    facts = doctor(capsys, "--registry-uri", gone)
    assert facts["metadata store"] == f"{gone} (unusable)"
    assert facts["problems"].startswith(f"The metadata store '{gone}' fails: ")
