"""Validate loaded config against plugin schemas, and filter it by visibility.

Pydantic's raw errors mention union branches and internal type names; operators need
"which file, which key, what was expected, what was found". Masking and frontend filtering walk
the combined JSON Schema so they honour exactly the visibility the plugins declared.
"""

from __future__ import annotations

import copy
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from pydantic import BaseModel, ValidationError
from pydantic_core import ErrorDetails

from greenroom.core.config.errors import ConfigError, ConfigIssue, KeyPath, format_key_path
from greenroom.core.config.loading import LoadedConfig
from greenroom.core.config.schema import config_json_schema

SECRET_PLACEHOLDER: Final = "<secret>"

_EXPECTATIONS: Final[dict[str, str]] = {
    "string_type": "a string",
    "int_type": "an integer",
    "int_parsing": "an integer",
    "int_from_float": "an integer",
    "float_type": "a number",
    "float_parsing": "a number",
    "bool_type": "a boolean (true or false)",
    "bool_parsing": "a boolean (true or false)",
    "dict_type": "an object",
    "model_type": "an object",
    "model_attributes_type": "an object",
    "list_type": "a list",
    "none_required": "null",
}
_BOUNDS: Final[dict[str, tuple[str, str]]] = {
    "greater_than": ("gt", "greater than"),
    "greater_than_equal": ("ge", "at least"),
    "less_than": ("lt", "less than"),
    "less_than_equal": ("le", "at most"),
}


def validate_config(loaded: LoadedConfig, schemas: Mapping[str, type[BaseModel]]) -> list[ConfigIssue]:
    """Every problem with the config, each attributed to the file that supplied the bad value.

    An absent top-level key is validated as `{}` so that required settings are reported even when
    the section is missing; top-level keys without a schema are left alone.
    """
    walker = _SchemaWalker(config_json_schema(schemas))
    issues: list[ConfigIssue] = []
    for key, model in schemas.items():
        section = loaded.data.get(key)
        if section is None:
            section = {}
        if not isinstance(section, dict):
            found = _describe(section, secret=walker.is_secret((key,)))
            issues.append(ConfigIssue(loaded.origin_of((key,)), key, f"expected an object, found {found}"))
            continue
        try:
            model.model_validate(section)
        except ValidationError as error:
            issues.extend(_issues_from_errors(key, section, error.errors(include_url=False), loaded, walker))
    return issues


def check_config(loaded: LoadedConfig, schemas: Mapping[str, type[BaseModel]]) -> None:
    """Raise one `ConfigError` listing every issue; what startup and `config check` use."""
    issues = validate_config(loaded, schemas)
    if issues:
        raise ConfigError.from_issues(issues)


def mask_secrets(data: Mapping[str, Any], schemas: Mapping[str, type[BaseModel]]) -> dict[str, Any]:
    """A deep copy with every secret-visibility value replaced by `<secret>`, safe to log or print."""
    walker = _SchemaWalker(config_json_schema(schemas))

    def mask(value: Any, nodes: list[dict[str, Any]], inherited: str | None) -> Any:
        visibility, deep = walker.visibility(nodes, inherited)
        if visibility == "secret":
            return SECRET_PLACEHOLDER
        if isinstance(value, Mapping):
            return {key: mask(child, walker.children(nodes, key), deep) for key, child in value.items()}
        if isinstance(value, list):
            return [mask(item, walker.children(nodes, index), deep) for index, item in enumerate(value)]
        return copy.deepcopy(value)

    return dict(mask(data, walker.root_nodes(), None))


