"""The backend: discovers features, wires services, initialises plugins in dependency order.

Built-in plugins are discovered through the same `greenroom.plugins` entry-point group as
pip-installed ones, so the public plugin API is always enough to build a feature.
"""

from __future__ import annotations

import importlib.metadata
import logging
import threading
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from greenroom.core import core_services as cs
from greenroom.core.config import CORE_CONFIG_SCHEMAS, Config, ConfigError, LoadedConfig, validate_config
from greenroom.core.plugin_api import (
    BackendFeature,
    BackendModule,
    BackendPlugin,
    ExtensionPoint,
    InitRegistration,
    ModuleRegistrationPoints,
    PluginMetadata,
    PluginRegistrationPoints,
    ServiceFactory,
    ServiceRef,
)
from greenroom.core.services.instance import InstanceMetadata, ProcessRole

ENTRY_POINT_GROUP = "greenroom.plugins"


class StartupError(Exception):
    """Startup cannot continue; the message names the plugin or module and the reason."""


@dataclass
class _PluginState:
    plugin: BackendPlugin
    points: PluginRegistrationPoints
    modules: list[tuple[BackendModule, ModuleRegistrationPoints]] = field(default_factory=list)


def discover_features(group: str = ENTRY_POINT_GROUP) -> list[BackendFeature]:
    """Load every feature advertised in the entry-point group (a feature or a list of them)."""
    features: list[BackendFeature] = []
    for entry_point in sorted(importlib.metadata.entry_points(group=group), key=lambda ep: ep.name):
        try:
            loaded = entry_point.load()
        except Exception as error:
            raise StartupError(
                f"Could not load feature '{entry_point.name}' ({entry_point.value}) from entry point group "
                f"'{group}': {type(error).__name__}: {error}"
            ) from error
        items = loaded if isinstance(loaded, list | tuple) else [loaded]
        for item in items:
            if not isinstance(item, BackendPlugin | BackendModule | ServiceFactory):
                raise StartupError(
                    f"Entry point '{entry_point.name}' ({entry_point.value}) is not a Greenroom feature: expected "
                    f"a plugin (create_plugin), module (create_module) or service factory, got {type(item).__name__}"
                )
            features.append(item)
    return features


def _feature_enabled(config: Config, feature: BackendPlugin | BackendModule) -> bool:
    if isinstance(feature, BackendPlugin):
        value = config.get_optional(f"backend.plugins.{feature.plugin_id}.enabled")
    else:
        if config.get_optional(f"backend.plugins.{feature.plugin_id}.enabled") is False:
            return False
        value = config.get_optional(
            f"backend.plugins.{feature.plugin_id}.modules.{feature.module_id}.enabled"
        )
    return value is not False


def installed_config_schemas(features: Iterable[BackendFeature]) -> dict[str, type[BaseModel]]:
    """The config schema of the core plus every installed plugin and module, by top-level key."""
    schemas: dict[str, type[BaseModel]] = dict(CORE_CONFIG_SCHEMAS)
    for feature in features:
        if isinstance(feature, BackendPlugin | BackendModule):
            for key, model in feature.config_schema.items():
                schemas.setdefault(key, model)
    return schemas


