"""Config schemas: how plugins declare their config, and the core's own keys.

A plugin declares `{top_level_key: PydanticModel}`. Pydantic gives us validation and a JSON
Schema for free; visibility (`secret`, `frontend`) rides along as a JSON Schema keyword, the way
Backstage's `@visibility` tag does, so masking and frontend filtering can work off the schema.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from datetime import timedelta
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, WithJsonSchema
from pydantic.alias_generators import to_camel
from pydantic.json_schema import models_json_schema
from pydantic_core import PydanticCustomError, PydanticUndefined

from greenroom.core.config.duration import DURATION_EXPECTATION, DURATION_OBJECT_KEYS, parse_duration
from greenroom.core.config.errors import ConfigError

JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"
MEBIBYTE = 1024 * 1024


def _visibility_field(visibility: str, default: Any, deep: bool, kwargs: dict[str, Any]) -> Any:
    extra = dict(kwargs.pop("json_schema_extra", None) or {})
    extra["deepVisibility" if deep else "visibility"] = visibility
    return Field(default, json_schema_extra=extra, **kwargs)


def secret_field(default: Any = PydanticUndefined, *, deep: bool = False, **kwargs: Any) -> Any:
    """A field whose value is masked in logs and `config print`; `deep` also covers its descendants."""
    return _visibility_field("secret", default, deep, kwargs)


def frontend_field(default: Any = PydanticUndefined, *, deep: bool = False, **kwargs: Any) -> Any:
    """A field the frontend may see; everything else stays on the backend."""
    return _visibility_field("frontend", default, deep, kwargs)


class ConfigModel(BaseModel):
    """Base for config schemas: camelCase keys as in Backstage, and unknown keys tolerated.

    Unknown keys are allowed because one app-config is shared by many plugins and older
    Backstage deployments carry keys we do not model.
    """

    model_config = ConfigDict(extra="allow", populate_by_name=True, alias_generator=to_camel)


def _coerce_duration(value: Any) -> timedelta:
    try:
        return parse_duration(value)
    except ConfigError:
        raise PydanticCustomError("duration_parsing", DURATION_EXPECTATION) from None


_DURATION_JSON_SCHEMA: dict[str, Any] = {
    "description": "ISO 8601 ('PT30S'), human ('30s', '2 days'), seconds, or {hours: 1}-style object",
    "anyOf": [
        {"type": "string"},
        {"type": "number", "minimum": 0},
        {
            "type": "object",
            "properties": {unit: {"type": "number"} for unit in DURATION_OBJECT_KEYS},
            "additionalProperties": False,
        },
    ],
}

Duration = Annotated[timedelta, BeforeValidator(_coerce_duration), WithJsonSchema(_DURATION_JSON_SCHEMA)]
"""A config duration in any shape `parse_duration` accepts, validated into a `timedelta`."""


def config_json_schema(schemas: Mapping[str, type[BaseModel]]) -> dict[str, Any]:
    """One JSON Schema (draft 2020-12) covering every declared top-level key, for tooling and docs."""
    models = list(dict.fromkeys(schemas.values()))
    refs, definitions = models_json_schema(
        [(model, "validation") for model in models], ref_template="#/$defs/{model}"
    )
    combined: dict[str, Any] = {
        "$schema": JSON_SCHEMA_DIALECT,
        "type": "object",
        "properties": {key: copy.deepcopy(refs[(model, "validation")]) for key, model in schemas.items()},
        "additionalProperties": True,
    }
    if definitions.get("$defs"):
        combined["$defs"] = definitions["$defs"]
    return combined


# --- the core's own config --------------------------------------------------------------------


class AppSection(ConfigModel):
    title: str = frontend_field("Greenroom")
    base_url: str = frontend_field("http://127.0.0.1:7007")


class OrganizationSection(ConfigModel):
    name: str = frontend_field("Acme")


class ListenConfig(ConfigModel):
    host: str = "127.0.0.1"
    port: int = Field(default=7007, ge=0, le=65535)


DatabaseClient = Literal["sqlite", "better-sqlite3", "sqlite3", "pg", "postgres", "postgresql"]


class DatabaseConnection(ConfigModel):
    """Object form of a connection: host/port/... for pg, `directory` for per-plugin sqlite files."""

    host: str | None = None
    port: int | None = Field(default=None, ge=0, le=65535)
    user: str | None = None
    password: str | None = secret_field(None)
    database: str | None = None
    directory: str | None = None
    filename: str | None = Field(default=None, description="sqlite: the file name inside `directory`")


class PluginDatabaseConfig(ConfigModel):
    client: DatabaseClient | None = None
    connection: str | DatabaseConnection | None = secret_field(None)
    prefix: str | None = None


class DatabaseConfig(ConfigModel):
    client: DatabaseClient = "sqlite"
    # Secret as a whole because the string form is often a URL with the password inside it.
    connection: str | DatabaseConnection | None = secret_field(
        None,
        description="pg: a URL or {host, port, user, password, database}; "
        "sqlite: ':memory:', a file path or {directory}",
    )
    prefix: str = "greenroom_"
    plugin_division_mode: Literal["schema"] = Field(
        default="schema", description="pg: one schema per plugin in the configured database (the only mode)"
    )
    plugin: dict[str, PluginDatabaseConfig] = Field(default_factory=dict)
    skip_migrations: bool = Field(default=False, description="Do not apply migrations at startup")


class CacheConfig(ConfigModel):
    store: Literal["memory", "redis"] = "memory"
    connection: str | None = secret_field(None, description="e.g. redis://:password@host:6379")
    default_ttl: Duration | None = None


class ReadingAllowRule(ConfigModel):
    host: str
    paths: list[str] | None = None


class ReadingConfig(ConfigModel):
    roots: list[str] = Field(default_factory=list, description="Local directories file reads may access")
    allow: list[ReadingAllowRule] = Field(default_factory=list)
    max_bytes: int = Field(default=20 * MEBIBYTE, gt=0)
    timeout: float = Field(default=30.0, gt=0, description="Seconds before an HTTP read gives up")


class ModuleToggle(ConfigModel):
    enabled: bool = True


class PluginToggle(ConfigModel):
    enabled: bool = True
    modules: dict[str, ModuleToggle] = Field(default_factory=dict)


class LoggingConfig(ConfigModel):
    level: Literal["debug", "info", "warn", "warning", "error", "critical"] = "info"
    format: Literal["json", "pretty", "auto"] = "auto"


class CorsConfig(ConfigModel):
    origin: str | list[str] | None = None
    methods: str | list[str] | None = None
    allowed_headers: str | list[str] | None = None
    exposed_headers: str | list[str] | None = None
    credentials: bool | None = None
    max_age: int | None = None


class BackendSection(ConfigModel):
    base_url: str = frontend_field("http://127.0.0.1:7007")
    listen: ListenConfig = Field(default_factory=ListenConfig)
    data_dir: str = "./data"
    database: DatabaseConfig = Field(default_factory=DatabaseConfig)
    cache: CacheConfig = Field(default_factory=CacheConfig)
    reading: ReadingConfig = Field(default_factory=ReadingConfig)
    request_size_limit: int = Field(default=10 * MEBIBYTE, gt=0)
    plugins: dict[str, PluginToggle] = Field(default_factory=dict)
    logging: LoggingConfig = Field(default_factory=LoggingConfig)
    cors: CorsConfig | None = None


class GithubIntegration(ConfigModel):
    host: str
    api_base_url: str | None = None
    raw_base_url: str | None = None
    token: str | None = secret_field(None)


class GitlabIntegration(ConfigModel):
    host: str
    base_url: str | None = None
    api_base_url: str | None = None
    token: str | None = secret_field(None)


_USER_REF = re.compile(r"^user:([^:/\s]+/)?[^:/\s]+$", re.IGNORECASE)


def _check_user_ref(value: str) -> str:
    if not _USER_REF.match(value):
        raise PydanticCustomError("user_ref", "expected a user entity ref such as user:default/guest")
    return value


class GuestProvider(ConfigModel):
    user_entity_ref: Annotated[
        str,
        AfterValidator(_check_user_ref),
        Field(description="The user every request is served as, e.g. user:default/guest"),
    ] = "user:default/guest"


class AuthProviders(ConfigModel):
    guest: GuestProvider = Field(default_factory=GuestProvider)


class AuthSection(ConfigModel):
    providers: AuthProviders = Field(default_factory=AuthProviders)


class IntegrationsSection(ConfigModel):
    github: list[GithubIntegration] = Field(default_factory=list)
    gitlab: list[GitlabIntegration] = Field(default_factory=list)


CORE_CONFIG_SCHEMAS: dict[str, type[BaseModel]] = {
    "app": AppSection,
    "organization": OrganizationSection,
    "backend": BackendSection,
    "integrations": IntegrationsSection,
    "auth": AuthSection,
}
