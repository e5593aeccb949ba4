"""Model URIs (``iris``, ``iris:3``, ``iris@production``) and name validation."""

from __future__ import annotations

import re
from dataclasses import dataclass

from ..exceptions import InvalidNameError

NAME_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*")
MAX_NAME_LENGTH = 128
MAX_ALIAS_LENGTH = 64

#: An alias that always means the highest version; it cannot be set or removed.
LATEST = "latest"
#: Versions are SQLite INTEGERs, which are 64-bit signed.
MAX_VERSION = 2**63 - 1
# ASCII digits only: str.isdigit() accepts '²', which int() then refuses.
_DIGITS = re.compile(r"[0-9]+")

_ALLOWED = "letters, digits, '_', '.' and '-', starting with a letter or digit"


def validate_name(name: object, *, kind: str = "model name") -> str:
    """Return *name* if it is a valid model (or run/deployment) name, else raise."""
    return _validate(name, kind=kind, max_length=MAX_NAME_LENGTH)


def validate_alias(alias: object) -> str:
    """Return *alias* if it may be set on a version, else raise."""
    alias = _validate(alias, kind="alias", max_length=MAX_ALIAS_LENGTH)
    if alias == LATEST:
        raise InvalidNameError(
            f"Alias {LATEST!r} is reserved: it always resolves to the highest version. "
            "Choose another alias, such as 'production' or 'candidate'."
        )
    if alias.isdigit():
        raise InvalidNameError(
            f"Alias {alias!r} is a number, which reads like a version. Use a name such as "
            f"'v{alias}', or refer to the version directly as 'NAME:{alias}'."
        )
    return alias


def _validate(value: object, *, kind: str, max_length: int) -> str:
    if not isinstance(value, str):
        raise InvalidNameError(
            f"{kind.capitalize()} must be a string, got {type(value).__name__}: {value!r}."
        )
    if not value:
        raise InvalidNameError(f"{kind.capitalize()} cannot be empty; use {_ALLOWED}.")
    if len(value) > max_length:
        raise InvalidNameError(
            f"{kind.capitalize()} {value[:20]!r}... is {len(value)} characters long; "
            f"the limit is {max_length}."
        )
    if not NAME_PATTERN.fullmatch(value):
        raise InvalidNameError(f"Invalid {kind} {value!r}: use {_ALLOWED}.")
    return value


@dataclass(frozen=True)
class ModelRef:
    """A parsed model URI: a name and at most one of a version or an alias.

    With neither, the reference means the highest version (``latest``).
    """

    name: str
    version: int | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, uri: object) -> ModelRef:
        """Parse ``NAME``, ``NAME:VERSION``, ``NAME@ALIAS`` or ``NAME:latest``."""
        if isinstance(uri, ModelRef):
            return uri
        if not isinstance(uri, str):
            raise InvalidNameError(
                f"A model URI must be a string such as 'iris', 'iris:3' or 'iris@production', "
                f"got {type(uri).__name__}: {uri!r}."
            )
        name, sep_alias, alias = uri.partition("@")
        name, sep_version, version = name.partition(":")
        if sep_alias and sep_version:
            raise InvalidNameError(
                f"Model URI {uri!r} names both a version and an alias; use 'NAME:VERSION' "
                "or 'NAME@ALIAS'."
            )
        validate_name(name)
        if sep_alias:
            _validate(alias, kind="alias", max_length=MAX_ALIAS_LENGTH)
            return cls(name) if alias == LATEST else cls(name, alias=alias)
        if sep_version:
            if version == LATEST:
                return cls(name)
            if not _DIGITS.fullmatch(version) or not version.strip("0"):
                raise InvalidNameError(
                    f"Invalid version {version[:40]!r} in model URI {uri[:80]!r}: a version is a "
                    "positive integer (or 'latest'), as in 'iris:3'."
                )
            # Compare the length first: int() refuses strings over 4300 digits.
            if len(version.lstrip("0")) > len(str(MAX_VERSION)) or int(version) > MAX_VERSION:
                raise InvalidNameError(
                    f"Version {version[:40]} in model URI {uri[:80]!r} is out of range: versions "
                    f"go up to {MAX_VERSION}. Check the number, or use 'NAME:latest'."
                )
            return cls(name, version=int(version))
        return cls(name)

    def __str__(self) -> str:
        if self.version is not None:
            return f"{self.name}:{self.version}"
        if self.alias is not None:
            return f"{self.name}@{self.alias}"
        return self.name
