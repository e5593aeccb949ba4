"""maas_nb: train, register, deploy and call models from a Jupyter notebook.

Importing maas_nb is cheap: scikit-learn, skops and TensorFlow are imported only when
a model is saved, loaded or called.
"""

from __future__ import annotations

__version__ = "0.1.0.dev0"

from . import exceptions
from .api import (
    delete_model,
    delete_version,
    get,
    list_models,
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

_SERVING = ("Deployment", "deploy", "deployments", "undeploy")


def __getattr__(name: str) -> object:
    # Serving names load on first use, so that importing maas_nb.registry (which the
    # server itself does) never pulls in the serving client.
    if name in _SERVING:
        from . import serving

        return getattr(serving, name)
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
    "exceptions",
    "get",
    "list_models",
    "list_versions",
    "load",
    "register",
    "registry",
    "remove_alias",
    "set_alias",
    "undeploy",
    "update",
]
