"""Load app-config files the way Backstage does: layered files, value transforms, env overrides.

Compatibility matters more than novelty here: an existing Backstage `app-config.yaml` (with its
`${VAR}` substitutions, `$env`/`$file`/`$include` directives and `APP_CONFIG_*` overrides) must
load into the same data Backstage would see. Each value remembers which source supplied it so
later errors can point at the right file.
"""

from __future__ import annotations

import copy
import json
import os
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final

import yaml

from greenroom.core.config.errors import ConfigError, KeyPath, format_key_path, parse_key_path

DEFAULT_CONFIG_FILE: Final = "app-config.yaml"
ENV_OVERRIDE_PREFIX: Final = "APP_CONFIG_"
_ENV_NAME_VARIABLES: Final = ("GREENROOM_ENV", "BACKSTAGE_ENV")
_TRANSFORM_KEYS: Final = frozenset({"$env", "$file", "$include"})
_OVERRIDE_SEGMENT = re.compile(r"^[a-z][a-z0-9]*(?:[-:][a-z0-9]+)*$", re.IGNORECASE)
_SUBSTITUTION = re.compile(r"\$?\$\{([^{}]*)\}")

_YAML_BOOL: Final = "tag:yaml.org,2002:bool"
_YAML_TIMESTAMP: Final = "tag:yaml.org,2002:timestamp"
_YAML_MERGE: Final = "tag:yaml.org,2002:merge"
_BaseLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _ConfigYamlLoader(_BaseLoader):  # type: ignore[valid-type,misc]
    """Safe YAML with YAML 1.2 scalars: `yes`/`on` and dates stay strings, as in Backstage's parser."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        # Silently keeping the last of two duplicate keys hides typos, so reject them like Backstage.
        # Only keys written in this mapping count: overriding a `<<: *anchor` merge is legitimate.
        seen: set[tuple[str, str]] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == _YAML_MERGE:
                continue
            identity = (key_node.tag, key_node.value)
            if identity in seen:
                raise yaml.constructor.ConstructorError(
                    "while constructing a mapping",
                    node.start_mark,
                    f"found duplicate key {key_node.value!r}",
                    key_node.start_mark,
                )
            seen.add(identity)
        mapping = super().construct_mapping(node, deep=deep)
        return {key if isinstance(key, str) else _scalar_key(key): value for key, value in mapping.items()}


def _scalar_key(key: Any) -> str:
    """Config keys are strings in JSON and Backstage; `8080:` or `true:` become their YAML text."""
    if isinstance(key, bool):
        return "true" if key else "false"
    return "null" if key is None else str(key)


_ConfigYamlLoader.yaml_implicit_resolvers = {
    first_char: [(tag, pattern) for tag, pattern in resolvers if tag not in (_YAML_BOOL, _YAML_TIMESTAMP)]
    for first_char, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
}
_ConfigYamlLoader.add_implicit_resolver(
    _YAML_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


class _Undefined:
    """Marks a value that resolved to nothing (e.g. `${MISSING}`), so its key is dropped."""

    def __repr__(self) -> str:
        return "<undefined>"


UNDEFINED: Final = _Undefined()


@dataclass
class LoadedConfig:
    """The merged config data plus where each value came from."""

    data: dict[str, Any]
    files: list[Path]
    origins: dict[tuple[str, ...], str] = field(default_factory=dict, repr=False)

    def origin_of(self, path: str | Sequence[str | int]) -> str | None:
        """The file (or `env:APP_CONFIG_...`) that supplied `path`, or its closest recorded ancestor."""
        segments = tuple(str(segment) for segment in parse_key_path(path))
        for length in range(len(segments), 0, -1):
            origin = self.origins.get(segments[:length])
            if origin is not None:
                return origin
        return None


def load_config(
    config_paths: Sequence[str | Path] | None = None,
    *,
    cwd: Path | None = None,
    env: Mapping[str, str] | None = None,
) -> LoadedConfig:
    """Load, transform and merge the config files, then apply `APP_CONFIG_*` env overrides.

    Without `config_paths` the Backstage defaults are used: `app-config.yaml` (required), then
    `app-config.<env>.yaml`, `app-config.local.yaml` and `app-config.<env>.local.yaml` when present.
    """
    base_dir = (cwd or Path.cwd()).resolve()
    environment = dict(os.environ if env is None else env)
    files = (
        _default_config_files(base_dir, environment)
        if not config_paths
        else [_explicit_config_file(base_dir, raw) for raw in config_paths]
    )
    loaded = LoadedConfig(data={}, files=files)
    transformer = _Transformer(environment, base_dir)
    for config_file in files:
        label = _display_path(config_file, base_dir)
        raw = _read_structured_file(config_file, label)
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ConfigError(f"{label}: expected a mapping at the top level, found {_type_name(raw)}")
        transformed = transformer.transform(raw, file=config_file, path=(), include_stack=(config_file,))
        _merge_into(loaded, transformed, label)
    for variable, override in _env_overrides(environment):
        _merge_into(loaded, override, f"env:{variable}")
    return loaded


def _default_config_files(base_dir: Path, environment: Mapping[str, str]) -> list[Path]:
    main = base_dir / DEFAULT_CONFIG_FILE
    if not main.is_file():
        raise ConfigError(
            f"No {DEFAULT_CONFIG_FILE} found in {base_dir}; create one there or pass the files to load "
            "explicitly with --config <path> (repeatable)"
        )
    env_names = _environment_names(environment)
    candidates = [
        *(base_dir / f"app-config.{name}.yaml" for name in env_names),
        base_dir / "app-config.local.yaml",
        *(base_dir / f"app-config.{name}.local.yaml" for name in env_names),
    ]
    return [main, *(candidate for candidate in candidates if candidate.is_file())]


def _environment_names(environment: Mapping[str, str]) -> list[str]:
    for variable in _ENV_NAME_VARIABLES:
        raw = environment.get(variable, "").strip()
        if raw:
            return [name.strip() for name in raw.split(",") if name.strip()]
    return []


def _explicit_config_file(base_dir: Path, raw: str | Path) -> Path:
    candidate = Path(raw).expanduser()
    resolved = (candidate if candidate.is_absolute() else base_dir / candidate).resolve()
    if not resolved.is_file():
        raise ConfigError(f"Config file not found: {raw} (looked for {resolved})")
    return resolved


def _display_path(path: Path, base_dir: Path) -> str:
    """Paths under the working directory are shown relative, which is how operators think of them."""
    try:
        return str(path.relative_to(base_dir))
    except ValueError:
        return str(path)


def _read_structured_file(path: Path, label: str) -> Any:
    """Parse YAML (or JSON for `.json`) and turn syntax errors into errors naming line and column."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as error:
        raise ConfigError(f"{label}: cannot read file: {error.strerror or error}") from error
    except UnicodeDecodeError as error:
        raise ConfigError(f"{label}: file is not valid UTF-8 text") from error
    if path.suffix.lower() == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as error:
            raise ConfigError(
                f"{label}: invalid JSON at line {error.lineno}, column {error.colno}: {error.msg}"
            ) from error
    try:
        return yaml.load(text, Loader=_ConfigYamlLoader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        problem = error.problem or error.context or "syntax error"
        raise ConfigError(f"{label}: invalid YAML{where}: {problem}") from error
    except yaml.YAMLError as error:
        raise ConfigError(f"{label}: invalid YAML: {error}") from error


def _type_name(value: Any) -> str:
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "null" if value is None else type(value).__name__


class _Transformer:
    """Applies `${VAR}` substitution and the `$env`/`$file`/`$include` directives to parsed values."""

    def __init__(self, environment: Mapping[str, str], base_dir: Path) -> None:
        self._environment = environment
        self._base_dir = base_dir

    def transform(self, value: Any, *, file: Path, path: KeyPath, include_stack: tuple[Path, ...]) -> Any:
        if isinstance(value, str):
            return self._substitute(value)
        if isinstance(value, list):
            items = (
                self.transform(item, file=file, path=(*path, index), include_stack=include_stack)
                for index, item in enumerate(value)
            )
            return [item for item in items if item is not UNDEFINED]
        if isinstance(value, dict):
            if len(value) == 1:
                [(key, argument)] = value.items()
                if key in _TRANSFORM_KEYS:
                    return self._apply_directive(key, argument, file=file, path=path, stack=include_stack)
            result: dict[str, Any] = {}
            for key, child in value.items():
                transformed = self.transform(child, file=file, path=(*path, key), include_stack=include_stack)
                if transformed is not UNDEFINED:
                    result[key] = transformed
            return result
        return value

    def _substitute(self, text: str) -> Any:
        """Expand `${VAR}`/`${VAR:-default}`; any unresolvable reference makes the whole value undefined."""
        if "${" not in text:
            return text
        undefined = False

        def replace(match: re.Match[str]) -> str:
            nonlocal undefined
            if match.group(0).startswith("$$"):
                return match.group(0)[1:]
            name, has_default, default = match.group(1).partition(":-")
            resolved = self._lookup(name.strip())
            if resolved is None or (has_default and resolved == ""):
                if has_default:
                    return default
                undefined = True
                return ""
            return resolved

        substituted = _SUBSTITUTION.sub(replace, text)
        return UNDEFINED if undefined else substituted

    def _lookup(self, name: str) -> str | None:
        # Stray whitespace in env values is a classic copy-paste bug; Backstage trims it too.
        value = self._environment.get(name)
        return None if value is None else value.strip()

    def _apply_directive(
        self, directive: str, argument: Any, *, file: Path, path: KeyPath, stack: tuple[Path, ...]
    ) -> Any:
        label = _display_path(file, self._base_dir)
        location = f"{label}: {format_key_path(path) or '<root>'}"
        if not isinstance(argument, str):
            raise ConfigError(f"{location}: {directive} expects a string, found {_type_name(argument)}")
        argument = self._substitute(argument)
        if argument is UNDEFINED:
            return UNDEFINED
        if directive == "$env":
            resolved = self._lookup(argument)
            return UNDEFINED if resolved is None else resolved
        if directive == "$file":
            target = (file.parent / argument).resolve()
            try:
                return target.read_text(encoding="utf-8")
            except FileNotFoundError as error:
                raise ConfigError(
                    f"{location}: $file '{argument}' not found (looked for {target})"
                ) from error
            except (OSError, UnicodeDecodeError) as error:
                raise ConfigError(f"{location}: $file '{argument}' cannot be read: {error}") from error
        return self._include(argument, file=file, path=path, stack=stack, location=location)

    def _include(
        self, argument: str, *, file: Path, path: KeyPath, stack: tuple[Path, ...], location: str
    ) -> Any:
        relative, _, sub_path = argument.partition("#")
        target = (file.parent / relative).resolve()
        if target.suffix.lower() not in (".yaml", ".yml", ".json"):
            raise ConfigError(f"{location}: $include '{argument}' must name a .yaml, .yml or .json file")
        if not target.is_file():
            raise ConfigError(f"{location}: $include '{argument}' not found (looked for {target})")
        if target in stack:
            chain = " -> ".join(_display_path(step, self._base_dir) for step in (*stack, target))
            raise ConfigError(f"{location}: $include cycle: {chain}")
        included = _read_structured_file(target, _display_path(target, self._base_dir))
        if sub_path:
            included = _select(included, sub_path, location=location, argument=argument)
        return self.transform(included, file=target, path=path, include_stack=(*stack, target))


def _select(data: Any, sub_path: str, *, location: str, argument: str) -> Any:
    """Pick the `#a.b` subtree of an included document."""
    current = data
    for depth, segment in enumerate(sub_path.split(".")):
        if isinstance(current, dict) and segment in current:
            current = current[segment]
        elif isinstance(current, list) and segment.isdigit() and int(segment) < len(current):
            current = current[int(segment)]
        else:
            reached = ".".join(sub_path.split(".")[:depth]) or "the document root"
            raise ConfigError(
                f"{location}: $include '{argument}' has no value at '{sub_path}' "
                f"(no key '{segment}' under {reached}, found {_type_name(current)})"
            )
    return current


def _env_overrides(environment: Mapping[str, str]) -> list[tuple[str, dict[str, Any]]]:
    """Turn each `APP_CONFIG_a_b=value` into `{"a": {"b": value}}`, rejecting malformed or clashing names."""
    claimed: dict[tuple[str, ...], str] = {}
    overrides: list[tuple[str, dict[str, Any]]] = []
    for variable in sorted(name for name in environment if name.startswith(ENV_OVERRIDE_PREFIX)):
        segments = tuple(variable[len(ENV_OVERRIDE_PREFIX) :].split("_"))
        invalid = [segment for segment in segments if not _OVERRIDE_SEGMENT.match(segment)]
        if invalid:
            raise ConfigError(
                f"Invalid environment variable {variable}: each '_'-separated segment after "
                f"{ENV_OVERRIDE_PREFIX} must be a config key matching [a-z][a-z0-9]* (case-insensitive), "
                f"found {', '.join(repr(segment) for segment in invalid)}"
            )
        for other_path, other_variable in claimed.items():
            shorter = min(len(other_path), len(segments))
            if other_path[:shorter] == segments[:shorter]:
                raise ConfigError(
                    f"Environment variables {other_variable} and {variable} both set "
                    f"'{'.'.join(segments[:shorter])}'; keep only one of them"
                )
        claimed[segments] = variable
        value: Any = _parse_override_value(environment[variable])
        for segment in reversed(segments):
            value = {segment: value}
        overrides.append((variable, value))
    return overrides


def _parse_override_value(raw: str) -> Any:
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _merge_into(loaded: LoadedConfig, source: dict[str, Any], label: str) -> None:
    """Deep-merge `source` over the loaded data: mappings merge, everything else is replaced."""
    _merge_mapping(loaded.data, source, (), loaded.origins, label)


def _merge_mapping(
    target: dict[str, Any],
    source: dict[str, Any],
    path: tuple[str, ...],
    origins: dict[tuple[str, ...], str],
    label: str,
) -> None:
    for key, value in source.items():
        child_path = (*path, key)
        existing = target.get(key)
        if isinstance(existing, dict) and isinstance(value, dict):
            # A shared mapping stays attributed to the file that introduced it.
            origins.setdefault(child_path, label)
            _merge_mapping(existing, value, child_path, origins, label)
            continue
        if key in target:
            for recorded in [p for p in origins if p[: len(child_path)] == child_path]:
                del origins[recorded]
        target[key] = copy.deepcopy(value)
        _record_origins(value, child_path, origins, label)


def _record_origins(
    value: Any, path: tuple[str, ...], origins: dict[tuple[str, ...], str], label: str
) -> None:
    origins[path] = label
    children: Any = (
        value.items() if isinstance(value, dict) else enumerate(value) if isinstance(value, list) else ()
    )
    for key, child in children:
        _record_origins(child, (*path, str(key)), origins, label)