class ServiceRegistry:
    """Creates services on first use: root services once, plugin services once per plugin."""

    def __init__(self, root_instances: Mapping[ServiceRef[Any], Any]) -> None:
        self._factories: dict[str, ServiceFactory[Any]] = {}
        self._root_instances: dict[str, Any] = {ref.id: value for ref, value in root_instances.items()}
        self._plugin_instances: dict[tuple[str, str], Any] = {}
        self._root_contexts: dict[str, Any] = {}
        self._provided: dict[str, tuple[str, Any]] = {}
        self._lock = threading.RLock()
        self._resolving: list[str] = []

    def existing(self, ref: ServiceRef[Any], plugin_id: str) -> Any | None:
        """The plugin's instance of `ref` if one was created (never creates one)."""
        with self._lock:
            return self._plugin_instances.get((ref.id, plugin_id))

    def add_factory(self, factory: ServiceFactory[Any]) -> None:
        self._factories[factory.service.id] = factory

    def provide(self, ref: ServiceRef[Any], plugin_id: str, impl: Any) -> None:
        if ref.id in self._provided:
            other = self._provided[ref.id][0]
            raise StartupError(f"Plugins '{other}' and '{plugin_id}' both provide {ref}")
        self._provided[ref.id] = (plugin_id, impl)

    def provider_of(self, ref: ServiceRef[Any]) -> str | None:
        entry = self._provided.get(ref.id)
        return entry[0] if entry else None

    def factory_for(self, ref: ServiceRef[Any]) -> ServiceFactory[Any] | None:
        factory = self._factories.get(ref.id)
        if factory is None and ref.default_factory is not None:
            factory = ref.default_factory()
            self._factories[ref.id] = factory
        return factory

    def can_resolve(self, ref: ServiceRef[Any]) -> bool:
        return (
            ref.id in self._root_instances
            or ref.id in self._provided
            or ref.id == cs.plugin_metadata.id
            or self.factory_for(ref) is not None
        )

    def get(self, ref: ServiceRef[Any], plugin_id: str) -> Any:
        with self._lock:
            if ref.id == cs.plugin_metadata.id:
                return PluginMetadata(plugin_id=plugin_id)
            if ref.id in self._root_instances:
                return self._root_instances[ref.id]
            if ref.id in self._provided:
                return self._provided[ref.id][1]
            key = (ref.id, plugin_id)
            if ref.scope == "plugin" and key in self._plugin_instances:
                return self._plugin_instances[key]
            factory = self.factory_for(ref)
            if factory is None:
                raise StartupError(
                    f"No implementation of {ref} is available (requested by plugin '{plugin_id}')"
                )
            if ref.id in self._resolving:
                cycle = " -> ".join([*self._resolving[self._resolving.index(ref.id) :], ref.id])
                raise StartupError(f"Circular dependency between services: {cycle}")
            self._resolving.append(ref.id)
            try:
                if factory.service.scope == "root" or ref.scope == "root":
                    deps = {name: self.get(dep, plugin_id) for name, dep in factory.deps.items()}
                    instance = factory.factory(**deps)
                    self._root_instances[ref.id] = instance
                    return instance
                kwargs = {name: self.get(dep, plugin_id) for name, dep in factory.deps.items()}
                if factory.create_root_context is not None:
                    if ref.id not in self._root_contexts:
                        root_deps = {n: self.get(d, plugin_id) for n, d in factory.root_context_deps.items()}
                        self._root_contexts[ref.id] = factory.create_root_context(**root_deps)
                    kwargs["root_context"] = self._root_contexts[ref.id]
                instance = factory.factory(**kwargs)
                self._plugin_instances[key] = instance
                return instance
            finally:
                self._resolving.pop()


