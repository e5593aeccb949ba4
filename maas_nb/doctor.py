"""``maas doctor`` and ``%maas doctor``: what is installed, where the registry is, whether
a server runs. One check for both front ends; each renders the facts its own way."""

from __future__ import annotations

import os
import platform
import sys
from importlib import metadata
from typing import Any

from . import flavors
from .config import RAY_ADDRESS_ENV, home_dir
from .registry import health

CHECKED = (
    "maas_nb",
    "numpy",
    "scikit-learn",
    "skops",
    "ipython",
    "ipywidgets",
    "jupyterlab_widgets",
    "widgetsnbextension",
    "papermill",
    "tensorflow-cpu",
    "tensorflow",
    "keras",
)


def checkup(
    home: str | None = None,
    *,
    registry_uri: str | None = None,
    artifacts_uri: str | None = None,
) -> list[tuple[str, str]]:
    """Environment facts as (name, value), the last one the problems with what to do;
    each of the registry's two stores is checked on its own (`registry.health`)."""
    fields: list[tuple[str, Any]] = [("python", f"{platform.python_version()} ({sys.executable})")]
    problems = []
    for name in dict.fromkeys([*CHECKED, *flavors.packages()]):
        try:
            fields.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            if name in ("ipywidgets", "jupyterlab_widgets"):
                problems.append(f"{name} is missing: widgets will not render (pip install {name}).")
    path = home_dir(home)
    metadata_store, artifact_store = health.check(
        path, registry_uri=registry_uri, artifacts_uri=artifacts_uri
    )
    models = metadata_store.models
    fields.append(
        ("registry", f"{path} ({models} models)" if models is not None else f"{path}: unusable")
    )
    for name, store in (("metadata store", metadata_store), ("artifact store", artifact_store)):
        fields.append((name, f"{store.uri} ({store.state})"))
        if store.problem:
            problems.append(store.problem)
    from .deploying import server_url

    try:
        info = server_url(home=str(path))
    except Exception:  # the registry problem above already says why
        info = None
    fields.append(("server", "running" if info else "not running (deploy starts one)"))
    fields.append(("ray cluster", ray_cluster()))
    if "keras" not in [k for k, _ in fields]:
        fields.append(("keras models", "unavailable: pip install 'maas_nb[tensorflow]'"))
    fields.append(("problems", " | ".join(problems) if problems else "none found"))
    return fields


def ray_cluster() -> str:
    """The Ray cluster a ``ray`` sweep would use, without starting or connecting to one
    (the same order as `maas_nb.pipelines.ray_sweep`)."""
    try:
        version = metadata.version("ray")
    except metadata.PackageNotFoundError:
        return "not installed: pip install 'maas_nb[ray]'"
    for name in (RAY_ADDRESS_ENV, "RAY_ADDRESS"):
        address = os.environ.get(name, "").strip()
        if address:
            return f"ray {version}, cluster {address} (${name})"
    return f"ray {version}, a local cluster started on demand (set RAY_ADDRESS to use one)"
