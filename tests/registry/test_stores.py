"""The registry's two stores chosen by URI: defaults, arguments, environment, plug-ins."""

import sqlite3

import pytest

import maas_nb
from maas_nb.exceptions import ArtifactMissingError, ConfigurationError, InvalidNameError
from maas_nb.registry import Registry


def test_the_default_stores_live_in_the_home(home, classifier, monkeypatch):
    registry = maas_nb.registry(home)
    assert registry.registry_uri == f"sqlite:///{home}/registry.db"
    assert registry.artifacts_uri == f"file://{home}/artifacts"
    assert repr(registry) == f"Registry(home={str(home)!r})"
    # Empty variables: a child process's stores follow its MAAS_HOME.
    assert registry.environment() == {
        "MAAS_HOME": str(home),
        "MAAS_REGISTRY_URI": "",
        "MAAS_ARTIFACTS_URI": "",
    }
    monkeypatch.setenv("MAAS_REGISTRY_URI", "")
    assert Registry(home / "sub").registry_uri == f"sqlite:///{home}/sub/registry.db"
    v = registry.register(classifier, "iris")
    assert (home / "artifacts" / "sha256" / v.digest[7:9] / v.digest[9:]).is_file()
    assert Registry(home).get("iris").digest == v.digest


def test_stores_elsewhere_by_argument_and_by_environment(tmp_path, home, classifier, monkeypatch):
    db, blobs = tmp_path / "meta" / "r.db", tmp_path / "blobs"
    registry = Registry(home, registry_uri=f"sqlite:///{db}", artifacts_uri=blobs.as_uri())
    assert repr(registry) == (
        f"Registry(home={str(home)!r}, registry_uri='sqlite:///{db}', "
        f"artifacts_uri='file://{blobs}')"
    )
    v = registry.register(classifier, "iris")
    assert sqlite3.connect(db).execute("SELECT name FROM versions").fetchall() == [("iris",)]
    assert (blobs / "sha256" / v.digest[7:9] / v.digest[9:]).is_file()
    assert sorted(p.name for p in home.iterdir()) == []

    # The same stores from the environment; a child process gets them the same way.
    assert registry.environment() == {
        "MAAS_HOME": str(home),
        "MAAS_REGISTRY_URI": f"sqlite:///{db}",
        "MAAS_ARTIFACTS_URI": f"file://{blobs}",
    }
    for key, value in registry.environment().items():
        monkeypatch.setenv(key, value)
    again = maas_nb.registry()
    assert (again.registry_uri, again.artifacts_uri) == (f"sqlite:///{db}", f"file://{blobs}")
    assert again is not maas_nb.registry(home, registry_uri=f"sqlite:///{home}/registry.db")
    assert again.load("iris:1").predict([[5.1, 3.5, 1.4, 0.2]]).tolist() == [0]


@pytest.mark.parametrize(
    ("setting", "uri", "message"),
    [
        (
            "registry_uri",
            "mysql://maas:s3cret@db.example/maas",
            "registry_uri 'mysql://maas:***@db.example/maas' names the scheme 'mysql', "
            "but no metadata store for it is installed (known schemes: postgres, postgresql, "
            "sqlite). Set MAAS_REGISTRY_URI (or pass registry_uri=) to a URI such as "
            "'sqlite:////srv/maas/registry.db', or install the package that adds 'mysql' "
            "to the entry point group 'maas_nb.metadata_stores'.",
        ),
        (
            "MAAS_ARTIFACTS_URI",
            "gs://bucket/maas",
            "MAAS_ARTIFACTS_URI 'gs://bucket/maas' names the scheme 'gs', but no artifact store "
            "for it is installed (known schemes: file, s3). Set MAAS_ARTIFACTS_URI (or pass "
            "artifacts_uri=) to a URI such as 'file:///srv/maas/artifacts', or install the "
            "package that adds 'gs' to the entry point group 'maas_nb.artifact_stores'.",
        ),
        (
            "MAAS_REGISTRY_URI",
            "/srv/maas/registry.db",
            "MAAS_REGISTRY_URI '/srv/maas/registry.db' has no scheme (known schemes: postgres, "
            "postgresql, sqlite). Set MAAS_REGISTRY_URI (or pass registry_uri=) to a URI such as "
            "'sqlite:////srv/maas/registry.db', or install the package that adds your scheme "
            "to the entry point group 'maas_nb.metadata_stores'.",
        ),
        (
            "registry_uri",
            "sqlite://registry.db",
            "The SQLite registry URI 'sqlite://registry.db' does not name a database file. Set "
            "MAAS_REGISTRY_URI (or registry_uri=) to 'sqlite:///' then the file's path: "
            "'sqlite:////srv/maas/registry.db' (absolute) or 'sqlite:///registry.db' "
            "(relative to the working directory).",
        ),
        (
            "artifacts_uri",
            "file://server/share",
            "The artifact store URI 'file://server/share' does not name a local directory. Set "
            "MAAS_ARTIFACTS_URI (or artifacts_uri=) to 'file://' then the absolute path, such "
            "as 'file:///srv/maas/artifacts'.",
        ),
    ],
)
def test_a_uri_no_store_handles_says_which_schemes_exist(home, monkeypatch, setting, uri, message):
    if setting.startswith("MAAS_"):
        monkeypatch.setenv(setting, uri)
        kwargs = {}
    else:
        kwargs = {setting: uri}
    with pytest.raises(ConfigurationError) as info:
        Registry(home, **kwargs)
    assert str(info.value) == message


