"""Config schemas: validation messages, secret masking, frontend filtering and the JSON Schema."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest
from pydantic import BaseModel, ConfigDict, Field

from greenroom.core.config import (
    CORE_CONFIG_SCHEMAS,
    ConfigError,
    ConfigIssue,
    ConfigModel,
    Duration,
    LoadedConfig,
    check_config,
    config_json_schema,
    frontend_field,
    frontend_visible,
    load_config,
    mask_secrets,
    secret_field,
    validate_config,
)


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return path


def load(tmp_path: Path, *documents: str) -> LoadedConfig:
    paths = [write(tmp_path, f"config-{index}.yaml", text) for index, text in enumerate(documents)]
    return load_config(paths, cwd=tmp_path, env={})


class Credential(ConfigModel):
    name: str
    password: str = secret_field()


class ServiceConfig(ConfigModel):
    base_url: str = frontend_field("http://svc")
    api_key: str | None = secret_field(None)
    credentials: list[Credential] = Field(default_factory=list)
    tokens: dict[str, str] = secret_field(default_factory=dict, deep=True)
    mode: str = "fast"
    timeout: Duration = timedelta(seconds=10)


class PlainSchema(BaseModel):
    """A schema not built on ConfigModel, as a third-party plugin might write it."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)

    level: int
    secretish: str = Field("x", json_schema_extra={"visibility": "secret"})


SCHEMAS = {"service": ServiceConfig, "plain": PlainSchema}


# --- validation ------------------------------------------------------------------------------


def test_core_defaults_are_valid_for_an_empty_config(tmp_path: Path) -> None:
    assert validate_config(load(tmp_path, "{}"), CORE_CONFIG_SCHEMAS) == []
    backend = CORE_CONFIG_SCHEMAS["backend"].model_validate({})
    assert backend.model_dump(by_alias=True)["listen"] == {"host": "127.0.0.1", "port": 7007}
    assert backend.model_dump(by_alias=True)["database"]["client"] == "sqlite"
    assert CORE_CONFIG_SCHEMAS["app"].model_validate({}).model_dump(by_alias=True) == {
        "title": "Greenroom",
        "baseUrl": "http://127.0.0.1:7007",
    }


def test_bad_value_is_attributed_to_the_file_that_set_it(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "backend:\n  listen: {port: 7007, host: h}\n",
        "backend:\n  listen: {port: abc}\n",
    )
    issues = validate_config(loaded, CORE_CONFIG_SCHEMAS)
    assert issues == [ConfigIssue("config-1.yaml", "backend.listen.port", "expected an integer, found 'abc'")]
    assert str(issues[0]) == "config-1.yaml: backend.listen.port: expected an integer, found 'abc'"


def test_the_guest_user_must_be_a_user_entity_ref(tmp_path: Path) -> None:
    for good in ("user:default/guest", "User:jane", "user:team-ns/jane.doe"):
        loaded = load(tmp_path, f"auth:\n  providers:\n    guest: {{userEntityRef: '{good}'}}\n")
        assert validate_config(loaded, CORE_CONFIG_SCHEMAS) == [], good
    for bad in ("not a ref!!", "group:default/team-a", "guest", "user:"):
        loaded = load(tmp_path, f"auth:\n  providers:\n    guest: {{userEntityRef: '{bad}'}}\n")
        issues = validate_config(loaded, CORE_CONFIG_SCHEMAS)
        assert [(i.path, i.message) for i in issues] == [
            (
                "auth.providers.guest.userEntityRef",
                f"expected a user entity ref such as user:default/guest, found '{bad}'",
            )
        ], bad


def test_readable_messages_for_enums_unions_bounds_durations_and_missing(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        """
        backend:
          listen: {port: 70000}
          database: {client: mysql, connection: {port: nope}}
          cache: {defaultTtl: 5 parsecs}
          cors: {origin: 5}
          reading: {allow: [{host: ok.example}, {paths: [/x]}]}
          plugins: {catalog: {enabled: maybe}}
        integrations:
          github: [{host: github.com, token: 12345}]
        """,
    )
    rendered = [str(issue) for issue in validate_config(loaded, CORE_CONFIG_SCHEMAS)]
    assert sorted(rendered) == sorted(
        [
            "config-0.yaml: backend.listen.port: expected a number at most 65535, found 70000",
            "config-0.yaml: backend.database.client: expected one of 'sqlite', 'better-sqlite3', 'sqlite3', "
            "'pg', 'postgres' or 'postgresql', found 'mysql'",
            # Secret values never show up in messages.
            "config-0.yaml: backend.database.connection.port: expected an integer, found <secret>",
            "config-0.yaml: backend.cache.defaultTtl: expected an ISO 8601 duration (e.g. 'PT30S', 'P1D'), "
            "a human duration (e.g. '500ms', '30s', '5m', '2 days'), a number of seconds, or an object with "
            "any of the keys years, months, weeks, days, hours, minutes, seconds, milliseconds, "
            "found '5 parsecs'",
            "config-0.yaml: backend.cors.origin: expected a string or a list, found 5",
            "config-0.yaml: backend.reading.allow[1].host: missing required value",
            "config-0.yaml: backend.plugins.catalog.enabled: "
            "expected a boolean (true or false), found 'maybe'",
            "config-0.yaml: integrations.github[0].token: expected a string, found <secret>",
        ]
    )


