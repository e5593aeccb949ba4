"""The metadata stores every registry test runs against: SQLite, and a real PostgreSQL."""

from __future__ import annotations

import pytest


@pytest.fixture(params=["sqlite", "postgresql"])
def metadata_store(request, home) -> str:
    """The scheme of the registry's metadata store; PostgreSQL's is set in the environment."""
    if request.param == "postgresql":
        request.getfixturevalue("postgres_uri")
    return request.param
