"""The catalog's public service for other plugins (search, scaffolder, UI pages).

Other plugins depend on `catalog_service_ref`, never on catalog internals; in one process the
calls are direct, and the interface leaves room for an HTTP client in a split deployment.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import orjson

from greenroom.core.errors import ServiceUnavailableError
from greenroom.core.plugin_api import ServiceRef, create_service_ref

if TYPE_CHECKING:
    from greenroom.plugins.catalog.service import CatalogService


class CatalogApi:
    """Read access to the catalog for other plugins; usable once the catalog has initialised."""

    def __init__(self) -> None:
        self._service: CatalogService | None = None

    def bind(self, service: CatalogService) -> None:
        self._service = service

    @property
    def service(self) -> CatalogService:
        if self._service is None:
            raise ServiceUnavailableError("The catalog has not started yet")
        return self._service

    def get_entity_by_ref(self, ref: str) -> dict[str, Any] | None:
        return self.service.query.entity_json_by_ref(ref)

    def get_entities_by_refs(self, refs: Sequence[str]) -> list[dict[str, Any] | None]:
        return [
            None if raw is None else orjson.loads(raw) for raw in self.service.query.entities_by_refs(refs)
        ]


catalog_service_ref: ServiceRef[CatalogApi] = create_service_ref("catalog.api", "root")
