"""A real catalog backend with the catalog-graph plugin, and helpers to write descriptor files."""

from __future__ import annotations

import textwrap
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from greenroom.core.testing import TestBackend, start_test_backend
from greenroom.plugins.catalog.client import catalog_service_ref
from greenroom.plugins.catalog.plugin import plugin as catalog_plugin
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.catalog_graph.plugin import plugin as catalog_graph_plugin
from greenroom.plugins.user_settings.plugin import plugin as user_settings_plugin

ALL_KINDS = ["Component", "API", "Resource", "System", "Domain", "Group", "User", "Location", "Template"]


@dataclass
class GraphHarness:
    backend: TestBackend
    root: Path

    @property
    def client(self) -> TestClient:
        return self.backend.client

    @property
    def service(self) -> CatalogService:
        return self.backend.backend.get_service(catalog_service_ref).service

    def load(self, documents: str, name: str = "catalog-info.yaml") -> None:
        """Register a multi-document YAML file and wait until it is processed and stitched."""
        path = self.root / name
        path.write_text(textwrap.dedent(documents).lstrip())
        response = self.client.post("/api/catalog/locations", json={"type": "file", "target": str(path)})
        assert response.status_code == 201, response.text
        self.service.engine.settle(timeout=60)


@pytest.fixture
def harness(tmp_path: Path) -> Iterator[GraphHarness]:
    root = tmp_path / "repo"
    root.mkdir()
    config = {
        "backend": {"reading": {"roots": [str(root)]}},
        "catalog": {"rules": [{"allow": ALL_KINDS}], "processingInterval": {"minutes": 10}},
    }
    with start_test_backend(
        [catalog_plugin, user_settings_plugin, catalog_graph_plugin],
        config=config,
        data_dir=tmp_path / "data",
    ) as backend:
        yield GraphHarness(backend, root)


def entity(
    kind: str, name: str, spec: str = "", title: str | None = None, description: str | None = None
) -> str:
    """One YAML document; `spec` is the indented body of `spec:` (may be empty)."""
    meta = [f"  name: {name}"]
    if title is not None:
        meta.append(f"  title: {title}")
    if description is not None:
        meta.append(f"  description: {description}")
    body = textwrap.indent(textwrap.dedent(spec).strip(), "  ") if spec.strip() else "  {}"
    return "\n".join(
        ["---", "apiVersion: backstage.io/v1alpha1", f"kind: {kind}", "metadata:", *meta, "spec:", body, ""]
    )