def test_absent_section_validates_as_empty_and_unknown_keys_are_fine(tmp_path: Path) -> None:
    loaded = load(tmp_path, "unrelated: {anything: [1, 2]}\nservice: {extraKey: 1}\n")
    issues = validate_config(loaded, SCHEMAS)
    assert [str(issue) for issue in issues] == ["plain.level: missing required value"]


def test_section_that_is_not_an_object(tmp_path: Path) -> None:
    loaded = load(tmp_path, "service: [1]\nplain: {level: 1}\n")
    assert [str(issue) for issue in validate_config(loaded, SCHEMAS)] == [
        "config-0.yaml: service: expected an object, found a list"
    ]


def test_nested_missing_required_value_is_attributed_to_nearest_file(tmp_path: Path) -> None:
    loaded = load(
        tmp_path,
        "plain: {level: 1}\nservice:\n  credentials: [{name: a, password: p}]\n",
        "service:\n  credentials: [{name: b}]\n",
    )
    assert [str(issue) for issue in validate_config(loaded, SCHEMAS)] == [
        "config-1.yaml: service.credentials[0].password: missing required value"
    ]


def test_check_config_raises_with_every_issue(tmp_path: Path) -> None:
    loaded = load(tmp_path, "backend: {listen: {port: abc}, requestSizeLimit: -1}\n")
    with pytest.raises(ConfigError) as raised:
        check_config(loaded, CORE_CONFIG_SCHEMAS)
    assert len(raised.value.issues) == 2
    assert str(raised.value).splitlines() == [
        "Configuration is invalid (2 problems):",
        "  - config-0.yaml: backend.listen.port: expected an integer, found 'abc'",
        "  - config-0.yaml: backend.requestSizeLimit: expected a number greater than 0, found -1",
    ]
    check_config(load(tmp_path, "backend: {listen: {port: '7008'}}\n"), CORE_CONFIG_SCHEMAS)


def test_env_override_errors_are_attributed_to_the_variable(tmp_path: Path) -> None:
    write(tmp_path, "app-config.yaml", "backend: {listen: {port: 7007}}\n")
    loaded = load_config(cwd=tmp_path, env={"APP_CONFIG_backend_listen_port": "oops"})
    assert [str(issue) for issue in validate_config(loaded, CORE_CONFIG_SCHEMAS)] == [
        "env:APP_CONFIG_backend_listen_port: backend.listen.port: expected an integer, found 'oops'"
    ]


# --- masking and frontend filtering ------------------------------------------------------------


def test_mask_secrets_nested_arrays_deep_and_dict_values() -> None:
    data = {
        "service": {
            "baseUrl": "http://svc",
            "apiKey": "k",
            "credentials": [{"name": "a", "password": "p1"}, {"name": "b", "password": "p2", "extra": 1}],
            "tokens": {"github": "gh", "gitlab": "gl"},
            "mode": "slow",
        },
        "plain": {"level": 3, "secretish": "hide"},
        "other": {"password": "not declared, so not masked"},
    }
    masked = mask_secrets(data, SCHEMAS)
    assert masked == {
        "service": {
            "baseUrl": "http://svc",
            "apiKey": "<secret>",
            "credentials": [
                {"name": "a", "password": "<secret>"},
                {"name": "b", "password": "<secret>", "extra": 1},
            ],
            "tokens": "<secret>",
            "mode": "slow",
        },
        "plain": {"level": 3, "secretish": "<secret>"},
        "other": {"password": "not declared, so not masked"},
    }
    assert data["service"]["apiKey"] == "k", "the input must not be modified"


