"""maas_nb: train, register, deploy and call models from a Jupyter notebook.

Importing maas_nb is cheap: scikit-learn, skops and TensorFlow are imported only when
a model is saved, loaded or called.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from . import exceptions
from .api import (
    delete_model,
    delete_version,
    get,
    list_models,
    list_runs,
    list_versions,
    load,
    register,
    registry,
    remove_alias,
    set_alias,
    update,
)
from .exceptions import MaasError
from .registry import DeploymentRecord, Model, ModelVersion, Registry, Run
from .tracking import log, training_run
from .version import __version__

if TYPE_CHECKING:
    from .notebook.ui import Panel

_DEPLOYING = (
    "Deployment",
    "deploy",
    "deployments",
    "experiment",
    "feedback",
    "predict",
    "promote",
    "rollback",
    "stop_server",
    "traffic",
    "undeploy",
)
_MONITORING = ("drift", "prediction_log")


def load_ipython_extension(ipython: object) -> None:
    """``%load_ext maas_nb``: register the ``%maas`` and ``%%maas`` magics."""
    from .notebook import load_ipython_extension as load

    load(ipython)


def ui(*, home: str | None = None, refresh_s: float = 1.0) -> Panel:
    """The ipywidgets control panel: models, deploy, predict, live monitor, pipeline runs."""
    from .notebook.ui import ui as panel

    return panel(home=home, refresh_s=refresh_s)


def __getattr__(name: str) -> object:
    # Deploying names load on first use, so that importing maas_nb.registry (which the
    # server itself does) never pulls in the deploy client.
    if name in _DEPLOYING:
        from . import deploying

        return getattr(deploying, name)
    if name in _MONITORING:
        from . import monitoring

        return getattr(monitoring, name)
    raise AttributeError(f"module 'maas_nb' has no attribute {name!r}")


__all__ = [
    "Deployment",
    "DeploymentRecord",
    "MaasError",
    "Model",
    "ModelVersion",
    "Registry",
    "Run",
    "__version__",
    "delete_model",
    "delete_version",
    "deploy",
    "deployments",
    "drift",
    "exceptions",
    "experiment",
    "feedback",
    "get",
    "list_models",
    "list_runs",
    "list_versions",
    "load",
    "load_ipython_extension",
    "log",
    "predict",
    "prediction_log",
    "promote",
    "register",
    "registry",
    "remove_alias",
    "rollback",
    "set_alias",
    "stop_server",
    "traffic",
    "training_run",
    "ui",
    "undeploy",
    "update",
]
