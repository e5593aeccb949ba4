"""Errors raised by maas_nb.

Every error derives from `MaasError`, and also from the builtin exception a caller
would naturally catch (a missing model is a `LookupError`, a malformed name is a
`ValueError`).

Our exception hierarchy:

* MaasError
  + ConfigurationError (ValueError)
    - MissingDependencyError (ImportError)
  + RegistryError
    - RegistryUnavailableError (OSError)
    - SchemaVersionError
    - InvalidNameError (ValueError)
    - InvalidMetadataError (ValueError)
    - InvalidQueryError (ValueError)
    - NotFoundError (LookupError)
      · ModelNotFoundError
      · VersionNotFoundError
      · AliasNotFoundError
      · RunNotFoundError
      · DeploymentNotFoundError
    - ConflictError
      · VersionInUseError
  + ArtifactError
    - ArtifactCorruptedError
    - ArtifactMissingError (FileNotFoundError)
    - ArtifactStoreUnavailableError (OSError)
  + FlavorError
    - UnsupportedModelError (TypeError)
    - ModelNotFittedError (ValueError)
    - UntrustedModelError
    - ModelLoadError
  + SignatureError (ValueError)
  + NoFittedModelError (LookupError)
  + PanelInputError (ValueError)
  + PipelineError
    - PipelineFailedError
    - WorkerEnvironmentError
  + ServingError
    - ServerUnavailableError (ConnectionError)
    - DeploymentFailedError
    - PredictionError (ValueError)

Errors cross process boundaries (papermill kernels, the model server), so every class
here survives a pickle round trip: each stores only its message.
"""

from __future__ import annotations

__all__ = [
    "AliasNotFoundError",
    "ArtifactCorruptedError",
    "ArtifactError",
    "ArtifactMissingError",
    "ArtifactStoreUnavailableError",
    "ConfigurationError",
    "ConflictError",
    "DeploymentFailedError",
    "DeploymentNotFoundError",
    "FlavorError",
    "InvalidMetadataError",
    "InvalidNameError",
    "InvalidQueryError",
    "MaasError",
    "MissingDependencyError",
    "ModelLoadError",
    "ModelNotFittedError",
    "ModelNotFoundError",
    "NoFittedModelError",
    "NotFoundError",
    "PanelInputError",
    "PipelineError",
    "PipelineFailedError",
    "PredictionError",
    "RegistryError",
    "RegistryUnavailableError",
    "RunNotFoundError",
    "SchemaVersionError",
    "ServerUnavailableError",
    "ServingError",
    "SignatureError",
    "UnsupportedModelError",
    "UntrustedModelError",
    "VersionInUseError",
    "VersionNotFoundError",
    "WorkerEnvironmentError",
]


class MaasError(Exception):
    """Base class of every error maas_nb raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message

    def __reduce__(self):
        return (type(self), (self.message,))

    def _render_traceback_(self) -> list[str]:
        # IPython calls this instead of printing a traceback: one clear line.
        return [f"{type(self).__name__}: {self.message}"]


class ConfigurationError(MaasError, ValueError):
    """A setting (home directory, trusted types, ...) is unusable."""


class MissingDependencyError(ConfigurationError, ImportError):
    """An optional dependency is not installed; the message names the pip command."""


class RegistryError(MaasError):
    """The model registry refused or failed an operation."""


class RegistryUnavailableError(RegistryError, OSError):
    """The registry home or its database cannot be opened."""


class SchemaVersionError(RegistryError):
    """The registry database was written by a newer maas_nb."""


class InvalidNameError(RegistryError, ValueError):
    """A model name, alias, version or URI is malformed or reserved."""


class InvalidMetadataError(RegistryError, ValueError):
    """Metrics, parameters, tags or lineage cannot be stored as given."""


class InvalidQueryError(RegistryError, ValueError):
    """A listing's filter (``--metric``), page size or cursor (``--after``) is malformed."""


class NotFoundError(RegistryError, LookupError):
    """Something looked up in the registry does not exist."""


class ModelNotFoundError(NotFoundError):
    """No model has this name."""


class VersionNotFoundError(NotFoundError):
    """The model exists but has no such version."""


class AliasNotFoundError(NotFoundError):
    """The model exists but has no such alias."""


class RunNotFoundError(NotFoundError):
    """No run has this id."""


class DeploymentNotFoundError(NotFoundError):
    """No deployment has this name."""


class ConflictError(RegistryError):
    """The operation conflicts with the registry's current state."""


class VersionInUseError(ConflictError):
    """A version (or model) cannot be deleted while a deployment points at it."""


class ArtifactError(MaasError):
    """A stored model artifact cannot be used."""


class ArtifactCorruptedError(ArtifactError):
    """The artifact's bytes do not match the sha256 digest recorded at registration."""


class ArtifactMissingError(ArtifactError, FileNotFoundError):
    """The artifact recorded for a version is not in the artifact store."""


class ArtifactStoreUnavailableError(ArtifactError, OSError):
    """The artifact store (an S3 bucket) cannot be reached, or refuses the credentials."""


class FlavorError(MaasError):
    """A model cannot be saved, loaded or called by its flavor."""


class UnsupportedModelError(FlavorError, TypeError):
    """No flavor knows how to store this kind of object."""


class ModelNotFittedError(FlavorError, ValueError):
    """The model has not been fitted, so there is nothing useful to register."""


class UntrustedModelError(FlavorError):
    """The artifact holds types that maas_nb's configuration does not trust, or is a pickle."""


class ModelLoadError(FlavorError):
    """The flavor's library failed to load an artifact."""


class SignatureError(MaasError, ValueError):
    """Input data disagrees with what the model expects."""


class ServingError(MaasError):
    """Deploying a model or calling a deployed model failed."""


class ServerUnavailableError(ServingError, ConnectionError):
    """The model server could not be started or reached."""


class DeploymentFailedError(ServingError):
    """The server could not load the deployed model; the message carries its reason."""


class PredictionError(ServingError, ValueError):
    """The server refused a prediction request; the message is the server's."""


class NoFittedModelError(MaasError, LookupError):
    """A ``%%maas train`` cell fitted no model that maas_nb can store (not to be confused
    with `ModelNotFoundError`: no registered model has the name asked for)."""


class PanelInputError(MaasError, ValueError):
    """What was typed or picked in the control panel (``maas_nb.ui()``) cannot be used."""


class PipelineError(MaasError):
    """A notebook pipeline (papermill run, sweep or gate) could not run as asked."""


class PipelineFailedError(PipelineError):
    """The notebook raised; the message names the cell, the exception and the run id."""


class WorkerEnvironmentError(PipelineError):
    """The workers of a distributed sweep (Ray) cannot import what the notebook needs;
    the message names the modules, the worker's Python and where to put them."""
