"""``maas registry copy SRC DST``: a home directory to PostgreSQL + S3 in a real ``maas``
process and back, the places each way of naming a registry means, and usage mistakes."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from maas_nb.cli import execute
from maas_nb.commands.render import as_text
from maas_nb.exceptions import ConfigurationError
from maas_nb.registry import Registry
from tests.helpers import ROOT
from tests.registry.populated import NEW, home_registry, listing, populate, rows


def test_copy_to_postgresql_and_s3_in_a_maas_process_and_back(
    postgres_uri, s3_uri, home, tmp_path, iris, monkeypatch, capsys
):
    laptop = home_registry(tmp_path / "laptop")
    populate(laptop, iris, monkeypatch)
    command = ["registry", "copy", str(laptop.home), postgres_uri, "--to-artifacts", s3_uri]
    done = subprocess.run(
        [sys.executable, "-m", "maas_nb.cli", *command, "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert (report["new"], report["deployments_not_copied"]) == (NEW, 1)
    assert report["to"] == f"{postgres_uri} + {s3_uri}"
    team = Registry(home, registry_uri=postgres_uri, artifacts_uri=s3_uri)
    assert listing(team) == listing(laptop)

    back = tmp_path / "back"
    _, result = execute(["registry", "copy", postgres_uri, str(back), "--from-artifacts", s3_uri])
    assert result is not None and result.data["new"] == NEW
    assert rows(home_registry(back)) == rows(laptop)

    _, result = execute(["registry", "copy", str(laptop.home), str(back)])  # nothing new
    assert result is not None
    assert as_text(result.view, detail=False) == (
        f"Nothing new to copy from sqlite:///{laptop.home}/registry.db + "
        f"file://{laptop.home}/artifacts to sqlite:///{back}/registry.db + "
        f"file://{back}/artifacts\n"
        "  models         0 new, 4 already there\n"
        "  versions       0 new, 5 already there\n"
        "  aliases        0 new, 2 already there\n"
        "  runs           0 new, 2 already there\n"
        "  pipeline runs  0 new, 2 already there\n"
        "  artifacts      0 new (0 B)\n"
        "  deployments    1 not copied: they belong to their servers; deploy again on the "
        "target"
    )


def test_a_home_directory_means_its_own_stores_and_dash_the_current_registry(
    postgres_uri, home, tmp_path, iris, monkeypatch
):
    """With the team's database in MAAS_REGISTRY_URI, a directory still names that home's
    SQLite file; ``-`` names the registry of the environment."""
    laptop = home_registry(tmp_path / "laptop")
    laptop.register(iris_model(iris), "iris")
    _, result = execute(["registry", "copy", str(laptop.home), "-"])
    assert result is not None and result.data["new"]["versions"] == 1
    assert result.data["to"].startswith(f"{postgres_uri} + file://{home}/artifacts")
    assert Registry(home).get("iris:1").digest == laptop.get("iris:1").digest


def iris_model(iris):
    from sklearn.linear_model import LogisticRegression

    X, y = iris
    return LogisticRegression(max_iter=1000).fit(X, y)


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (
            ["{tmp}/laptop"],
            "registry copy takes SRC and DST, got 1 place(s): {tmp}/laptop. Example: maas "
            "registry copy ~/.maas postgresql://HOST/maas --to-artifacts s3://BUCKET/maas",
        ),
        (
            ["{tmp}/nowhere", "{tmp}/back"],
            "SRC '{tmp}/nowhere' holds no registry: '{tmp}/nowhere/registry.db' does not "
            "exist. Name a registry home (a directory with registry.db in it) or an existing "
            "database.",
        ),
        (
            ["{tmp}/laptop", "sqlite:///{tmp}/team.db"],
            "DST 'sqlite:///{tmp}/team.db' is a registry URI, which holds no artifacts: name "
            "its artifact store with --to-artifacts URI (s3://BUCKET/PREFIX or file:///DIR).",
        ),
        (
            ["-", "{tmp}/back", "--from-artifacts", "file:///{tmp}/x"],
            "--from-artifacts names the artifacts of a registry URI, but SRC is '-' (this "
            "registry, whose artifacts --artifacts-uri names). Drop it, or give a URI.",
        ),
        (
            ["{tmp}/laptop", "sqlite:///{tmp}/laptop/registry.db", "--to-artifacts", "file:///x"],
            "Copying a registry needs two different registries, got the database "
            "sqlite:///{tmp}/laptop/registry.db as both source and target. Name another "
            "target: a home directory, or a registry URI with its artifacts URI.",
        ),
    ],
)
def test_usage_mistakes_say_what_to_type(argv, message, tmp_path):
    home_registry(tmp_path / "laptop")
    argv = [a.format(tmp=tmp_path) for a in argv]
    with pytest.raises(ConfigurationError) as info:
        execute(["registry", "copy", *argv])
    assert str(info.value) == message.format(tmp=tmp_path)
