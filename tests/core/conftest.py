"""Fixtures shared by the core database and scheduler tests."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_config(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, Any]:
    """A `backend.database` config for each real database; PG schemas are dropped afterwards."""
    if request.param == "sqlite":
        return {"client": "better-sqlite3", "connection": {"directory": str(tmp_path / "db")}}
    prefix = request.getfixturevalue("pg_schema_prefix")
    return {"client": "pg", "connection": request.getfixturevalue("pg_url"), "prefix": prefix}
