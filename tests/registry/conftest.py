"""The pairs of stores every registry test runs against: the embedded default (SQLite and
the local folder) and the team's (a real PostgreSQL and a real S3 server, moto)."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite+file", "postgresql+s3"])
def stores(request, home, monkeypatch) -> str:
    """``METADATA+ARTIFACTS``; the team's pair is set in the environment
    (``MAAS_REGISTRY_URI``, ``MAAS_ARTIFACTS_URI``), as a team member would set it."""
    metadata, artifacts = request.param.split("+")
    if metadata == "postgresql":
        request.getfixturevalue("postgres_uri")
    if artifacts == "s3":
        monkeypatch.setenv("MAAS_ARTIFACTS_URI", request.getfixturevalue("s3_uri"))
    return request.param