def frontend_visible(data: Mapping[str, Any], schemas: Mapping[str, type[BaseModel]]) -> dict[str, Any]:
    """Only the values declared frontend-visible; containers survive when something inside them does."""
    walker = _SchemaWalker(config_json_schema(schemas))
    dropped = object()

    def keep(value: Any, nodes: list[dict[str, Any]], inherited: str | None) -> Any:
        visibility, deep = walker.visibility(nodes, inherited)
        visible = visibility == "frontend"
        if isinstance(value, Mapping):
            kept = {key: keep(child, walker.children(nodes, key), deep) for key, child in value.items()}
            kept = {key: child for key, child in kept.items() if child is not dropped}
            return kept if kept or visible else dropped
        if isinstance(value, list):
            items = [keep(item, walker.children(nodes, index), deep) for index, item in enumerate(value)]
            items = [item for item in items if item is not dropped]
            return items if items or visible else dropped
        return copy.deepcopy(value) if visible else dropped

    result = keep(data, walker.root_nodes(), None)
    return {} if result is dropped else dict(result)


# --- turning pydantic errors into readable issues ---------------------------------------------


@dataclass
class _RawIssue:
    path: KeyPath
    error: ErrorDetails
    # True when a union member rejected the value as a whole; only meaningful next to its siblings.
    is_branch_mismatch: bool


def _issues_from_errors(
    section_key: str,
    section: dict[str, Any],
    errors: list[ErrorDetails],
    loaded: LoadedConfig,
    walker: _SchemaWalker,
) -> list[ConfigIssue]:
    raw = [_locate(section_key, section, error) for error in errors]
    # If any union member accepted the value's shape, the useful errors are the deeper ones.
    deeper = [issue.path for issue in raw]
    raw = [
        issue
        for issue in raw
        if not issue.is_branch_mismatch
        or not any(
            len(other) > len(issue.path) and other[: len(issue.path)] == issue.path for other in deeper
        )
    ]
    messages: dict[KeyPath, list[str]] = {}
    branch_expectations: dict[KeyPath, list[str]] = {}
    found_values: dict[KeyPath, Any] = {}
    for issue in raw:
        if issue.is_branch_mismatch and issue.error["type"] in _EXPECTATIONS:
            branch_expectations.setdefault(issue.path, []).append(_EXPECTATIONS[issue.error["type"]])
            found_values[issue.path] = issue.error["input"]
            continue
        secret = walker.is_secret(issue.path)
        messages.setdefault(issue.path, []).append(_describe_error(issue.error, secret=secret))
    for path, expectations in branch_expectations.items():
        unique = list(dict.fromkeys(expectations))
        wanted = ", ".join(unique[:-1]) + " or " + unique[-1] if len(unique) > 1 else unique[0]
        found = _describe(found_values[path], secret=walker.is_secret(path))
        messages.setdefault(path, []).append(f"expected {wanted}, found {found}")
    return [
        ConfigIssue(loaded.origin_of(path), format_key_path(path), message)
        for path, path_messages in messages.items()
        for message in dict.fromkeys(path_messages)
    ]


def _locate(section_key: str, section: dict[str, Any], error: ErrorDetails) -> _RawIssue:
    """Map pydantic's `loc` onto real config keys, dropping union-member tags like `str` or `Model`."""
    location = error["loc"]
    current: Any = section
    path: list[str | int] = [section_key]
    dropped_last = False
    for index, segment in enumerate(location):
        is_last = index == len(location) - 1
        in_mapping = isinstance(current, Mapping) and isinstance(segment, str) and segment in current
        in_list = isinstance(current, list) and isinstance(segment, int) and 0 <= segment < len(current)
        if in_mapping or in_list:
            current = current[segment]
            path.append(segment)
        elif is_last and error["type"] == "missing":
            path.append(segment)
        elif is_last:
            dropped_last = True
    return _RawIssue(tuple(path), error, dropped_last)


