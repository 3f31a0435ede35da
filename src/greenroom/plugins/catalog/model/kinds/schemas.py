"""JSON Schemas (draft-07) of the entity envelope and of every built-in kind.

Written from Backstage's documented field tables. Kind schemas describe `spec` only; the
registry combines each with the envelope schema, and matches `kind`/`apiVersion` itself, so a
custom kind's schema stays short. Following Backstage, `spec` objects allow extra keys.
"""

from __future__ import annotations

from typing import Any

JsonSchema = dict[str, Any]

BACKSTAGE_API_VERSIONS = ("backstage.io/v1alpha1", "backstage.io/v1beta1")
TEMPLATE_API_VERSIONS = ("scaffolder.backstage.io/v1beta3",)


def _non_empty_string(description: str = "") -> JsonSchema:
    schema: JsonSchema = {"type": "string", "minLength": 1}
    if description:
        schema["description"] = description
    return schema


def _ref(default_kind: str | None) -> JsonSchema:
    hint = f"default kind {default_kind}" if default_kind else "the kind is required"
    return _non_empty_string(f"An entity reference ({hint}).")


def _ref_list(default_kind: str | None) -> JsonSchema:
    return {"type": "array", "items": _ref(default_kind)}


def _spec_schema(required: list[str], properties: dict[str, JsonSchema], **extra: Any) -> JsonSchema:
    spec: JsonSchema = {"type": "object", "properties": properties}
    if required:
        spec["required"] = required
    spec.update(extra)
    return {"type": "object", "required": ["spec"], "properties": {"spec": spec}}


_STRING_MAP: JsonSchema = {"type": "object", "additionalProperties": {"type": "string"}}

ENVELOPE_SCHEMA: JsonSchema = {
    "$schema": "http://json-schema.org/draft-07/schema#",
    "title": "Entity envelope",
    "type": "object",
    "required": ["apiVersion", "kind", "metadata"],
    "properties": {
        "apiVersion": _non_empty_string(),
        "kind": _non_empty_string(),
        "metadata": {
            "type": "object",
            "required": ["name"],
            "properties": {
                "uid": _non_empty_string(),
                "etag": _non_empty_string(),
                "name": _non_empty_string(),
                "namespace": _non_empty_string(),
                "title": _non_empty_string(),
                "description": {"type": "string"},
                "labels": _STRING_MAP,
                "annotations": _STRING_MAP,
                "tags": {"type": "array", "items": _non_empty_string()},
                "links": {
                    "type": "array",
                    "items": {
                        "type": "object",
                        "required": ["url"],
                        "properties": {
                            "url": _non_empty_string(),
                            "title": _non_empty_string(),
                            "icon": _non_empty_string(),
                            "type": _non_empty_string(),
                        },
                    },
                },
            },
        },
        "spec": {"type": "object"},
    },
}

_PROFILE: JsonSchema = {
    "type": "object",
    "properties": {
        "displayName": _non_empty_string(),
        "email": _non_empty_string(),
        "picture": _non_empty_string(),
    },
}

COMPONENT_SCHEMA = _spec_schema(
    ["type", "lifecycle", "owner"],
    {
        "type": _non_empty_string(),
        "lifecycle": _non_empty_string(),
        "owner": _ref("Group"),
        "system": _ref("System"),
        "subcomponentOf": _ref("Component"),
        "providesApis": _ref_list("API"),
        "consumesApis": _ref_list("API"),
        "dependsOn": _ref_list(None),
        "dependencyOf": _ref_list(None),
    },
)

_MCP_REMOTE: JsonSchema = {
    "type": "object",
    "required": ["type", "url"],
    "properties": {"type": _non_empty_string(), "url": _non_empty_string()},
}

# The mcp-server variant swaps `definition` for `remotes`; if/then keeps it one schema.
API_SCHEMA = _spec_schema(
    ["type", "lifecycle", "owner"],
    {
        "type": _non_empty_string(),
        "lifecycle": _non_empty_string(),
        "owner": _ref("Group"),
        "system": _ref("System"),
        "definition": _non_empty_string(),
    },
    **{
        "if": {"required": ["type"], "properties": {"type": {"const": "mcp-server"}}},
        "then": {
            "required": ["remotes"],
            "properties": {"remotes": {"type": "array", "minItems": 1, "items": _MCP_REMOTE}},
        },
        "else": {"required": ["definition"]},
    },
)

