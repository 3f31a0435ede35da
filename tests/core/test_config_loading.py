"""Loading app-config files: layering, transforms, env overrides, origins, reading and durations."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from textwrap import dedent

import pytest

from greenroom.core.config import Config, ConfigError, load_config, parse_duration


def write(directory: Path, name: str, text: str) -> Path:
    path = directory / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(dedent(text).lstrip("\n"), encoding="utf-8")
    return path


# --- layering --------------------------------------------------------------------------------


def test_default_files_local_overrides_and_deep_merge(tmp_path: Path) -> None:
    write(
        tmp_path,
        "app-config.yaml",
        """
        app: {title: Base, baseUrl: http://base}
        backend:
          listen: {host: 0.0.0.0, port: 7007}
          reading: {allow: [{host: a.example}, {host: b.example}]}
        """,
    )
    write(
        tmp_path,
        "app-config.local.yaml",
        """
        app: {title: Local}
        backend:
          listen: {port: 8000}
          reading: {allow: [{host: c.example}]}
        """,
    )
    loaded = load_config(cwd=tmp_path, env={})
    assert loaded.data == {
        "app": {"title": "Local", "baseUrl": "http://base"},
        "backend": {
            "listen": {"host": "0.0.0.0", "port": 8000},
            "reading": {"allow": [{"host": "c.example"}]},
        },
    }
    assert [path.name for path in loaded.files] == ["app-config.yaml", "app-config.local.yaml"]
    assert loaded.origin_of(["app", "title"]) == "app-config.local.yaml"
    assert loaded.origin_of("app.baseUrl") == "app-config.yaml"
    assert loaded.origin_of(("backend", "listen", "host")) == "app-config.yaml"
    assert loaded.origin_of(["backend", "reading", "allow", 0, "host"]) == "app-config.local.yaml"
    assert loaded.origin_of("backend.reading.allow[0]") == "app-config.local.yaml"
    # Missing values are attributed to their closest recorded ancestor.
    assert loaded.origin_of("app.nonexistent.deeper") == "app-config.yaml"
    assert loaded.origin_of("unknown") is None


def test_missing_default_config_explains_how_to_pass_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"No app-config\.yaml found in .*--config"):
        load_config(cwd=tmp_path, env={})


def test_backstage_env_files_are_loaded_in_backstage_order(tmp_path: Path) -> None:
    write(tmp_path, "app-config.yaml", "order: [base]\nbase: 1\n")
    write(tmp_path, "app-config.production.yaml", "order: [production]\nproduction: 1\n")
    write(tmp_path, "app-config.local.yaml", "order: [local]\nlocal: 1\n")
    write(tmp_path, "app-config.production.local.yaml", "order: [production-local]\n")
    write(tmp_path, "app-config.staging.yaml", "staging: 1\n")

    loaded = load_config(cwd=tmp_path, env={"BACKSTAGE_ENV": "production, qa"})

    assert [path.name for path in loaded.files] == [
        "app-config.yaml",
        "app-config.production.yaml",
        "app-config.local.yaml",
        "app-config.production.local.yaml",
    ]
    assert loaded.data["order"] == ["production-local"]
    assert "staging" not in loaded.data
    plain = load_config(cwd=tmp_path, env={})
    assert [path.name for path in plain.files] == ["app-config.yaml", "app-config.local.yaml"]


def test_greenroom_env_takes_precedence_over_backstage_env(tmp_path: Path) -> None:
    write(tmp_path, "app-config.yaml", "x: base\n")
    write(tmp_path, "app-config.a.yaml", "x: a\n")
    write(tmp_path, "app-config.b.yaml", "x: b\n")
    loaded = load_config(cwd=tmp_path, env={"GREENROOM_ENV": "b", "BACKSTAGE_ENV": "a"})
    assert loaded.data == {"x": "b"}


def test_explicit_paths_are_used_exactly_and_in_order(tmp_path: Path) -> None:
    write(tmp_path, "app-config.yaml", "x: default\n")
    write(tmp_path, "app-config.local.yaml", "x: local\n")
    first = write(tmp_path, "conf/one.yaml", "x: one\ny: {a: 1, b: [1, 2]}\n")
    write(tmp_path, "conf/two.yaml", "x: two\ny: {b: [3]}\n")

    loaded = load_config([first, "conf/two.yaml"], cwd=tmp_path, env={})

    assert loaded.data == {"x": "two", "y": {"a": 1, "b": [3]}}
    assert loaded.files == [first.resolve(), (tmp_path / "conf/two.yaml").resolve()]
    assert loaded.origin_of("y.a") == "conf/one.yaml"
    assert loaded.origin_of("y.b") == "conf/two.yaml"

    reversed_order = load_config(["conf/two.yaml", first], cwd=tmp_path, env={})
    assert reversed_order.data["x"] == "one"


def test_explicit_missing_file_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"Config file not found: nope\.yaml"):
        load_config(["nope.yaml"], cwd=tmp_path, env={})


def test_empty_file_is_an_empty_mapping_and_a_non_mapping_root_is_rejected(tmp_path: Path) -> None:
    empty = write(tmp_path, "empty.yaml", "")
    assert load_config([empty], cwd=tmp_path, env={}).data == {}

    listing = write(tmp_path, "list.yaml", "- a\n- b\n")
    with pytest.raises(ConfigError, match=r"list\.yaml: expected a mapping at the top level, found a list"):
        load_config([listing], cwd=tmp_path, env={})


def test_yaml_syntax_error_names_file_line_and_column(tmp_path: Path) -> None:
    broken = write(tmp_path, "app-config.yaml", "app:\n  title: ok\n  baseUrl: [unclosed\nbackend: {}\n")
    with pytest.raises(ConfigError) as raised:
        load_config([broken], cwd=tmp_path, env={})
    message = str(raised.value)
    assert message.startswith("app-config.yaml: invalid YAML at line ")
    assert "column" in message


def test_yaml_uses_json_compatible_scalars_and_rejects_duplicate_keys(tmp_path: Path) -> None:
    config = write(tmp_path, "a.yaml", "flag: yes\nreal: true\nwhen: 2024-01-02\n8080: port\n")
    assert load_config([config], cwd=tmp_path, env={}).data == {
        "flag": "yes",
        "real": True,
        "when": "2024-01-02",
        "8080": "port",
    }
    duplicate = write(tmp_path, "b.yaml", "a: 1\nb: 2\na: 3\n")
    with pytest.raises(
        ConfigError, match=r"b\.yaml: invalid YAML at line 3, column 1: found duplicate key 'a'"
    ):
        load_config([duplicate], cwd=tmp_path, env={})


def test_yaml_anchors_and_merge_keys_work(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "app-config.yaml",
        """
        defaults: &defaults {host: h, port: 1}
        a: {<<: *defaults, port: 2}
        b: *defaults
        """,
    )
    data = load_config([config], cwd=tmp_path, env={}).data
    assert data["a"] == {"host": "h", "port": 2}
    assert data["b"] == {"host": "h", "port": 1}


# --- substitution ----------------------------------------------------------------------------


def test_substitution_defaults_escapes_and_undefined_removal(tmp_path: Path) -> None:
    config = write(
        tmp_path,
        "app-config.yaml",
        """
        backend:
          baseUrl: http://${HOST}:${PORT:-7007}/x
          literal: $${HOST} and $${NOT_SET}
          trimmed: ${PADDED}
          gone: https://${MISSING}/path
          kept: ${MISSING:-fallback}
          emptyFallback: ${EMPTY:-used}
          list: [a, "${MISSING}", "${HOST}"]
          nested: {only: "${MISSING}"}
        """,
    )
    loaded = load_config([config], cwd=tmp_path, env={"HOST": "example.com", "PADDED": "  v  ", "EMPTY": ""})
    assert loaded.data == {
        "backend": {
            "baseUrl": "http://example.com:7007/x",
            "literal": "${HOST} and ${NOT_SET}",
            "trimmed": "v",
            "kept": "fallback",
            "emptyFallback": "used",
            "list": ["a", "example.com"],
            "nested": {},
        }
    }


# --- $env / $file / $include -----------------------------------------------------------------


def test_env_and_file_directives(tmp_path: Path) -> None:
    write(tmp_path, "secrets/token.txt", "s3cret\n")
    config = write(
        tmp_path,
        "conf/app-config.yaml",
        """
        auth:
          token: {$env: TOKEN}
          missing: {$env: NOT_SET}
          fromFile: {$file: ../secrets/token.txt}
          notADirective: {$env: TOKEN, other: 1}
          unknown: {$xyz: keep}
        """,
    )
    loaded = load_config([config], cwd=tmp_path, env={"TOKEN": "t0k"})
    assert loaded.data["auth"] == {
        "token": "t0k",
        "fromFile": "s3cret\n",
        "notADirective": {"$env": "TOKEN", "other": 1},
        "unknown": {"$xyz": "keep"},
    }


def test_file_directive_missing_file_names_file_and_key(tmp_path: Path) -> None:
    config = write(
        tmp_path, "app-config.yaml", "backend:\n  auth:\n    keys: [{secret: {$file: ./nope.txt}}]\n"
    )
    with pytest.raises(ConfigError) as raised:
        load_config([config], cwd=tmp_path, env={})
    assert str(raised.value).startswith(
        "app-config.yaml: backend.auth.keys[0].secret: $file './nope.txt' not found"
    )


def test_directive_value_must_be_a_string(tmp_path: Path) -> None:
    config = write(tmp_path, "app-config.yaml", "a: {$include: [x]}\n")
    with pytest.raises(ConfigError, match=r"app-config\.yaml: a: \$include expects a string, found a list"):
        load_config([config], cwd=tmp_path, env={})


def test_include_with_sub_path_and_nested_relative_paths(tmp_path: Path) -> None:
    write(tmp_path, "shared/deep/token.txt", "from-deep")
    write(
        tmp_path,
        "shared/catalog.yaml",
        """
        catalog:
          rules: [{allow: [Component]}]
          locations:
            - {type: file, target: ./all.yaml}
          nested: {$include: ./deep/more.json#value}
        other: ignored
        """,
    )
    write(
        tmp_path, "shared/deep/more.json", '{"value": {"token": {"$file": "./token.txt"}, "host": "${HOST}"}}'
    )
    config = write(
        tmp_path,
        "app-config.yaml",
        """
        catalog: {$include: ./shared/catalog.yaml#catalog}
        whole: {$include: shared/deep/more.json}
        """,
    )
    loaded = load_config([config], cwd=tmp_path, env={"HOST": "h"})
    assert loaded.data["catalog"] == {
        "rules": [{"allow": ["Component"]}],
        "locations": [{"type": "file", "target": "./all.yaml"}],
        "nested": {"token": "from-deep", "host": "h"},
    }
    assert loaded.data["whole"] == {"value": {"token": "from-deep", "host": "h"}}
    assert loaded.origin_of("catalog.nested.token") == "app-config.yaml"


def test_include_missing_sub_path_is_an_error(tmp_path: Path) -> None:
    write(tmp_path, "other.yaml", "a: {b: 1}\n")
    config = write(tmp_path, "app-config.yaml", "x:\n  y: {$include: ./other.yaml#a.c}\n")
    with pytest.raises(ConfigError) as raised:
        load_config([config], cwd=tmp_path, env={})
    message = str(raised.value)
    assert message.startswith("app-config.yaml: x.y: $include './other.yaml#a.c' has no value at 'a.c'")
    assert "no key 'c' under a" in message


def test_include_of_missing_or_unsupported_file(tmp_path: Path) -> None:
    write(tmp_path, "notes.txt", "hi")
    missing = write(tmp_path, "one.yaml", "x: {$include: ./absent.yaml}\n")
    with pytest.raises(ConfigError, match=r"one\.yaml: x: \$include './absent\.yaml' not found"):
        load_config([missing], cwd=tmp_path, env={})
    wrong_type = write(tmp_path, "two.yaml", "x: {$include: ./notes.txt}\n")
    with pytest.raises(ConfigError, match=r"must name a \.yaml, \.yml or \.json file"):
        load_config([wrong_type], cwd=tmp_path, env={})


def test_include_cycle_is_detected(tmp_path: Path) -> None:
    write(tmp_path, "a.yaml", "next: {$include: ./b.yaml}\n")
    write(tmp_path, "b.yaml", "next: {$include: ./a.yaml}\n")
    config = write(tmp_path, "app-config.yaml", "start: {$include: ./a.yaml}\n")
    with pytest.raises(ConfigError) as raised:
        load_config([config], cwd=tmp_path, env={})
    assert "$include cycle: app-config.yaml -> a.yaml -> b.yaml -> a.yaml" in str(raised.value)


def test_yaml_error_inside_included_file_names_that_file(tmp_path: Path) -> None:
    write(tmp_path, "inc/bad.yaml", "a: [\n")
    config = write(tmp_path, "app-config.yaml", "x: {$include: ./inc/bad.yaml}\n")
    with pytest.raises(ConfigError, match=r"^inc/bad\.yaml: invalid YAML at line \d+"):
        load_config([config], cwd=tmp_path, env={})


# --- APP_CONFIG_ overrides ---------------------------------------------------------------------


def test_app_config_env_overrides(tmp_path: Path) -> None:
    config = write(
        tmp_path, "app-config.yaml", "backend:\n  baseUrl: http://file\n  listen: {port: 7007, host: h}\n"
    )
    loaded = load_config(
        [config],
        cwd=tmp_path,
        env={
            "APP_CONFIG_backend_baseUrl": "http://x",
            "APP_CONFIG_backend_listen_port": "7008",
            "APP_CONFIG_app_flags": '{"a": true}',
            "APP_CONFIG_app_quoted": '"false"',
            "APP_CONFIG_catalog-x_some:key": "plain string",
            "OTHER": "ignored",
        },
    )
    assert loaded.data == {
        "backend": {"baseUrl": "http://x", "listen": {"port": 7008, "host": "h"}},
        "app": {"flags": {"a": True}, "quoted": "false"},
        "catalog-x": {"some:key": "plain string"},
    }
    assert loaded.origin_of("backend.baseUrl") == "env:APP_CONFIG_backend_baseUrl"
    assert loaded.origin_of("backend.listen.port") == "env:APP_CONFIG_backend_listen_port"
    assert loaded.origin_of("backend.listen.host") == "app-config.yaml"
    assert loaded.origin_of("app.flags.a") == "env:APP_CONFIG_app_flags"


@pytest.mark.parametrize(
    "name", ["APP_CONFIG_backend__port", "APP_CONFIG_1backend", "APP_CONFIG_", "APP_CONFIG_a_b.c"]
)
def test_invalid_app_config_variable_is_named(tmp_path: Path, name: str) -> None:
    config = write(tmp_path, "app-config.yaml", "{}\n")
    with pytest.raises(ConfigError, match=rf"Invalid environment variable {name}:"):
        load_config([config], cwd=tmp_path, env={name: "1"})


def test_conflicting_app_config_variables(tmp_path: Path) -> None:
    config = write(tmp_path, "app-config.yaml", "{}\n")
    with pytest.raises(ConfigError, match=r"APP_CONFIG_a and APP_CONFIG_a_b both set 'a'"):
        load_config([config], cwd=tmp_path, env={"APP_CONFIG_a": "1", "APP_CONFIG_a_b": "2"})


# --- Config reader ---------------------------------------------------------------------------


@pytest.fixture
def reader(tmp_path: Path) -> Config:
    write(
        tmp_path,
        "app-config.yaml",
        """
        app: {title: Portal, empty: ""}
        backend:
          baseUrl: http://127.0.0.1:7007
          listen: {port: 7007}
          flags: {on: "true", off: "0", bad: maybe, real: false}
          integrations: [{host: github.com}, {host: gitlab.com, token: t}]
          hosts: [a, b]
          mixed: [a, 1]
          ttl: {minutes: 5}
        """,
    )
    write(tmp_path, "app-config.local.yaml", "backend:\n  listen: {port: abc}\n  envPort: '7008'\n")
    return Config.from_loaded(load_config(cwd=tmp_path, env={}))


def test_reader_typed_getters(reader: Config) -> None:
    assert reader.get_string("app.title") == "Portal"
    assert reader.get_number("backend.envPort") == 7008
    assert reader.get_boolean("backend.flags.on") is True
    assert reader.get_boolean("backend.flags.off") is False
    assert reader.get_boolean("backend.flags.real") is False
    assert reader.get_string_array("backend.hosts") == ["a", "b"]
    assert reader.get_optional_string("backend.nothing") is None
    assert reader.get_optional_number("backend.nothing") is None
    assert reader.get_optional_boolean("backend.nothing") is None
    assert reader.get_optional_config("backend.nothing") is None
    assert reader.get_optional_string_array("backend.nothing") is None
    assert reader.get_optional("backend.nothing.deeper") is None
    assert reader.has("backend.baseUrl") and not reader.has("backend.nothing")
    assert reader.keys() == ["app", "backend"]
    assert reader.get_duration("backend.ttl") == timedelta(minutes=5)
    assert reader.get("app") == {"title": "Portal", "empty": ""}

    backend = reader.get_config("backend")
    assert backend.get_string("baseUrl") == "http://127.0.0.1:7007"
    integrations = backend.get_config_array("integrations")
    assert [item.get_string("host") for item in integrations] == ["github.com", "gitlab.com"]
    assert integrations[1].get_optional_string("token") == "t"
    assert backend.to_dict()["hosts"] == ["a", "b"]


def test_reader_type_errors_name_key_and_file(reader: Config) -> None:
    with pytest.raises(ConfigError) as raised:
        reader.get_number("backend.listen.port")
    assert str(raised.value) == (
        "Invalid type in config for key 'backend.listen.port' in 'app-config.local.yaml', "
        "got string, wanted number"
    )
    with pytest.raises(
        ConfigError, match=r"key 'app\.empty' in 'app-config\.yaml', got empty-string, wanted string"
    ):
        reader.get_string("app.empty")
    with pytest.raises(ConfigError, match=r"key 'backend\.flags\.bad' .* got string, wanted boolean"):
        reader.get_boolean("backend.flags.bad")
    with pytest.raises(
        ConfigError, match=r"key 'backend\.mixed\[1\]' in 'app-config\.yaml', got number, wanted string"
    ):
        reader.get_string_array("backend.mixed")
    with pytest.raises(
        ConfigError, match=r"key 'app\.title' in 'app-config\.yaml', got string, wanted object"
    ):
        reader.get_string("app.title.deeper")
    with pytest.raises(ConfigError, match=r"key 'backend\.hosts' .* got array, wanted object"):
        reader.get_config("backend.hosts")
    nested = reader.get_config("backend").get_config_array("integrations")[0]
    with pytest.raises(
        ConfigError, match=r"key 'backend\.integrations\[0\]\.host' .* got string, wanted number"
    ):
        nested.get_number("host")


def test_reader_missing_required_values(reader: Config) -> None:
    with pytest.raises(ConfigError, match=r"^Missing required config value at 'backend\.nothing'$"):
        reader.get_string("backend.nothing")
    with pytest.raises(ConfigError, match=r"^Missing required config value at 'backend\.listen\.host'$"):
        reader.get_config("backend").get_config("listen").get_string("host")
    with pytest.raises(ConfigError, match="Invalid config key"):
        reader.get("backend..baseUrl")


def test_reader_without_origin_and_plain_data() -> None:
    config = Config({"a": {"b": 1}}, prefix="root")
    assert config.get_number("a.b") == 1
    with pytest.raises(
        ConfigError, match=r"^Invalid type in config for key 'root\.a\.b', got number, wanted string$"
    ):
        config.get_string("a.b")


# --- durations -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("PT30S", timedelta(seconds=30)),
        ("P1D", timedelta(days=1)),
        ("PT1H30M", timedelta(hours=1, minutes=30)),
        ("P1W", timedelta(weeks=1)),
        ("PT0.5S", timedelta(milliseconds=500)),
        ("30s", timedelta(seconds=30)),
        ("5m", timedelta(minutes=5)),
        ("1h", timedelta(hours=1)),
        ("2 days", timedelta(days=2)),
        ("500ms", timedelta(milliseconds=500)),
        ("1h 30m", timedelta(hours=1, minutes=30)),
        ("90", timedelta(seconds=90)),
        (45, timedelta(seconds=45)),
        (1.5, timedelta(seconds=1.5)),
        ({"hours": 1, "minutes": 30}, timedelta(hours=1, minutes=30)),
        ({"months": 1, "years": 1}, timedelta(days=395)),
        ({"milliseconds": 250}, timedelta(milliseconds=250)),
    ],
)
def test_parse_duration_accepts_all_shapes(value: object, expected: timedelta) -> None:
    assert parse_duration(value) == expected


@pytest.mark.parametrize(
    "value", ["", "P", "PT", "5 parsecs", "abc", "1h x", {}, {"hour": 1}, {"hours": "1"}, True, -5, None]
)
def test_parse_duration_rejects_garbage_with_expectation(value: object) -> None:
    with pytest.raises(ConfigError, match=r"Invalid duration at 'a\.b': .*expected an ISO 8601 duration"):
        parse_duration(value, key="a.b")
