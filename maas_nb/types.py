"""Type aliases shared across maas_nb."""

from __future__ import annotations

from typing import Any

#: A model reference: ``"iris"``, ``"iris:3"``, ``"iris@production"``.
ModelURI = str

#: A hex sha256 digest of an artifact's bytes, prefixed ``"sha256:"``.
Digest = str

#: A value that survives ``json.dumps``/``json.loads`` unchanged.
JSON = dict[str, Any] | list[Any] | str | int | float | bool | None
JSONDict = dict[str, Any]
