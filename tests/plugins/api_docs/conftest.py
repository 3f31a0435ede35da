"""A real catalog backend with the api-docs plugin, and helpers to register API entities."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greenroom.core.testing import TestBackend, start_test_backend
from greenroom.plugins.api_docs.plugin import plugin as api_docs_plugin
from greenroom.plugins.catalog.client import catalog_service_ref
from greenroom.plugins.catalog.plugin import plugin as catalog_plugin
from greenroom.plugins.user_settings.plugin import plugin as user_settings_plugin

KINDS = ["Component", "API", "Resource", "System", "Domain", "Group", "User", "Location", "Template"]


@dataclass
class Portal:
    backend: TestBackend
    root: Path

    @property
    def client(self) -> TestClient:
        return self.backend.client

    def write(self, relative: str, content: str) -> Path:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
        return path

    def register(self, path: Path) -> None:
        response = self.client.post("/api/catalog/locations", json={"type": "file", "target": str(path)})
        assert response.status_code == 201, response.text
        self.backend.backend.get_service(catalog_service_ref).service.engine.settle(timeout=60)

    def add_api(
        self,
        name: str,
        spec_type: str,
        definition: str,
        *,
        lifecycle: str = "production",
        owner: str = "team-a",
    ) -> None:
        """Register an API whose definition is read from a file with $text."""
        ext = {"graphql": "graphql", "grpc": "proto"}.get(spec_type, "yaml")
        self.write(f"{name}/definition.{ext}", definition)
        descriptor = f"""\
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: {name}
spec:
  type: {spec_type}
  lifecycle: {lifecycle}
  owner: {owner}
  definition:
    $text: ./definition.{ext}
"""
        self.register(self.write(f"{name}/catalog-info.yaml", descriptor))


def start_portal(tmp_path: Path, extra_plugins: tuple[object, ...] = ()) -> Iterator[Portal]:
    root = tmp_path / "repo"
    root.mkdir()
    config = {
        "backend": {"reading": {"roots": [str(root)]}},
        "catalog": {"rules": [{"allow": KINDS}], "processingInterval": {"minutes": 10}},
    }
    features = [catalog_plugin, user_settings_plugin, api_docs_plugin, *extra_plugins]
    with start_test_backend(features, config=config, data_dir=tmp_path / "data") as backend:  # type: ignore[arg-type]
        yield Portal(backend, root)


@pytest.fixture
def portal(tmp_path: Path) -> Iterator[Portal]:
    yield from start_portal(tmp_path)