RESOURCE_SCHEMA = _spec_schema(
    ["type", "owner"],
    {
        "type": _non_empty_string(),
        "owner": _ref("Group"),
        "system": _ref("System"),
        "dependsOn": _ref_list(None),
        "dependencyOf": _ref_list(None),
    },
)

SYSTEM_SCHEMA = _spec_schema(
    ["owner"],
    {"owner": _ref("Group"), "domain": _ref("Domain"), "type": _non_empty_string()},
)

DOMAIN_SCHEMA = _spec_schema(
    ["owner"],
    {"owner": _ref("Group"), "subdomainOf": _ref("Domain"), "type": _non_empty_string()},
)

GROUP_SCHEMA = _spec_schema(
    ["type", "children"],
    {
        "type": _non_empty_string(),
        "profile": _PROFILE,
        "parent": _ref("Group"),
        "children": _ref_list("Group"),
        "members": _ref_list("User"),
    },
)

USER_SCHEMA = _spec_schema(
    ["memberOf"],
    {"profile": _PROFILE, "memberOf": _ref_list("Group")},
)

LOCATION_SCHEMA = _spec_schema(
    [],
    {
        "type": _non_empty_string(),
        "target": _non_empty_string(),
        "targets": {"type": "array", "items": _non_empty_string()},
        "presence": {"enum": ["required", "optional"]},
    },
)

_JSON_SCHEMA_OBJECT: JsonSchema = {"type": "object"}

TEMPLATE_SCHEMA = _spec_schema(
    ["type", "steps"],
    {
        "type": _non_empty_string(),
        "owner": _ref("Group"),
        "lifecycle": _non_empty_string(),
        "parameters": {
            "anyOf": [_JSON_SCHEMA_OBJECT, {"type": "array", "items": _JSON_SCHEMA_OBJECT}],
        },
        "steps": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["action"],
                "properties": {
                    "id": _non_empty_string(),
                    "name": {"type": "string"},
                    "action": _non_empty_string(),
                    "input": {"type": "object"},
                    "if": {"type": ["string", "boolean"]},
                },
            },
        },
        "output": {
            "type": "object",
            "properties": {
                "links": {"type": "array", "items": {"type": "object"}},
                "text": {"type": "array", "items": {"type": "object"}},
            },
        },
        "secrets": {"type": "object", "properties": {"schema": _JSON_SCHEMA_OBJECT}},
        "presentation": {
            "type": "object",
            "properties": {
                "buttonLabels": {
                    "type": "object",
                    "properties": {
                        "backButtonText": {"type": "string"},
                        "createButtonText": {"type": "string"},
                        "reviewButtonText": {"type": "string"},
                    },
                }
            },
        },
        "EXPERIMENTAL_recovery": {
            "type": "object",
            "properties": {"EXPERIMENTAL_strategy": {"type": "string"}},
        },
        "formDecorators": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["id"],
                "properties": {"id": _non_empty_string(), "input": {"type": "object"}},
            },
        },
    },
)

BUILTIN_KIND_SCHEMAS: dict[str, tuple[tuple[str, ...], JsonSchema]] = {
    "Component": (BACKSTAGE_API_VERSIONS, COMPONENT_SCHEMA),
    "API": (BACKSTAGE_API_VERSIONS, API_SCHEMA),
    "Resource": (BACKSTAGE_API_VERSIONS, RESOURCE_SCHEMA),
    "System": (BACKSTAGE_API_VERSIONS, SYSTEM_SCHEMA),
    "Domain": (BACKSTAGE_API_VERSIONS, DOMAIN_SCHEMA),
    "Group": (BACKSTAGE_API_VERSIONS, GROUP_SCHEMA),
    "User": (BACKSTAGE_API_VERSIONS, USER_SCHEMA),
    "Location": (BACKSTAGE_API_VERSIONS, LOCATION_SCHEMA),
    "Template": (TEMPLATE_API_VERSIONS, TEMPLATE_SCHEMA),
}
