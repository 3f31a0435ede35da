"""JSON Schema (OpenAPI / AsyncAPI flavour) to a bounded tree for display, resolving local `$ref`s.

Definitions can be hostile or just huge: `$ref` cycles, schemas nested hundreds deep, YAML
aliases that fan out exponentially. Every tree is built under one shared node budget and a depth
limit, and a `$ref` already on the current path is shown as a link instead of being expanded.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote

from markupsafe import Markup

from greenroom.plugins.api_docs.text import clip, markdown

MAX_DEPTH = 10
MAX_PROPERTIES = 200
MAX_ENUM_VALUES = 25
_MISSING = object()


class Budget:
    """How many more tree nodes (and inline `$ref` expansions) one document may render."""

    def __init__(self, nodes: int = 2500) -> None:
        self.nodes = nodes
        self.exhausted = False

    def take(self) -> bool:
        if self.nodes <= 0:
            self.exhausted = True
            return False
        self.nodes -= 1
        return True


class RefResolver:
    """Resolves `#/a/b` JSON pointers inside one document; anything else stays unresolved."""

    def __init__(self, document: Any, anchors: Mapping[str, str] | None = None) -> None:
        self.document = document
        self.anchors = dict(anchors or {})  # "#/components/schemas/Order" -> "schema-Order"

    def resolve(self, ref: str) -> Any:
        if not ref.startswith("#"):
            return _MISSING
        node = self.document
        pointer = ref[1:]
        if not pointer:
            return node
        if not pointer.startswith("/"):
            return _MISSING
        for raw in pointer[1:].split("/"):
            part = unquote(raw).replace("~1", "/").replace("~0", "~")
            if isinstance(node, Mapping) and part in node:
                node = node[part]
            elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
                node = node[int(part)]
            else:
                return _MISSING
        return node

    def deref(self, value: Any, limit: int = 8) -> Any:
        """Follow a chain of `$ref`s (parameters, responses, messages) to the object, or None."""
        seen: set[str] = set()
        while isinstance(value, Mapping) and isinstance(value.get("$ref"), str) and limit > 0:
            ref = value["$ref"]
            if ref in seen:
                return None
            seen.add(ref)
            value = self.resolve(ref)
            if value is _MISSING:
                return None
            limit -= 1
        return value

    @staticmethod
    def ref_name(ref: str) -> str:
        return unquote(ref.rsplit("/", 1)[-1]) or ref


@dataclass
class SchemaNode:
    """One row of a schema tree: a property, an array's items, a variant of oneOf..."""

    name: str | None
    type_label: str
    required: bool = False
    ref_name: str | None = None
    ref_anchor: str | None = None
    description: Markup | None = None
    facts: list[str] = field(default_factory=list)
    children: list[SchemaNode] = field(default_factory=list)
    note: str | None = None
    deprecated: bool = False


def _type_label(schema: Mapping[str, Any]) -> str:
    kind = schema.get("type")
    if isinstance(kind, list):
        label = " | ".join(str(k) for k in kind[:6])
    elif isinstance(kind, str):
        label = kind
    elif "properties" in schema or "additionalProperties" in schema:
        label = "object"
    elif "items" in schema:
        label = "array"
    elif "enum" in schema:
        label = "enum"
    else:
        label = ""
    fmt = schema.get("format")
    if isinstance(fmt, str) and fmt:
        label = f"{label} ({clip(fmt, 40)})" if label else clip(fmt, 40)
    if schema.get("nullable") is True:
        label = f"{label} | null" if label else "null"
    return label


def _facts(schema: Mapping[str, Any]) -> list[str]:
    facts: list[str] = []
    enum = schema.get("enum")
    if isinstance(enum, list) and enum:
        shown = ", ".join(clip(v, 60) for v in enum[:MAX_ENUM_VALUES])
        more = f" … (+{len(enum) - MAX_ENUM_VALUES})" if len(enum) > MAX_ENUM_VALUES else ""
        facts.append(f"one of: {shown}{more}")
    for key, label in (
        ("const", "const"),
        ("default", "default"),
        ("example", "example"),
        ("minimum", "min"),
        ("maximum", "max"),
        ("exclusiveMinimum", "exclusive min"),
        ("exclusiveMaximum", "exclusive max"),
        ("minLength", "min length"),
        ("maxLength", "max length"),
        ("minItems", "min items"),
        ("maxItems", "max items"),
        ("pattern", "pattern"),
        ("multipleOf", "multiple of"),
    ):
        if key in schema and not isinstance(schema[key], Mapping | list):
            facts.append(f"{label}: {clip(schema[key], 80)}")
    if schema.get("readOnly") is True:
        facts.append("read-only")
    if schema.get("writeOnly") is True:
        facts.append("write-only")
    if schema.get("uniqueItems") is True:
        facts.append("unique items")
    return facts


