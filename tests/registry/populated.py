"""A laptop's registry with one of everything ``maas registry copy`` carries, and the ways
two registries are compared after a copy."""

from __future__ import annotations

from pathlib import Path

from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from maas_nb import config
from maas_nb.registry import Registry, to_dict
from tests.custom_models import ThresholdClassifier

THRESHOLD = "tests.custom_models.ThresholdClassifier"
#: What `populate` makes, as a copy into an empty registry counts it.
NEW = {
    "models": 4,  # iris, threshold, petal-width, scratch (no versions left); not "gone"
    "versions": 5,  # iris 1, 3, 4; threshold 1; petal-width 1
    "aliases": 2,
    "runs": 2,
    "pipeline_runs": 2,
    "artifacts": 7,  # five models, one notebook (run twice), one executed notebook
}


def home_registry(path: Path) -> Registry:
    """The registry of the home *path* itself: its SQLite file and folder, whatever the
    environment's ``MAAS_REGISTRY_URI`` says."""
    home = path.absolute()
    return Registry(
        home,
        registry_uri=config.default_registry_uri(home),
        artifacts_uri=config.default_artifacts_uri(home),
    )


def fitted(iris, c: float) -> LogisticRegression:
    X, y = iris
    return LogisticRegression(C=c, max_iter=1000).fit(X, y)


def populate(registry: Registry, iris, monkeypatch) -> None:
    """Models with gaps, aliases, descriptions and tags, a trusted custom type, training
    runs (one still running), pipeline runs (one a failed rerun) and a deployment, made
    by two people."""
    X, _ = iris
    monkeypatch.setenv("MAAS_USER", "alice")
    run = registry.start_run("fit-iris", params={"C": 0.3}, source="train.ipynb")
    for i, c in enumerate([0.1, 0.2, 0.3, 0.4], 1):
        registry.register(
            fitted(iris, c),
            "iris",
            sample=X[:5],
            metrics={"accuracy": 0.9 + i / 100},
            tags={"i": i},
            description=f"C={c}",
            run_id=run.id if i == 3 else None,
            idempotency_key="job-3" if i == 3 else None,
        )
    registry.end_run(run.id, metrics={"accuracy": 0.93})
    registry.delete_version("iris:2")  # a gap
    registry.set_alias("iris:3", "production")
    registry.set_alias("iris:1", "staging")
    registry.update("iris", description="Iris species", tags={"team": "bio"})
    monkeypatch.setenv("MAAS_USER", "bob")
    custom = make_pipeline(StandardScaler(), ThresholdClassifier()).fit(X)
    registry.register(custom, "threshold", trusted_types=[THRESHOLD])
    registry.register(Ridge().fit(X[:, :3], X[:, 3]), "petal-width", params={"alpha": 1.0})
    registry.register(fitted(iris, 0.5), "scratch")
    registry.delete_version("scratch:1")  # a model with no versions left; its counter at 1
    registry.register(fitted(iris, 0.6), "gone")
    registry.delete_model("gone")  # not copied: no model, no versions
    registry.start_run("still-running")
    notebook = b'{"cells": ["train"]}'
    first = registry.start_pipeline_run(
        "train", notebook="train.ipynb", source=notebook, parameters={"C": 1}
    )
    registry.end_pipeline_run(first.id, status="finished", output=b'{"executed": 1}')
    again = registry.start_pipeline_run(
        "train", notebook="train.ipynb", source=notebook, rerun_of=first.id
    )
    registry.end_pipeline_run(
        again.id, status="failed", error={"cell": 2, "ename": "ValueError", "evalue": "bad"}
    )
    registry.put_deployment("iris", "iris@production")


def listing(registry: Registry) -> dict:
    """Every record as its JSON form: what people and the API see."""
    models = registry.list_models()
    return {
        "models": [to_dict(m) for m in models],
        "versions": {m.name: [to_dict(v) for v in registry.list_versions(m.name)] for m in models},
        "runs": [to_dict(r) for r in registry.list_runs()],
        "pipeline_runs": [to_dict(r) for r in registry.list_pipeline_runs()],
    }


def rows(registry: Registry) -> dict:
    """Every stored row, idempotency keys and the counters of present models included."""
    found = registry.store.export_rows()
    names = {m["name"] for m in found["models"]}
    found["version_counters"] = [c for c in found["version_counters"] if c["name"] in names]
    return found


def loads_verified(registry: Registry, iris) -> int:
    """Load every version (its bytes checked against its digest); how many there are."""
    X, _ = iris
    count = 0
    for model in registry.list_models():
        for version in registry.list_versions(model.name):
            columns = 3 if model.name == "petal-width" else 4
            assert registry.load(version.uri).predict(X[:3, :columns]).shape == (3,)
            count += 1
    return count
