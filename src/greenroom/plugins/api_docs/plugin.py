"""The api-docs plugin: /api-docs explorer, the "Definition" tab of API entities and raw downloads."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import quote

from markupsafe import Markup

from greenroom.core import core_services as cs
from greenroom.core.plugin_api import PluginRegistrationPoints, create_plugin
from greenroom.core.services.instance import InstanceMetadata
from greenroom.core.services.web import WebService
from greenroom.plugins.api_docs.router import DefinitionRenderer, create_page_router
from greenroom.plugins.catalog.client import CatalogApi, catalog_service_ref
from greenroom.plugins.catalog.ui.registry import (
    EntityContext,
    EntityPageRegistry,
    EntityTab,
    entity_page_service_ref,
    is_kind,
)

TEMPLATES = Path(__file__).parent / "templates"


def register(env: PluginRegistrationPoints) -> None:
    def init(
        web: WebService,
        catalog: CatalogApi,
        entity_page: EntityPageRegistry,
        instance: InstanceMetadata,
    ) -> None:
        if not instance.serves_http:
            return
        web.add_template_dir(TEMPLATES)
        renderer = DefinitionRenderer(web)

        def definition_tab(ctx: EntityContext) -> Markup:
            metadata = ctx.metadata
            namespace = str(metadata.get("namespace") or "default").lower()
            page_href = (
                f"/api-docs/{quote(namespace, safe='')}/{quote(str(metadata.get('name', '')), safe='')}"
            )
            return renderer.render(ctx.entity, ctx.request, page_href=page_href)

        entity_page.add_tab(
            EntityTab(
                id="definition",
                title="Definition",
                render=definition_tab,
                predicate=is_kind("API"),
                order=20,
                plugin_id="api-docs",
            )
        )
        web.add_page_router(create_page_router(web, catalog, renderer))
        web.add_nav_item("APIs", "/api-docs", icon="api", order=20)

    env.register_init(
        deps={
            "web": cs.web,
            "catalog": catalog_service_ref,
            "entity_page": entity_page_service_ref,
            "instance": cs.instance_metadata,
        },
        init=init,
    )


plugin = create_plugin(
    "api-docs",
    register,
    title="API Docs",
    description="Browse every API in the catalog and read its OpenAPI, AsyncAPI, GraphQL or gRPC definition.",
)
