"""The core services every plugin can depend on, each with its default factory.

A plugin asks for a service by listing its ref in `register_init(deps=...)`. Deployments and
tests replace a default by adding their own `ServiceFactory` for the same ref to the backend.
Implementations are imported inside the factories so that importing this module stays cheap.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from greenroom.core.plugin_api import (
    PluginMetadata,
    ServiceFactory,
    ServiceRef,
    create_service_factory,
    create_service_ref,
)

if TYPE_CHECKING:
    from greenroom.core.config import Config
    from greenroom.core.db import DatabaseManager, PluginDatabase
    from greenroom.core.services.cache import CacheManager, CacheService
    from greenroom.core.services.discovery import DiscoveryService
    from greenroom.core.services.events import EventsService
    from greenroom.core.services.health import HealthService
    from greenroom.core.services.http_router import HttpRouterService, RootHttpRouter
    from greenroom.core.services.identity import IdentityService
    from greenroom.core.services.instance import InstanceMetadata
    from greenroom.core.services.lifecycle import LifecycleService, RootLifecycle
    from greenroom.core.services.metrics import MetricsService, RootMetrics
    from greenroom.core.services.scheduler import SchedulerService
    from greenroom.core.services.url_reader import UrlReader
    from greenroom.core.services.web import WebService
    from greenroom.core.web.shell import WebShell


def _lazy(build: Any) -> Any:
    """Wrap a factory builder so the ref can name it before its module is importable."""
    return build


# ---------------------------------------------------------------- root services
# The backend itself supplies these three; they have no factory of their own.
root_config: ServiceRef[Config] = create_service_ref("core.rootConfig", "root")
instance_metadata: ServiceRef[InstanceMetadata] = create_service_ref("core.instanceMetadata", "root")
plugin_metadata: ServiceRef[PluginMetadata] = create_service_ref("core.pluginMetadata", "plugin")


def _root_logger_factory() -> ServiceFactory[logging.Logger]:
    from greenroom.core.services.logging import create_root_logger

    return create_service_factory(
        root_logger, lambda config: create_root_logger(config), deps={"config": root_config}
    )


root_logger: ServiceRef[logging.Logger] = create_service_ref(
    "core.rootLogger", "root", _lazy(_root_logger_factory)
)


def _logger_factory() -> ServiceFactory[logging.Logger]:
    return create_service_factory(
        logger,
        lambda root, plugin: root.getChild(plugin.plugin_id),
        deps={"root": root_logger, "plugin": plugin_metadata},
    )


logger: ServiceRef[logging.Logger] = create_service_ref("core.logger", "plugin", _lazy(_logger_factory))


def _root_lifecycle_factory() -> ServiceFactory[RootLifecycle]:
    from greenroom.core.services.lifecycle import RootLifecycle

    return create_service_factory(root_lifecycle, lambda log: RootLifecycle(log), deps={"log": root_logger})


root_lifecycle: ServiceRef[RootLifecycle] = create_service_ref(
    "core.rootLifecycle", "root", _lazy(_root_lifecycle_factory)
)


def _lifecycle_factory() -> ServiceFactory[LifecycleService]:
    from greenroom.core.services.lifecycle import LifecycleService

    return create_service_factory(
        lifecycle,
        lambda root, plugin: LifecycleService(root, plugin.plugin_id),
        deps={"root": root_lifecycle, "plugin": plugin_metadata},
    )


lifecycle: ServiceRef[LifecycleService] = create_service_ref(
    "core.lifecycle", "plugin", _lazy(_lifecycle_factory)
)


def _root_database_factory() -> ServiceFactory[DatabaseManager]:
    from greenroom.core.db import DatabaseManager

    def build(config: Config, lifecycle: RootLifecycle) -> DatabaseManager:
        data_dir = Path(config.get_optional_string("backend.dataDir") or "./data")
        manager = DatabaseManager(config.get_optional("backend.database") or {}, data_dir=data_dir)
        lifecycle.add_shutdown_hook(manager.close, label="database")
        return manager

    return create_service_factory(
        root_database, build, deps={"config": root_config, "lifecycle": root_lifecycle}
    )


root_database: ServiceRef[DatabaseManager] = create_service_ref(
    "core.rootDatabase", "root", _lazy(_root_database_factory)
)


def _database_factory() -> ServiceFactory[PluginDatabase]:
    return create_service_factory(
        database,
        lambda manager, plugin: manager.for_plugin(plugin.plugin_id),
        deps={"manager": root_database, "plugin": plugin_metadata},
    )


database: ServiceRef[PluginDatabase] = create_service_ref("core.database", "plugin", _lazy(_database_factory))


def _root_cache_factory() -> ServiceFactory[CacheManager]:
    from greenroom.core.services.cache import CacheManager

    def build(config: Config, lifecycle: RootLifecycle) -> CacheManager:
        manager = CacheManager(config.get_optional("backend.cache") or {})
        lifecycle.add_shutdown_hook(manager.close, label="cache")
        return manager

    return create_service_factory(
        root_cache, build, deps={"config": root_config, "lifecycle": root_lifecycle}
    )


root_cache: ServiceRef[CacheManager] = create_service_ref(
    "core.rootCache", "root", _lazy(_root_cache_factory)
)


def _cache_factory() -> ServiceFactory[CacheService]:
    return create_service_factory(
        cache,
        lambda manager, plugin: manager.for_plugin(plugin.plugin_id),
        deps={"manager": root_cache, "plugin": plugin_metadata},
    )


cache: ServiceRef[CacheService] = create_service_ref("core.cache", "plugin", _lazy(_cache_factory))


def _scheduler_factory() -> ServiceFactory[SchedulerService]:
    from greenroom.core.services.scheduler import SchedulerService

    def build(
        db: PluginDatabase, log: logging.Logger, plugin: PluginMetadata, lifecycle: RootLifecycle
    ) -> SchedulerService:
        service = SchedulerService(db, plugin_id=plugin.plugin_id, logger=log.getChild("scheduler"))
        lifecycle.add_startup_hook(service.start, label=f"scheduler:{plugin.plugin_id}")
        lifecycle.add_shutdown_hook(service.stop, label=f"scheduler:{plugin.plugin_id}")
        return service

    return create_service_factory(
        scheduler,
        build,
        deps={"db": database, "log": logger, "plugin": plugin_metadata, "lifecycle": root_lifecycle},
    )


scheduler: ServiceRef[SchedulerService] = create_service_ref(
    "core.scheduler", "plugin", _lazy(_scheduler_factory)
)


def _url_reader_factory() -> ServiceFactory[UrlReader]:
    from greenroom.core.services.url_reader import UrlReader

    return create_service_factory(
        url_reader,
        lambda config: UrlReader(
            config.get_optional("backend.reading") or {}, config.get_optional("integrations") or {}
        ),
        deps={"config": root_config},
    )


url_reader: ServiceRef[UrlReader] = create_service_ref("core.urlReader", "root", _lazy(_url_reader_factory))


def _events_factory() -> ServiceFactory[EventsService]:
    from greenroom.core.services.events import EventsService

    return create_service_factory(events, lambda: EventsService())


events: ServiceRef[EventsService] = create_service_ref("core.events", "root", _lazy(_events_factory))


def _discovery_factory() -> ServiceFactory[DiscoveryService]:
    from greenroom.core.services.discovery import DiscoveryService

    return create_service_factory(
        discovery, lambda config: DiscoveryService.from_config(config), deps={"config": root_config}
    )


discovery: ServiceRef[DiscoveryService] = create_service_ref(
    "core.discovery", "root", _lazy(_discovery_factory)
)


def _identity_factory() -> ServiceFactory[IdentityService]:
    from greenroom.core.services.identity import IdentityService

    return create_service_factory(
        identity, lambda config: IdentityService.from_config(config), deps={"config": root_config}
    )


identity: ServiceRef[IdentityService] = create_service_ref("core.identity", "root", _lazy(_identity_factory))


def _health_factory() -> ServiceFactory[HealthService]:
    from greenroom.core.services.health import HealthService

    return create_service_factory(health, lambda: HealthService())


health: ServiceRef[HealthService] = create_service_ref("core.health", "root", _lazy(_health_factory))


def _root_metrics_factory() -> ServiceFactory[RootMetrics]:
    from greenroom.core.services.metrics import RootMetrics

    return create_service_factory(root_metrics, lambda: RootMetrics())


root_metrics: ServiceRef[RootMetrics] = create_service_ref(
    "core.rootMetrics", "root", _lazy(_root_metrics_factory)
)


def _metrics_factory() -> ServiceFactory[MetricsService]:
    from greenroom.core.services.metrics import MetricsService

    return create_service_factory(
        metrics,
        lambda root, plugin: MetricsService(root, plugin.plugin_id),
        deps={"root": root_metrics, "plugin": plugin_metadata},
    )


metrics: ServiceRef[MetricsService] = create_service_ref("core.metrics", "plugin", _lazy(_metrics_factory))


def _root_http_router_factory() -> ServiceFactory[RootHttpRouter]:
    from greenroom.core.services.http_router import RootHttpRouter

    return create_service_factory(root_http_router, lambda: RootHttpRouter())


root_http_router: ServiceRef[RootHttpRouter] = create_service_ref(
    "core.rootHttpRouter", "root", _lazy(_root_http_router_factory)
)


def _http_router_factory() -> ServiceFactory[HttpRouterService]:
    from greenroom.core.services.http_router import HttpRouterService

    return create_service_factory(
        http_router,
        lambda root, plugin: HttpRouterService(root, plugin.plugin_id),
        deps={"root": root_http_router, "plugin": plugin_metadata},
    )


http_router: ServiceRef[HttpRouterService] = create_service_ref(
    "core.httpRouter", "plugin", _lazy(_http_router_factory)
)


def _web_shell_factory() -> ServiceFactory[WebShell]:
    from greenroom import __version__
    from greenroom.core.web.shell import WebShell

    return create_service_factory(
        web_shell,
        lambda config: WebShell(
            app_title=config.get_optional_string("app.title") or "Greenroom",
            organization=config.get_optional_string("organization.name") or "Acme",
            base_url=config.get_optional_string("app.baseUrl") or "http://127.0.0.1:7007",
            version=__version__,
        ),
        deps={"config": root_config},
    )


web_shell: ServiceRef[WebShell] = create_service_ref("core.webShell", "root", _lazy(_web_shell_factory))


def _web_factory() -> ServiceFactory[WebService]:
    from greenroom.core.services.web import WebService

    return create_service_factory(
        web,
        lambda shell, plugin: WebService(shell, plugin.plugin_id),
        deps={"shell": web_shell, "plugin": plugin_metadata},
    )


web: ServiceRef[WebService] = create_service_ref("core.web", "plugin", _lazy(_web_factory))


class core_services:
    """Every core service ref, as one namespace: `core_services.logger`, `core_services.database`, ..."""

    root_config = root_config
    config = root_config
    instance_metadata = instance_metadata
    plugin_metadata = plugin_metadata
    root_logger = root_logger
    logger = logger
    root_lifecycle = root_lifecycle
    lifecycle = lifecycle
    root_database = root_database
    database = database
    root_cache = root_cache
    cache = cache
    scheduler = scheduler
    url_reader = url_reader
    events = events
    discovery = discovery
    identity = identity
    health = health
    root_metrics = root_metrics
    metrics = metrics
    root_http_router = root_http_router
    http_router = http_router
    web_shell = web_shell
    web = web