PLUGIN = '''
"""An artifact store kept in memory: a third-party plug-in, as an s3 store would be."""
import hashlib

from maas_nb.exceptions import ArtifactMissingError

BLOBS = {}


class MemoryArtifacts:
    def __init__(self, uri):
        self.uri = uri

    def put(self, data):
        digest = "sha256:" + hashlib.sha256(data).hexdigest()
        BLOBS[digest] = bytes(data)
        return digest

    def get(self, digest):
        if digest not in BLOBS:
            raise ArtifactMissingError(digest)
        return BLOBS[digest]

    def exists(self, digest):
        return digest in BLOBS

    def delete(self, digest):
        BLOBS.pop(digest, None)
'''


def install_plugin(tmp_path, monkeypatch, target):
    """An installed distribution declaring the ``memory`` artifact scheme as *target*."""
    site = tmp_path / "site"
    (site / "maas_memory_store-1.0.dist-info").mkdir(parents=True)
    (site / "maas_memory_store.py").write_text(PLUGIN)
    info = site / "maas_memory_store-1.0.dist-info"
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: maas-memory-store\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text(f"[maas_nb.artifact_stores]\nmemory = {target}\n")
    monkeypatch.syspath_prepend(str(site))
    from maas_nb.registry import stores

    # Entry points are read once per process; make this test's distribution visible.
    monkeypatch.setattr(stores.ARTIFACTS, "_openers", dict(stores.ARTIFACTS._openers))
    monkeypatch.setattr(stores.ARTIFACTS, "_entry_points_loaded", False)


@pytest.fixture
def memory_plugin(tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "maas_memory_store:MemoryArtifacts")
    yield
    import sys

    sys.modules.pop("maas_memory_store", None)


def test_an_artifact_store_plugs_in_through_an_entry_point(home, memory_plugin, classifier, iris):
    registry = Registry(home, artifacts_uri="memory://test")
    v = registry.register(classifier, "iris")
    import maas_memory_store

    assert list(maas_memory_store.BLOBS) == [v.digest]
    assert not (home / "artifacts").exists()
    X, _ = iris
    assert registry.load("iris").predict(X[:3]).tolist() == classifier.predict(X[:3]).tolist()
    with pytest.raises(ConfigurationError, match=r"\(known schemes: file, memory, s3\)"):
        Registry(home, artifacts_uri="gs://bucket")


def test_a_plugin_that_fails_to_import_is_named(home, tmp_path, monkeypatch):
    install_plugin(tmp_path, monkeypatch, "maas_memory_stor:MemoryArtifacts")
    with pytest.raises(ConfigurationError) as info:
        Registry(home, artifacts_uri="memory://test")
    assert str(info.value) == (
        "The artifact store 'memory' (entry point 'maas_memory_stor:MemoryArtifacts' in "
        "'maas_nb.artifact_stores') failed to import: ModuleNotFoundError: No module named "
        "'maas_memory_stor'. Reinstall the package that provides it, or uninstall it."
    )


@pytest.mark.usefixtures("artifacts_uri")
def test_pipeline_runs_through_the_facade(registry):
    started = registry.start_pipeline_run(
        "train", notebook="train.ipynb", source=b'{"cells": []}', parameters={"C": 0.5}
    )
    assert registry.pipeline_notebook(started) == b'{"cells": []}'
    with pytest.raises(InvalidNameError) as info:
        registry.end_pipeline_run(started.id, status="done")
    assert str(info.value) == "A pipeline run ends as 'finished' or 'failed', got 'done'."
    assert registry.get_pipeline_run(started.id).status == "running"
    with pytest.raises(ArtifactMissingError) as missing:
        registry.pipeline_notebook(started, executed=True)
    assert str(missing.value) == (
        f"Pipeline run {started.id[:12]} (running) has no executed notebook: papermill wrote "
        f"none. See why with: maas runs show {started.id[:12]} "
        f"(in a notebook: %maas runs show {started.id[:12]})"
    )
    ended = registry.end_pipeline_run(started.id, status="failed", output=b"executed")
    assert registry.pipeline_notebook(ended, executed=True) == b"executed"
    assert [r.id for r in registry.list_pipeline_runs()] == [started.id]
