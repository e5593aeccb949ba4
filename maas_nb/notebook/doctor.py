"""``%maas doctor``: what is installed, where the registry is, whether a server runs."""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any

from .. import flavors
from ..api import registry
from ..config import home_dir
from .display import Display, card

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


def doctor() -> Display:
    """A card of environment facts, each with what to do when it is wrong."""
    fields: list[tuple[str, Any]] = [("python", f"{platform.python_version()} ({sys.executable})")]
    problems = []
    for name in dict.fromkeys([*CHECKED, *flavors.packages()]):
        try:
            fields.append((name, metadata.version(name)))
        except metadata.PackageNotFoundError:
            if name in ("ipywidgets", "jupyterlab_widgets"):
                problems.append(f"{name} is missing: widgets will not render (pip install {name}).")
    home = home_dir()
    try:
        reg = registry()
        fields.append(("registry", f"{home} ({len(reg.list_models())} models)"))
    except Exception as exc:
        fields.append(("registry", f"{home}: unusable"))
        problems.append(f"The registry at {home} cannot be opened: {exc}")
    from ..deploying import server_url

    info = server_url()
    fields.append(("server", "running" if info else "not running (deploy starts one)"))
    if "keras" not in [k for k, _ in fields]:
        fields.append(("keras models", "unavailable: pip install 'maas_nb[tensorflow]'"))
    fields.append(("problems", " | ".join(problems) if problems else "none found"))
    shown = card("maas doctor", fields)
    return shown
