"""The public plugin API: plugins, modules, extension points, service refs and factories.

Everything a plugin (built-in or pip-installed) needs to wire itself into a Greenroom backend is
here. The shape follows Backstage's backend system: a *plugin* registers one init with the
services it depends on and may offer *extension points*; a *module* extends exactly one plugin
through that plugin's extension points and initialises before it; *services* are created by
factories with root (one per process) or plugin (one per plugin) scope and can be overridden.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel

T = TypeVar("T")

ServiceScope = Literal["root", "plugin"]
_ID_PATTERN = re.compile(r"^[a-z][a-z0-9]*(?:[-_][a-z0-9]+)*$")


def _check_id(kind: str, value: str) -> str:
    if not _ID_PATTERN.match(value):
        raise ValueError(
            f"Invalid {kind} '{value}': expected lower-case letters, digits and single '-' or '_' "
            "separators, starting with a letter (e.g. 'catalog', 'my-plugin')"
        )
    return value


@dataclass(frozen=True)
class ServiceRef(Generic[T]):
    """A typed handle naming a service; depending on it is how a plugin asks for the service."""

    id: str
    scope: ServiceScope = "plugin"
    default_factory: Callable[[], ServiceFactory[T]] | None = field(
        default=None, compare=False, hash=False, repr=False
    )

    def __str__(self) -> str:
        return f"service '{self.id}'"


def create_service_ref(
    id: str,
    scope: ServiceScope = "plugin",
    default_factory: Callable[[], ServiceFactory[T]] | None = None,
) -> ServiceRef[T]:
    """Declare a service; `default_factory` is used when nothing overrides it."""
    return ServiceRef(id=id, scope=scope, default_factory=default_factory)


@dataclass(frozen=True)
class ServiceFactory(Generic[T]):
    """How to build a service.

    `factory` is called with the resolved `deps` as keyword arguments. For plugin-scoped
    services it is called once per plugin, and `create_root_context` (root deps only) once per
    process; its result is passed to `factory` as the `root_context` keyword.
    """

    service: ServiceRef[T]
    factory: Callable[..., T]
    deps: Mapping[str, ServiceRef[Any]] = field(default_factory=dict)
    create_root_context: Callable[..., Any] | None = None
    root_context_deps: Mapping[str, ServiceRef[Any]] = field(default_factory=dict)


def create_service_factory(
    service: ServiceRef[T],
    factory: Callable[..., T],
    deps: Mapping[str, ServiceRef[Any]] | None = None,
    create_root_context: Callable[..., Any] | None = None,
    root_context_deps: Mapping[str, ServiceRef[Any]] | None = None,
) -> ServiceFactory[T]:
    """Build a factory for `service`; register it with the backend to override the default."""
    return ServiceFactory(
        service=service,
        factory=factory,
        deps=dict(deps or {}),
        create_root_context=create_root_context,
        root_context_deps=dict(root_context_deps or {}),
    )


@dataclass(frozen=True)
class ExtensionPoint(Generic[T]):
    """A typed handle to something a plugin lets its modules extend (add processors, actions...)."""

    id: str

    def __str__(self) -> str:
        return f"extension point '{self.id}'"


def create_extension_point(id: str) -> ExtensionPoint[Any]:
    """Declare an extension point; the owning plugin registers its implementation."""
    return ExtensionPoint(id=id)


Dependency = ServiceRef[Any] | ExtensionPoint[Any]


@dataclass
class InitRegistration:
    """One `register_init` call: what it needs and the function that uses it."""

    deps: dict[str, Dependency]
    init: Callable[..., None]


class PluginRegistrationPoints:
    """What a plugin's `register` callback receives."""

    def __init__(self, plugin_id: str) -> None:
        self.plugin_id = plugin_id
        self.extension_points: dict[ExtensionPoint[Any], Any] = {}
        self.provided_services: dict[ServiceRef[Any], Any] = {}
        self.inits: list[InitRegistration] = []

    def register_extension_point(self, ref: ExtensionPoint[T], impl: T) -> None:
        """Offer `impl` to this plugin's modules under `ref`."""
        if ref in self.extension_points:
            raise ValueError(f"Plugin '{self.plugin_id}' registered {ref} twice")
        self.extension_points[ref] = impl

    def provide_service(self, ref: ServiceRef[T], impl: T) -> None:
        """Offer `impl` to other plugins under `ref`; they initialise after this plugin."""
        if ref.scope != "root":
            raise ValueError(f"Plugin '{self.plugin_id}' can only provide root-scoped services ({ref})")
        self.provided_services[ref] = impl

    def register_init(self, deps: Mapping[str, Dependency], init: Callable[..., None]) -> None:
        """Register the function run at startup, called with `deps` resolved as keyword arguments."""
        if self.inits:
            raise ValueError(f"Plugin '{self.plugin_id}' called register_init more than once")
        self.inits.append(InitRegistration(deps=dict(deps), init=init))


