"""A real catalog backend (SQLite or PostgreSQL) with helpers to write descriptor files."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from greenroom.core import core_services as cs
from greenroom.core.services.events import EventRecorder
from greenroom.core.testing import TestBackend, start_test_backend
from greenroom.plugins.catalog.client import catalog_service_ref
from greenroom.plugins.catalog.plugin import plugin as catalog_plugin
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.user_settings.plugin import plugin as user_settings_plugin

ALL_KINDS = ["Component", "API", "Resource", "System", "Domain", "Group", "User", "Location", "Template"]


@dataclass
class CatalogHarness:
    backend: TestBackend
    root: Path

    @property
    def client(self) -> TestClient:
        return self.backend.client

    @property
    def service(self) -> CatalogService:
        return self.backend.backend.get_service(catalog_service_ref).service

    def write(self, relative: str, content: str | bytes) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(textwrap.dedent(content).lstrip())
        return path

    def register(self, path: Path, expect: int = 201) -> dict[str, Any]:
        response = self.client.post("/api/catalog/locations", json={"type": "file", "target": str(path)})
        assert response.status_code == expect, response.text
        return response.json()

    def settle(self) -> None:
        self.service.engine.settle(timeout=60)

    def entity(self, ref: str) -> dict[str, Any] | None:
        kind, _, rest = ref.partition(":")
        namespace, _, name = rest.partition("/")
        response = self.client.get(f"/api/catalog/entities/by-name/{kind}/{namespace}/{name}")
        if response.status_code == 404:
            return None
        assert response.status_code == 200, response.text
        return response.json()

    def recorder(self, topic: str) -> EventRecorder:
        return EventRecorder(self.backend.backend.get_service(cs.events), topic)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def _start(
    request: pytest.FixtureRequest, db_kind: str, tmp_path: Path, catalog_config: dict[str, Any]
) -> Iterator[CatalogHarness]:
    root = tmp_path / "repo"
    root.mkdir()
    database = None
    prefix = "greenroom_"
    if db_kind == "postgres":
        database = request.getfixturevalue("pg_url")
        prefix = request.getfixturevalue("pg_schema_prefix")
    config = {
        "backend": {"reading": {"roots": [str(root)], "allow": [{"host": "example.com"}]}},
        "catalog": {"rules": [{"allow": ALL_KINDS}], "processingInterval": {"minutes": 10}, **catalog_config},
    }
    with start_test_backend(
        [catalog_plugin, user_settings_plugin],
        config=config,
        data_dir=tmp_path / "data",
        database=database,
        schema_prefix=prefix,
    ) as backend:
        yield CatalogHarness(backend, root)


@pytest.fixture
def catalog(request: pytest.FixtureRequest, db_kind: str, tmp_path: Path) -> Iterator[CatalogHarness]:
    overrides = getattr(request, "param", None) or {}
    yield from _start(request, db_kind, tmp_path, overrides)


@pytest.fixture
def catalog_keep(request: pytest.FixtureRequest, db_kind: str, tmp_path: Path) -> Iterator[CatalogHarness]:
    yield from _start(request, db_kind, tmp_path, {"orphanStrategy": "keep"})


@pytest.fixture
def catalog_readonly(
    request: pytest.FixtureRequest, db_kind: str, tmp_path: Path
) -> Iterator[CatalogHarness]:
    yield from _start(request, db_kind, tmp_path, {"readonly": True})


COMPONENT = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: {name}
  description: {description}
spec:
  type: service
  lifecycle: production
  owner: {owner}
"""


def component(name: str, owner: str = "team-a", description: str = "A service") -> str:
    return COMPONENT.format(name=name, owner=owner, description=description)
