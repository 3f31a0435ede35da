"""The software catalog plugin: wired only through Greenroom's public plugin API."""

from __future__ import annotations

import logging
from pathlib import Path

from greenroom.core import core_services as cs
from greenroom.core.config import Config
from greenroom.core.db import PluginDatabase
from greenroom.core.plugin_api import PluginRegistrationPoints, create_plugin
from greenroom.core.services.events import EventsService
from greenroom.core.services.http_router import HttpRouterService
from greenroom.core.services.instance import InstanceMetadata
from greenroom.core.services.lifecycle import LifecycleService
from greenroom.core.services.url_reader import UrlReader
from greenroom.core.services.web import WebService
from greenroom.plugins.catalog.client import CatalogApi, catalog_service_ref
from greenroom.plugins.catalog.config import CatalogConfig
from greenroom.plugins.catalog.extension_points import (
    CatalogModelExtensions,
    CatalogProcessingExtensions,
    catalog_model_extension_point,
    catalog_processing_extension_point,
)
from greenroom.plugins.catalog.router import create_router
from greenroom.plugins.catalog.service import CatalogService
from greenroom.plugins.catalog.ui import UiContext, install_ui
from greenroom.plugins.catalog.ui.registry import (
    EntityPageRegistry,
    catalog_entity_page_extension_point,
    entity_page_service_ref,
)
from greenroom.plugins.user_settings.client import UserSettingsApi, user_settings_service_ref

MIGRATIONS = Path(__file__).parent / "migrations"


def register(env: PluginRegistrationPoints) -> None:
    processing = CatalogProcessingExtensions()
    model = CatalogModelExtensions()
    api = CatalogApi()
    entity_page = EntityPageRegistry()
    env.register_extension_point(catalog_processing_extension_point, processing)
    env.register_extension_point(catalog_model_extension_point, model)
    env.register_extension_point(catalog_entity_page_extension_point, entity_page)
    env.provide_service(catalog_service_ref, api)
    env.provide_service(entity_page_service_ref, entity_page)

    def init(
        config: Config,
        logger: logging.Logger,
        database: PluginDatabase,
        url_reader: UrlReader,
        events: EventsService,
        http_router: HttpRouterService,
        lifecycle: LifecycleService,
        instance: InstanceMetadata,
        web: WebService,
        user_settings: UserSettingsApi,
    ) -> None:
        catalog_config = CatalogConfig.model_validate(config.get_optional("catalog") or {})
        service = CatalogService(
            engine=database.engine,
            config=catalog_config,
            reader=url_reader,
            events=events,
            logger=logger,
            kinds=model.kinds,
            processors=processing.processors,
            providers=processing.providers,
            placeholder_resolvers=processing.placeholder_resolvers,
            base_dir=Path.cwd(),
            run_background_work=instance.runs_background_work,
        )
        api.bind(service)
        if instance.serves_http:
            http_router.use(create_router(service))
            install_ui(
                UiContext(
                    web=web, catalog=service, registry=entity_page, user_settings=user_settings, logger=logger
                )
            )
        lifecycle.add_startup_hook(service.start, label="catalog")
        lifecycle.add_shutdown_hook(service.stop, label="catalog")

    env.register_init(
        deps={
            "config": cs.root_config,
            "logger": cs.logger,
            "database": cs.database,
            "url_reader": cs.url_reader,
            "events": cs.events,
            "http_router": cs.http_router,
            "lifecycle": cs.lifecycle,
            "instance": cs.instance_metadata,
            "web": cs.web,
            "user_settings": user_settings_service_ref,
        },
        init=init,
    )


plugin = create_plugin(
    "catalog",
    register,
    title="Software Catalog",
    description="Every component, API, resource, system, domain, group and user, with owners and relations; "
    "Backstage-compatible REST API at /api/catalog.",
    config_schema={"catalog": CatalogConfig},
    migrations_dir=MIGRATIONS,
)
