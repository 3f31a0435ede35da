"""What modules can extend in the catalog: processors, providers, placeholder resolvers, kinds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from greenroom.core.plugin_api import ExtensionPoint, create_extension_point
from greenroom.plugins.catalog.model import KindRegistry, RelationRule
from greenroom.plugins.catalog.processing.processors import Resolver
from greenroom.plugins.catalog.processing.types import CatalogProcessor, EntityProvider


@dataclass
class CatalogProcessingExtensions:
    """Collected during module init; the catalog reads it when it starts."""

    processors: list[CatalogProcessor] = field(default_factory=list)
    providers: list[EntityProvider] = field(default_factory=list)
    placeholder_resolvers: dict[str, Resolver] = field(default_factory=dict)

    def add_processor(self, *processors: CatalogProcessor) -> None:
        self.processors.extend(processors)

    def add_entity_provider(self, *providers: EntityProvider) -> None:
        self.providers.extend(providers)

    def add_placeholder_resolver(self, key: str, resolver: Resolver) -> None:
        """`key` is the single `$`-prefixed key, e.g. `$openapi`."""
        if not key.startswith("$"):
            raise ValueError(f"Placeholder keys start with '$', got '{key}'")
        self.placeholder_resolvers[key] = resolver


@dataclass
class CatalogModelExtensions:
    """Custom kinds: a JSON schema per kind and the relations its spec fields produce."""

    kinds: KindRegistry = field(default_factory=KindRegistry.default)

    def add_kind(
        self,
        kind: str,
        *,
        api_versions: Sequence[str],
        schema: dict[str, Any],
        relation_rules: Sequence[RelationRule] = (),
    ) -> None:
        self.kinds.register(kind, api_versions, schema, relation_rules)


catalog_processing_extension_point: ExtensionPoint[CatalogProcessingExtensions] = create_extension_point(
    "catalog.processing"
)
catalog_model_extension_point: ExtensionPoint[CatalogModelExtensions] = create_extension_point(
    "catalog.model"
)