class SchemaTreeBuilder:
    """Builds display trees for the schemas of one document, sharing a budget and anchors."""

    def __init__(self, resolver: RefResolver, budget: Budget) -> None:
        self.resolver = resolver
        self.budget = budget

    def build(self, schema: Any, name: str | None = None, *, required: bool = False) -> SchemaNode:
        return self._build(schema, name, required, (), 0)

    def _build(
        self, schema: Any, name: str | None, required: bool, stack: tuple[str, ...], depth: int
    ) -> SchemaNode:
        if not self.budget.take():
            return SchemaNode(
                name, "…", required, note="not shown: this definition is too large to show in full"
            )
        ref_name = ref_anchor = None
        if isinstance(schema, Mapping) and isinstance(schema.get("$ref"), str):
            ref = schema["$ref"]
            ref_name = RefResolver.ref_name(ref)
            ref_anchor = self.resolver.anchors.get(ref)
            if ref in stack:
                return SchemaNode(
                    name, ref_name, required, ref_name, ref_anchor, note="circular reference (shown above)"
                )
            target = self.resolver.resolve(ref)
            if target is _MISSING:
                return SchemaNode(
                    name, ref_name, required, ref_name, note=f"unresolved reference {clip(ref, 120)}"
                )
            stack = (*stack, ref)
            # Sibling keywords next to $ref (description, nullable) are kept, as OpenAPI 3.1 allows.
            extra = {k: v for k, v in schema.items() if k != "$ref"}
            schema = {**target, **extra} if isinstance(target, Mapping) and extra else target
        if schema is True or schema is None:
            return SchemaNode(name, ref_name or "any", required, ref_name, ref_anchor)
        if not isinstance(schema, Mapping):
            return SchemaNode(name, ref_name or "invalid schema", required, ref_name, ref_anchor)

        label = _type_label(schema)
        node = SchemaNode(
            name=name,
            type_label=(f"{ref_name} · {label}" if ref_name and label else ref_name or label or "any"),
            required=required,
            ref_name=ref_name,
            ref_anchor=ref_anchor,
            description=markdown(schema.get("description")),
            facts=_facts(schema),
            deprecated=schema.get("deprecated") is True,
        )
        if depth >= MAX_DEPTH:
            if self._has_children(schema):
                node.note = "nested too deep to show here"
            return node
        self._children(node, schema, stack, depth)
        return node

    @staticmethod
    def _has_children(schema: Mapping[str, Any]) -> bool:
        return any(
            k in schema for k in ("properties", "items", "allOf", "oneOf", "anyOf", "additionalProperties")
        )

    def _children(
        self, node: SchemaNode, schema: Mapping[str, Any], stack: tuple[str, ...], depth: int
    ) -> None:
        properties = schema.get("properties")
        if isinstance(properties, Mapping):
            required = schema.get("required")
            required_names = (
                {r for r in required if isinstance(r, str)} if isinstance(required, list) else set()
            )
            for index, (prop, sub) in enumerate(properties.items()):
                if index >= MAX_PROPERTIES:
                    node.children.append(
                        SchemaNode(None, "…", note=f"{len(properties) - index} more properties")
                    )
                    break
                node.children.append(
                    self._build(sub, str(prop), str(prop) in required_names, stack, depth + 1)
                )
                if self.budget.exhausted:
                    return
        items = schema.get("items")
        if isinstance(items, Mapping):
            child = self._build(items, "items", False, stack, depth + 1)
            if "array" in node.type_label:
                node.type_label = node.type_label.replace("array", f"array of {child.type_label}", 1)
            else:
                node.type_label = f"array of {child.type_label}"
            if child.children or child.description or child.facts or child.note:
                node.children.append(child)
        additional = schema.get("additionalProperties")
        if isinstance(additional, Mapping):
            node.children.append(self._build(additional, "{any key}", False, stack, depth + 1))
        for combinator, label in (("allOf", "all of"), ("oneOf", "one of"), ("anyOf", "any of")):
            variants = schema.get(combinator)
            if isinstance(variants, list) and variants:
                group = SchemaNode(None, label, note=None)
                if not self.budget.take():
                    return
                for index, variant in enumerate(variants[:MAX_PROPERTIES]):
                    group.children.append(
                        self._build(variant, f"option {index + 1}", False, stack, depth + 1)
                    )
                    if self.budget.exhausted:
                        break
                node.children.append(group)