class ModuleRegistrationPoints:
    """What a module's `register` callback receives."""

    def __init__(self, plugin_id: str, module_id: str) -> None:
        self.plugin_id = plugin_id
        self.module_id = module_id
        self.inits: list[InitRegistration] = []

    def register_init(self, deps: Mapping[str, Dependency], init: Callable[..., None]) -> None:
        """Register the module's init; deps may be services or extension points of its plugin."""
        if self.inits:
            raise ValueError(
                f"Module '{self.module_id}' of plugin '{self.plugin_id}' called register_init more than once"
            )
        self.inits.append(InitRegistration(deps=dict(deps), init=init))


@dataclass(frozen=True)
class BackendPlugin:
    """A feature: owns routes, tables, config and extension points; mounted at /api/<plugin_id>."""

    plugin_id: str
    register: Callable[[PluginRegistrationPoints], None]
    title: str = ""
    description: str = ""
    config_schema: Mapping[str, type[BaseModel]] = field(default_factory=dict)
    migrations_dir: Path | None = None

    @property
    def feature_id(self) -> str:
        return self.plugin_id


@dataclass(frozen=True)
class BackendModule:
    """An addition to one plugin, wired through that plugin's extension points."""

    plugin_id: str
    module_id: str
    register: Callable[[ModuleRegistrationPoints], None]
    description: str = ""
    config_schema: Mapping[str, type[BaseModel]] = field(default_factory=dict)

    @property
    def feature_id(self) -> str:
        return f"{self.plugin_id}.{self.module_id}"


BackendFeature = BackendPlugin | BackendModule | ServiceFactory[Any]


def create_plugin(
    plugin_id: str,
    register: Callable[[PluginRegistrationPoints], None],
    *,
    title: str = "",
    description: str = "",
    config_schema: Mapping[str, type[BaseModel]] | None = None,
    migrations_dir: Path | None = None,
) -> BackendPlugin:
    """Define a plugin.

    `config_schema` maps top-level config keys to the Pydantic models that validate them;
    `migrations_dir` holds the plugin's own Alembic history, applied at startup under a lock.
    """
    return BackendPlugin(
        plugin_id=_check_id("plugin id", plugin_id),
        register=register,
        title=title or plugin_id.replace("-", " ").title(),
        description=description,
        config_schema=dict(config_schema or {}),
        migrations_dir=migrations_dir,
    )


def create_module(
    plugin_id: str,
    module_id: str,
    register: Callable[[ModuleRegistrationPoints], None],
    *,
    description: str = "",
    config_schema: Mapping[str, type[BaseModel]] | None = None,
) -> BackendModule:
    """Define a module that extends the plugin `plugin_id`."""
    return BackendModule(
        plugin_id=_check_id("plugin id", plugin_id),
        module_id=_check_id("module id", module_id),
        register=register,
        description=description,
        config_schema=dict(config_schema or {}),
    )


@dataclass(frozen=True)
class PluginMetadata:
    """Who is asking: passed to plugin-scoped service factories."""

    plugin_id: str


def __getattr__(name: str) -> Any:
    # `core_services` lives in its own module (it names every default factory); exposing it
    # here lazily keeps one import for plugin authors without an import cycle.
    if name == "core_services":
        from greenroom.core.core_services import core_services

        return core_services
    raise AttributeError(name)
