"""Walk the config schemas (Pydantic models) into documented key paths, types and defaults.

Used by the drift guard (every key must appear in docs/configuration.md) and, run as a script,
to print the skeleton of the reference tables:

    .venv/bin/python -m tests.docs.config_keys
"""

from __future__ import annotations

import types
import typing
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from greenroom.core.config import CORE_CONFIG_SCHEMAS
from greenroom.plugins.catalog.config import CatalogConfig

MAP_KEY = "<name>"


@dataclass(frozen=True)
class ConfigKey:
    path: str
    type: str
    default: str
    secret: bool


def documented_schemas() -> dict[str, type[BaseModel]]:
    """The core's top-level sections plus the catalog's."""
    return {**CORE_CONFIG_SCHEMAS, "catalog": CatalogConfig}


def _strip_annotated(annotation: Any) -> Any:
    while typing.get_origin(annotation) is typing.Annotated:
        annotation = typing.get_args(annotation)[0]
    return annotation


def _members(annotation: Any) -> list[Any]:
    annotation = _strip_annotated(annotation)
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return [_strip_annotated(a) for a in typing.get_args(annotation)]
    return [annotation]


def _models_in(annotation: Any) -> list[tuple[str, type[BaseModel]]]:
    """(suffix, model) for every model reachable directly, through a list, or through a dict."""
    found: list[tuple[str, type[BaseModel]]] = []
    for member in _members(annotation):
        origin = typing.get_origin(member)
        if isinstance(member, type) and issubclass(member, BaseModel):
            found.append(("", member))
        elif origin is list:
            for suffix, model in _models_in(typing.get_args(member)[0]):
                found.append(("[]" + suffix, model))
        elif origin is dict:
            for suffix, model in _models_in(typing.get_args(member)[1]):
                found.append(("." + MAP_KEY + suffix, model))
    return found


def type_name(annotation: Any) -> str:
    names: list[str] = []
    for member in _members(annotation):
        origin = typing.get_origin(member)
        if member is type(None):
            names.append("null")
        elif member is timedelta or (
            typing.get_origin(annotation) is typing.Annotated and member is timedelta
        ):
            names.append("duration")
        elif origin is typing.Literal:
            names.append(" \\| ".join(repr(v).replace("'", '"') for v in typing.get_args(member)))
        elif origin is list:
            inner = typing.get_args(member)[0]
            names.append(f"list of {type_name(inner)}")
        elif origin is dict:
            names.append(f"map of {type_name(typing.get_args(member)[1])}")
        elif isinstance(member, type) and issubclass(member, BaseModel):
            names.append("object")
        elif member is Any:
            names.append("any")
        elif isinstance(member, type):
            names.append(
                {"str": "string", "int": "integer", "bool": "boolean", "float": "number"}.get(
                    member.__name__, member.__name__
                )
            )
        else:
            names.append(str(member))
    return " or ".join(dict.fromkeys(names))


def _default(field: Any) -> str:
    if field.default is not PydanticUndefined:
        value = field.default
    elif field.default_factory is not None:
        value = field.default_factory()
    else:
        return "required"
    if isinstance(value, BaseModel):
        return "(object)"
    if isinstance(value, list):
        value = [v.model_dump(by_alias=True) if isinstance(v, BaseModel) else v for v in value]
    return (
        repr(value)
        .replace("'", '"')
        .replace("None", "null")
        .replace("True", "true")
        .replace("False", "false")
    )


def field_key(name: str, field: Any) -> str:
    return field.alias or name


def walk(model: type[BaseModel], prefix: str) -> Iterator[ConfigKey]:
    for name, field in model.model_fields.items():
        path = f"{prefix}.{field_key(name, field)}"
        extra = field.json_schema_extra if isinstance(field.json_schema_extra, Mapping) else {}
        secret = extra.get("visibility") == "secret" or extra.get("deepVisibility") == "secret"
        yield ConfigKey(path, type_name(field.annotation), _default(field), bool(secret))
        for suffix, sub_model in _models_in(field.annotation):
            yield from walk(sub_model, path + suffix)


def all_config_keys() -> list[ConfigKey]:
    keys: list[ConfigKey] = []
    for top, model in documented_schemas().items():
        keys.extend(walk(model, top))
    return keys


if __name__ == "__main__":
    for key in all_config_keys():
        secret = " (secret)" if key.secret else ""
        print(f"| `{key.path}` | {key.type}{secret} | `{key.default}` | |")