def _describe_error(error: ErrorDetails, *, secret: bool) -> str:
    kind = error["type"]
    context = error.get("ctx") or {}
    found = _describe(error["input"], secret=secret)
    if kind == "missing":
        return "missing required value"
    if kind in _EXPECTATIONS:
        return f"expected {_EXPECTATIONS[kind]}, found {found}"
    if kind in ("literal_error", "enum"):
        return f"expected one of {context.get('expected', '?')}, found {found}"
    if kind in _BOUNDS:
        bound_key, phrase = _BOUNDS[kind]
        return f"expected a number {phrase} {context.get(bound_key)}, found {found}"
    message = re.sub(r"^(Value error|Assertion failed), ", "", error["msg"])
    message = re.sub(r"^Input should be ", "expected ", message)
    return f"{message}, found {found}"


def _describe(value: Any, *, secret: bool = False) -> str:
    if secret:
        return SECRET_PLACEHOLDER
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    if isinstance(value, str):
        shown = value if len(value) <= 60 else value[:57] + "..."
        return repr(shown)
    if isinstance(value, Mapping):
        return "an object"
    if isinstance(value, list):
        return "a list"
    return type(value).__name__


# --- walking the JSON Schema alongside the data -----------------------------------------------

_VISIBILITY_RANK: Final = ("secret", "frontend", "backend")


def _strongest(visibilities: set[str]) -> str | None:
    """When union branches disagree, secrecy wins so a value is never leaked by accident."""
    return next((candidate for candidate in _VISIBILITY_RANK if candidate in visibilities), None)


class _SchemaWalker:
    """Finds the schema nodes describing a data path, following `$ref`, unions and additionalProperties."""

    def __init__(self, schema: dict[str, Any]) -> None:
        self._schema = schema

    def root_nodes(self) -> list[dict[str, Any]]:
        return self._expand([self._schema])

    def children(self, nodes: list[dict[str, Any]], key: str | int) -> list[dict[str, Any]]:
        found: list[Any] = []
        for node in nodes:
            if isinstance(key, str):
                properties = node.get("properties") or {}
                if key in properties:
                    found.append(properties[key])
                    continue
                patterns = node.get("patternProperties") or {}
                matching = [sub for pattern, sub in patterns.items() if re.search(pattern, key)]
                found.extend(matching)
                if not matching and isinstance(node.get("additionalProperties"), dict):
                    found.append(node["additionalProperties"])
            else:
                prefix_items = node.get("prefixItems") or []
                if key < len(prefix_items):
                    found.append(prefix_items[key])
                elif isinstance(node.get("items"), dict):
                    found.append(node["items"])
        return self._expand(found)

    def visibility(self, nodes: list[dict[str, Any]], inherited: str | None) -> tuple[str, str | None]:
        """The node's own visibility and the deep visibility its descendants inherit."""
        deep = _strongest({node["deepVisibility"] for node in nodes if "deepVisibility" in node}) or inherited
        own = _strongest({node["visibility"] for node in nodes if "visibility" in node})
        return own or deep or "backend", deep

    def is_secret(self, path: KeyPath) -> bool:
        nodes = self.root_nodes()
        inherited: str | None = None
        for segment in path:
            visibility, inherited = self.visibility(nodes, inherited)
            if visibility == "secret":
                return True
            nodes = self.children(nodes, segment)
        return self.visibility(nodes, inherited)[0] == "secret"

    def _expand(self, nodes: list[Any]) -> list[dict[str, Any]]:
        expanded: list[dict[str, Any]] = []
        seen: set[int] = set()
        pending = list(nodes)
        while pending:
            node = pending.pop()
            if not isinstance(node, dict) or id(node) in seen:
                continue
            seen.add(id(node))
            expanded.append(node)
            reference = node.get("$ref")
            if isinstance(reference, str):
                pending.append(self._dereference(reference))
            for keyword in ("anyOf", "oneOf", "allOf"):
                pending.extend(node.get(keyword) or [])
        return expanded

    def _dereference(self, reference: str) -> Any:
        if not reference.startswith("#/"):
            return None
        target: Any = self._schema
        for part in reference[2:].split("/"):
            part = part.replace("~1", "/").replace("~0", "~")
            target = target.get(part) if isinstance(target, dict) else None
        return target
