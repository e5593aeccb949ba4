"""Settings read from the environment: the registry home, its store URIs, the trusted types."""

from __future__ import annotations

import contextlib
import getpass
import os
import re
import socket
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

from .exceptions import ConfigurationError

HOME_ENV = "MAAS_HOME"
REGISTRY_URI_ENV = "MAAS_REGISTRY_URI"
ARTIFACTS_URI_ENV = "MAAS_ARTIFACTS_URI"
#: The names of the database and of the artifacts directory in the home, by default.
DATABASE = "registry.db"
ARTIFACTS = "artifacts"
TRUSTED_TYPES_ENV = "MAAS_TRUSTED_TYPES"
USER_ENV = "MAAS_USER"
#: The Ray cluster of ``--executor ray`` (else ``$RAY_ADDRESS``, else a local cluster).
RAY_ADDRESS_ENV = "MAAS_RAY_ADDRESS"
SERVER_NAME_ENV = "MAAS_SERVER_NAME"

# An exact dotted name such as ``mypkg.models.MyClassifier``: no patterns, no spaces.
#: A dotted Python name (``mypkg.models.MyClassifier``), or a Keras registered name
#: (``package>Name``, what ``@keras.saving.register_keras_serializable`` records).
_TYPE_NAME = re.compile(
    r"[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+|[A-Za-z_][A-Za-z0-9_.]*>[A-Za-z_][A-Za-z0-9_]*"
)


def home_dir(home: str | os.PathLike[str] | None = None) -> Path:
    """Return the registry home: *home*, else ``$MAAS_HOME``, else ``~/.maas``."""
    if home is None:
        home = os.environ.get(HOME_ENV) or Path.home() / ".maas"
    return Path(home).expanduser().absolute()


def registry_uri(home: Path, uri: str | None = None) -> tuple[str, str]:
    """The metadata store's URI and where it came from: *uri*, else ``$MAAS_REGISTRY_URI``,
    else `default_registry_uri`."""
    return _uri(uri, "registry_uri", REGISTRY_URI_ENV, default_registry_uri(home))


def artifacts_uri(home: Path, uri: str | None = None) -> tuple[str, str]:
    """The artifact store's URI and where it came from: *uri*, else ``$MAAS_ARTIFACTS_URI``,
    else `default_artifacts_uri`."""
    return _uri(uri, "artifacts_uri", ARTIFACTS_URI_ENV, default_artifacts_uri(home))


def default_registry_uri(home: Path) -> str:
    """The SQLite database in *home*: ``sqlite:///<home>/registry.db``."""
    return f"sqlite:///{home / DATABASE}"


def default_artifacts_uri(home: Path) -> str:
    """The artifacts directory in *home*: ``file://<home>/artifacts``."""
    return (home / ARTIFACTS).as_uri()


def _uri(given: str | None, argument: str, env: str, default: str) -> tuple[str, str]:
    if given is not None:
        return given, argument
    # An empty variable means the default (`Registry.environment` passes one so).
    if os.environ.get(env):
        return os.environ[env], env
    return default, "the default"


@contextlib.contextmanager
def environment(settings: Mapping[str, str]) -> Iterator[None]:
    """Set *settings* (such as `Registry.environment`) in ``os.environ`` for a block, then
    restore what was there."""
    saved = {key: os.environ.get(key) for key in settings}
    os.environ.update(settings)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


def env_trusted_types() -> tuple[str, ...]:
    """The exact type names listed in ``$MAAS_TRUSTED_TYPES`` (comma-separated)."""
    listed = [t.strip() for t in os.environ.get(TRUSTED_TYPES_ENV, "").split(",")]
    return checked_type_names((t for t in listed if t), source=TRUSTED_TYPES_ENV)


def trusted_types(extra: Iterable[str] | None = None) -> tuple[str, ...]:
    """The type names a person trusts: ``$MAAS_TRUSTED_TYPES``, then *extra*."""
    explicit = checked_type_names(extra or (), source="trusted_types")
    return tuple(dict.fromkeys([*env_trusted_types(), *explicit]))


def checked_type_names(names: Iterable[str], *, source: str) -> tuple[str, ...]:
    """*names*, each an exact dotted name; wildcards and anything else are refused."""
    if isinstance(names, str):
        names = [names]
    out = []
    for name in names:
        if not isinstance(name, str) or not _TYPE_NAME.fullmatch(name):
            hint = (
                "Wildcards are not accepted: a pattern would trust whatever a module re-exports."
                if isinstance(name, str) and any(c in name for c in "*?[")
                else "Expected a fully qualified name such as 'mypkg.models.MyClassifier' "
                "(or a Keras registered name such as 'mypkg>MyLayer')."
            )
            raise ConfigurationError(
                f"{source} got {name!r}, which is not an exact type name. {hint} List "
                "each type by its full name, e.g. trusted_types=['mypkg.models.MyClassifier'] "
                f"or {TRUSTED_TYPES_ENV}=mypkg.models.MyClassifier,mypkg.models.Other."
            )
        out.append(name)
    return tuple(out)


def user() -> str:
    """Who is making records: ``$MAAS_USER``, else the OS user ('unknown' if neither)."""
    name = os.environ.get(USER_ENV, "").strip()
    if name:
        return name
    try:
        return getpass.getuser()
    except (OSError, KeyError):  # no USER/LOGNAME and no passwd entry (some containers)
        return "unknown"


def given_stores(options: Mapping[str, str | None]) -> dict[str, str]:
    """The environment that hands the store URIs given as *options* (``registry_uri``,
    ``artifacts_uri``; None where not given) on to the processes a command starts."""
    names = {"registry_uri": REGISTRY_URI_ENV, "artifacts_uri": ARTIFACTS_URI_ENV}
    return {env: str(options[key]) for key, env in names.items() if options.get(key)}


def server_name(name: str | None = None) -> str:
    """The name of a model server: *name*, else ``$MAAS_SERVER_NAME``, else
    ``<user>-<hostname>`` (one per person and machine, made of the characters a
    deployment name may hold). The server serves the deployments that name it."""
    if name is None:
        name = os.environ.get(SERVER_NAME_ENV, "").strip()
    if name:
        return name
    made = re.sub(r"[^A-Za-z0-9_.-]+", "-", f"{user()}-{socket.gethostname()}")
    return made.strip("-._")[:128] or "server"