def test_mask_secrets_in_core_schema() -> None:
    data = {
        "backend": {
            "database": {
                "client": "pg",
                "connection": "postgresql://u:pw@h/db",
                "plugin": {"catalog": {"connection": {"password": "x", "host": "h"}}},
            },
            "cache": {"store": "redis", "connection": "redis://:pw@h"},
        },
        "integrations": {
            "github": [{"host": "github.com", "token": "t"}],
            "gitlab": [{"host": "g", "token": "u"}],
        },
    }
    masked = mask_secrets(data, CORE_CONFIG_SCHEMAS)
    assert masked["backend"]["database"]["connection"] == "<secret>"
    assert masked["backend"]["database"]["plugin"]["catalog"]["connection"] == "<secret>"
    assert masked["backend"]["database"]["client"] == "pg"
    assert masked["backend"]["cache"] == {"store": "redis", "connection": "<secret>"}
    assert masked["integrations"]["github"] == [{"host": "github.com", "token": "<secret>"}]
    assert masked["integrations"]["gitlab"] == [{"host": "g", "token": "<secret>"}]


def test_frontend_visible_keeps_only_frontend_values() -> None:
    data = {
        "app": {"title": "Portal", "baseUrl": "http://app", "internal": "x"},
        "organization": {"name": "Org"},
        "backend": {"baseUrl": "http://backend", "listen": {"port": 7007}, "database": {"connection": "s"}},
        "service": {"baseUrl": "http://svc", "apiKey": "k"},
        "unknown": {"a": 1},
    }
    schemas = {**CORE_CONFIG_SCHEMAS, **SCHEMAS}
    assert frontend_visible(data, schemas) == {
        "app": {"title": "Portal", "baseUrl": "http://app"},
        "organization": {"name": "Org"},
        "backend": {"baseUrl": "http://backend"},
        "service": {"baseUrl": "http://svc"},
    }


# --- JSON Schema -----------------------------------------------------------------------------


def test_config_json_schema_combines_top_level_keys() -> None:
    schema = config_json_schema({**CORE_CONFIG_SCHEMAS, **SCHEMAS})
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["type"] == "object"
    assert set(schema["properties"]) == {
        "app",
        "organization",
        "backend",
        "integrations",
        "auth",
        "service",
        "plain",
    }
    definitions = schema["$defs"]
    backend = definitions[schema["properties"]["backend"]["$ref"].rsplit("/", 1)[1]]
    assert {"baseUrl", "listen", "dataDir", "requestSizeLimit", "database", "cache", "reading"} <= set(
        backend["properties"]
    )
    listen = definitions["ListenConfig"]["properties"]
    assert listen["port"]["type"] == "integer" and listen["port"]["default"] == 7007
    assert definitions["DatabaseConfig"]["properties"]["client"]["enum"] == [
        "sqlite",
        "better-sqlite3",
        "sqlite3",
        "pg",
        "postgres",
        "postgresql",
    ]
    assert definitions["DatabaseConfig"]["properties"]["connection"]["visibility"] == "secret"
    assert definitions["AppSection"]["properties"]["title"]["visibility"] == "frontend"
    service = definitions["ServiceConfig"]["properties"]
    assert service["tokens"]["deepVisibility"] == "secret"
    assert service["timeout"]["anyOf"][0] == {"type": "string"}


def test_json_schema_is_valid_draft_2020_12_and_accepts_a_real_config() -> None:
    fastjsonschema = pytest.importorskip("fastjsonschema")
    validate = fastjsonschema.compile(config_json_schema(CORE_CONFIG_SCHEMAS))
    validate(
        {
            "app": {"title": "x"},
            "backend": {"listen": {"port": 1}, "database": {"client": "pg", "connection": {"host": "h"}}},
            "integrations": {"github": [{"host": "github.com", "token": "t"}]},
        }
    )
    with pytest.raises(fastjsonschema.JsonSchemaException):
        validate({"backend": {"database": {"client": "mysql"}}})


def test_secret_and_frontend_field_keep_other_field_options() -> None:
    class Example(ConfigModel):
        token: str = secret_field("d", description="why", json_schema_extra={"x-extra": 1})
        shown: int = frontend_field(default_factory=lambda: 3)

    schema = Example.model_json_schema()
    assert schema["properties"]["token"] == {
        "default": "d",
        "description": "why",
        "title": "Token",
        "type": "string",
        "visibility": "secret",
        "x-extra": 1,
    }
    assert schema["properties"]["shown"]["visibility"] == "frontend"
    assert Example.model_validate({}).shown == 3