class Backend:
    """One Greenroom process: a set of features plus the services that wire them.

    `start()` validates config, resolves the plugin graph, runs migrations and inits, then
    startup hooks; `stop()` runs shutdown hooks. The HTTP app (see `greenroom.core.http.app`)
    can serve health endpoints before `start()` finishes.
    """

    def __init__(
        self,
        config: Config | LoadedConfig,
        *,
        features: Sequence[BackendFeature] | None = None,
        discover: bool = True,
        role: ProcessRole = "all",
    ) -> None:
        if isinstance(config, LoadedConfig):
            self.loaded_config: LoadedConfig | None = config
            self.config = Config.from_loaded(config)
        else:
            self.loaded_config = None
            self.config = config
        self.instance = InstanceMetadata(role=role)
        self._features: list[BackendFeature] = []
        if discover:
            self._features.extend(discover_features())
        for feature in features or []:
            self.add(feature)
        self.services = ServiceRegistry({cs.root_config: self.config, cs.instance_metadata: self.instance})
        self.plugins: dict[str, _PluginState] = {}
        self.started = False
        self.startup_seconds: float | None = None
        self._start_lock = threading.Lock()

    # ------------------------------------------------------------------ features
    def add(self, feature: BackendFeature) -> None:
        """Add a feature; a later one with the same id replaces an earlier (e.g. a discovered built-in)."""
        if isinstance(feature, ServiceFactory):
            self._features = [
                f
                for f in self._features
                if not (isinstance(f, ServiceFactory) and f.service.id == feature.service.id)
            ]
        elif isinstance(feature, BackendPlugin | BackendModule):
            self._features = [
                f
                for f in self._features
                if not (isinstance(f, type(feature)) and f.feature_id == feature.feature_id)
            ]
        self._features.append(feature)

    @property
    def features(self) -> list[BackendFeature]:
        return list(self._features)

    def enabled_features(self) -> list[BackendFeature]:
        return [
            f
            for f in self._features
            if isinstance(f, ServiceFactory) or _feature_enabled(self.config, f)  # type: ignore[arg-type]
        ]

    def config_schemas(self) -> dict[str, type[BaseModel]]:
        return installed_config_schemas(self.enabled_features())

    # ------------------------------------------------------------------ service access
    def get_service(self, ref: ServiceRef[Any], plugin_id: str = "root") -> Any:
        """Resolve a service outside any plugin init (CLI commands, tests)."""
        return self.services.get(ref, plugin_id)

    @property
    def logger(self) -> logging.Logger:
        return self.get_service(cs.root_logger)  # type: ignore[no-any-return]

    # ------------------------------------------------------------------ startup
    def validate_config(self) -> None:
        if self.loaded_config is None:
            loaded = LoadedConfig(data=self.config.to_dict(), files=[])
        else:
            loaded = self.loaded_config
        schemas = self.config_schemas()
        from greenroom.core.config import mask_secrets
        from greenroom.core.services.logging import redact_secrets, secret_values

        self.logger  # noqa: B018 - make sure the log handlers exist before telling them the secrets
        redact_secrets(secret_values(loaded.data, mask_secrets(loaded.data, schemas)))
        issues = validate_config(loaded, schemas)
        if issues:
            raise StartupError("Invalid configuration:\n" + "\n".join(f"  {issue}" for issue in issues))

    def _register(self) -> None:
        enabled = self.enabled_features()
        for feature in enabled:
            if isinstance(feature, ServiceFactory):
                self.services.add_factory(feature)
        for feature in enabled:
            if isinstance(feature, BackendPlugin):
                if feature.plugin_id in self.plugins:
                    raise StartupError(f"Plugin '{feature.plugin_id}' is installed twice")
                points = PluginRegistrationPoints(feature.plugin_id)
                try:
                    feature.register(points)
                except Exception as error:
                    raise StartupError(f"Plugin '{feature.plugin_id}' failed to register: {error}") from error
                if not points.inits:
                    raise StartupError(f"Plugin '{feature.plugin_id}' did not call register_init")
                self.plugins[feature.plugin_id] = _PluginState(feature, points)
                for ref, impl in points.provided_services.items():
                    self.services.provide(ref, feature.plugin_id, impl)
        for feature in enabled:
            if isinstance(feature, BackendModule):
                state = self.plugins.get(feature.plugin_id)
                if state is None:
                    raise StartupError(
                        f"Module '{feature.module_id}' extends plugin '{feature.plugin_id}', which is not installed "
                        "or is disabled"
                    )
                module_points = ModuleRegistrationPoints(feature.plugin_id, feature.module_id)
                try:
                    feature.register(module_points)
                except Exception as error:
                    raise StartupError(
                        f"Module '{feature.module_id}' of plugin '{feature.plugin_id}' failed to register: {error}"
                    ) from error
                state.modules.append((feature, module_points))

    def _check_dependencies(
        self, owner: str, plugin_id: str, registration: InitRegistration, *, module: bool
    ) -> None:
        state = self.plugins[plugin_id]
        for name, dep in registration.deps.items():
            if isinstance(dep, ExtensionPoint):
                if not module:
                    raise StartupError(
                        f"{owner} depends on {dep}; extension points are for modules of the plugin that offers them"
                    )
                if dep not in state.points.extension_points:
                    offered_by = [
                        pid for pid, other in self.plugins.items() if dep in other.points.extension_points
                    ]
                    where = (
                        f"it is offered by plugin '{offered_by[0]}', and modules can only extend their own plugin"
                        if offered_by
                        else f"plugin '{plugin_id}' does not offer it"
                    )
                    raise StartupError(f"{owner} depends on {dep} (as '{name}'), but {where}")
            elif isinstance(dep, ServiceRef):
                if not self.services.can_resolve(dep):
                    raise StartupError(
                        f"{owner} depends on {dep} (as '{name}'), which no installed plugin provides and which has "
                        "no service factory — install the plugin that provides it or add a factory"
                    )
            else:
                raise StartupError(
                    f"{owner} has a dependency '{name}' that is neither a service ref nor an extension point"
                )

    def _plugin_order(self) -> list[str]:
        """Order plugins so that every plugin starts after the plugins whose services it uses."""
        edges: dict[str, set[str]] = {pid: set() for pid in self.plugins}
        for pid, state in self.plugins.items():
            registrations = [*state.points.inits, *(r for _, mp in state.modules for r in mp.inits)]
            for registration in registrations:
                for dep in registration.deps.values():
                    if isinstance(dep, ServiceRef):
                        provider = self.services.provider_of(dep)
                        if provider and provider != pid:
                            edges[pid].add(provider)
        order: list[str] = []
        visiting: list[str] = []
        done: set[str] = set()

        def visit(pid: str) -> None:
            if pid in done:
                return
            if pid in visiting:
                cycle = [*visiting[visiting.index(pid) :], pid]
                raise StartupError(
                    "Circular dependency between plugins: "
                    + " -> ".join(f"'{p}'" for p in cycle)
                    + " (each uses a service the next one provides)"
                )
            visiting.append(pid)
            for dependency in sorted(edges[pid]):
                visit(dependency)
            visiting.pop()
            done.add(pid)
            order.append(pid)

        for pid in sorted(edges):
            visit(pid)
        return order

    def _run_init(self, owner: str, plugin_id: str, registration: InitRegistration) -> None:
        state = self.plugins[plugin_id]
        try:
            kwargs = {
                name: (
                    state.points.extension_points[dep]
                    if isinstance(dep, ExtensionPoint)
                    else self.services.get(dep, plugin_id)
                )
                for name, dep in registration.deps.items()
            }
        except StartupError as error:
            raise StartupError(f"{owner} could not get its dependencies: {error}") from error
        try:
            registration.init(**kwargs)
        except StartupError:
            raise
        except Exception as error:
            raise StartupError(f"{owner} failed to initialize: {type(error).__name__}: {error}") from error

    def migrate(self, plugin_ids: Sequence[str] | None = None) -> dict[str, list[str]]:
        """Apply every (or the named) plugins' migrations under the database lock."""
        applied: dict[str, list[str]] = {}
        for pid, state in self.plugins.items():
            if plugin_ids is not None and pid not in plugin_ids:
                continue
            if state.plugin.migrations_dir is None:
                continue
            database = self.services.get(cs.database, pid)
            try:
                applied[pid] = database.migrate(state.plugin.migrations_dir)
            except Exception as error:
                raise StartupError(
                    f"Plugin '{pid}' failed to apply its database migrations: {error}"
                ) from error
        return applied

    def prepare(self) -> None:
        """Register features and check the wiring without running any init (used by CLI commands)."""
        if self.plugins:
            return
        self._register()
        for pid, state in self.plugins.items():
            for module, module_points in state.modules:
                for registration in module_points.inits:
                    self._check_dependencies(
                        f"Module '{module.module_id}' of plugin '{pid}'", pid, registration, module=True
                    )
            for registration in state.points.inits:
                self._check_dependencies(f"Plugin '{pid}'", pid, registration, module=False)

    def start(self) -> None:
        """Validate, wire, migrate and initialise everything; raises StartupError naming the culprit."""
        with self._start_lock:
            if self.started:
                return
            began = time.perf_counter()
            health = self.get_service(cs.health)
            try:
                self.validate_config()
                self.prepare()
                order = self._plugin_order()
                skip_migrations = bool(self.config.get_optional("backend.database.skipMigrations"))
                if not skip_migrations:
                    self.migrate()
                for pid in order:
                    state = self.plugins[pid]
                    for module, module_points in state.modules:
                        for registration in module_points.inits:
                            self._run_init(
                                f"Module '{module.module_id}' of plugin '{pid}'", pid, registration
                            )
                    for registration in state.points.inits:
                        self._run_init(f"Plugin '{pid}'", pid, registration)
                lifecycle = self.get_service(cs.root_lifecycle)
                try:
                    lifecycle.startup()
                except Exception as error:
                    raise StartupError(f"A startup hook failed: {type(error).__name__}: {error}") from error
            except StartupError as error:
                health.set_failed(str(error))
                self.logger.error("Startup failed: %s", error)
                self.stop()
                raise
            except ConfigError as error:
                health.set_failed(str(error))
                self.stop()
                raise StartupError(str(error)) from error
            self.started = True
            self.startup_seconds = time.perf_counter() - began
            self._on_started()
            health.set_ready()
            self.logger.info(
                "Greenroom started in %.2fs with plugins: %s",
                self.startup_seconds,
                ", ".join(order) or "(none)",
            )

    def _on_started(self) -> None:
        """Hook for the HTTP layer to mount routes once plugins have registered them."""
        for callback in self._started_callbacks:
            callback()

    @property
    def _started_callbacks(self) -> list[Any]:
        if not hasattr(self, "_callbacks"):
            self._callbacks: list[Any] = []
        return self._callbacks

    def on_started(self, callback: Any) -> None:
        self._started_callbacks.append(callback)

    def stop(self) -> None:
        """Stop background work and close connections; safe to call more than once."""
        health = self.get_service(cs.health)
        if health.state != "failed":
            health.set_stopping()
        lifecycle = self.get_service(cs.root_lifecycle)
        lifecycle.shutdown()

    def installed_features(self) -> list[tuple[str, str, str, str, str]]:
        """(feature_id, kind, title, description, plugin_id) of every enabled plugin and module."""
        rows = []
        for feature in self.enabled_features():
            if isinstance(feature, BackendPlugin):
                rows.append(
                    (feature.plugin_id, "plugin", feature.title, feature.description, feature.plugin_id)
                )
            elif isinstance(feature, BackendModule):
                rows.append(
                    (feature.feature_id, "module", feature.module_id, feature.description, feature.plugin_id)
                )
        return rows
