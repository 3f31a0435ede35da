"""GraphQL SDL to a navigable display model: root fields, every type by kind, highlighted blocks."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import GraphQLError, parse, print_ast
from graphql.language import ast
from markupsafe import Markup

from greenroom.plugins.api_docs.code import highlight_graphql
from greenroom.plugins.api_docs.openapi import DefinitionError
from greenroom.plugins.api_docs.text import Anchors, clip, markdown

MAX_TOKENS = 400_000
MAX_DEFINITIONS = 1500
MAX_BLOCK_CHARS = 20_000

_KIND_LABELS: dict[type[ast.Node], str] = {
    ast.ObjectTypeDefinitionNode: "Object types",
    ast.InterfaceTypeDefinitionNode: "Interfaces",
    ast.UnionTypeDefinitionNode: "Unions",
    ast.EnumTypeDefinitionNode: "Enums",
    ast.InputObjectTypeDefinitionNode: "Input types",
    ast.ScalarTypeDefinitionNode: "Scalars",
    ast.DirectiveDefinitionNode: "Directives",
    ast.SchemaDefinitionNode: "Schema",
}
_ROOT_TITLES = {"query": "Queries", "mutation": "Mutations", "subscription": "Subscriptions"}


@dataclass
class RootField:
    name: str
    anchor: str
    signature: str
    return_type: str
    return_anchor: str | None
    description: Markup | None
    deprecated: bool


@dataclass
class TypeBlock:
    name: str
    anchor: str
    kind: str
    description: Markup | None
    code: Markup


@dataclass
class TypeGroup:
    title: str
    blocks: list[TypeBlock] = field(default_factory=list)


@dataclass
class GraphQlView:
    roots: list[tuple[str, list[RootField]]]
    groups: list[TypeGroup]
    notes: list[str]


def _named_type(node: Any) -> str:
    while isinstance(node, ast.ListTypeNode | ast.NonNullTypeNode):
        node = node.type
    return node.name.value if isinstance(node, ast.NamedTypeNode) else ""


def _is_deprecated(node: Any) -> bool:
    return any(d.name.value == "deprecated" for d in getattr(node, "directives", None) or ())


def render_graphql(source: str) -> GraphQlView:
    """Parse SDL and build the view; raise DefinitionError with the parser's message on failure."""
    try:
        document = parse(source, max_tokens=MAX_TOKENS)
    except GraphQLError as error:
        raise DefinitionError(f"GraphQL syntax error: {clip(error.message, 300)}") from error
    except RecursionError as error:
        raise DefinitionError("GraphQL document is nested too deeply to parse") from error

    anchors = Anchors()
    type_anchors: dict[str, str] = {}
    root_names = {"query": "Query", "mutation": "Mutation", "subscription": "Subscription"}
    definitions = list(document.definitions[:MAX_DEFINITIONS])
    for definition in definitions:
        if isinstance(definition, ast.SchemaDefinitionNode | ast.SchemaExtensionNode):
            for op_type in definition.operation_types or ():
                root_names[op_type.operation.value] = op_type.type.name.value
        name = getattr(getattr(definition, "name", None), "value", None)
        if isinstance(definition, ast.TypeDefinitionNode) and name and name not in type_anchors:
            type_anchors[name] = anchors.make("gql", name)

    root_fields: dict[str, list[RootField]] = {op: [] for op in root_names}
    by_root = {type_name: op for op, type_name in root_names.items()}
    groups: dict[str, TypeGroup] = {}
    for definition in definitions:
        name = getattr(getattr(definition, "name", None), "value", None)
        if (
            isinstance(definition, ast.ObjectTypeDefinitionNode | ast.ObjectTypeExtensionNode)
            and name in by_root
        ):
            op = by_root[name]
            for fld in definition.fields or ():
                args = ", ".join(f"{a.name.value}: {print_ast(a.type)}" for a in fld.arguments or ())
                returned = _named_type(fld.type)
                root_fields[op].append(
                    RootField(
                        name=fld.name.value,
                        anchor=anchors.make("gql", name, fld.name.value),
                        signature=clip(f"({args})" if args else "", 400),
                        return_type=print_ast(fld.type),
                        return_anchor=type_anchors.get(returned),
                        description=markdown(fld.description.value if fld.description else None),
                        deprecated=_is_deprecated(fld),
                    )
                )
        label = next((lbl for cls, lbl in _KIND_LABELS.items() if isinstance(definition, cls)), None)
        if isinstance(definition, ast.TypeExtensionNode | ast.SchemaExtensionNode):
            label = "Extensions"
        if name in by_root and isinstance(definition, ast.ObjectTypeDefinitionNode):
            label = "Root types"
        if label is None or definition.loc is None:
            continue
        text = source[definition.loc.start : definition.loc.end]
        if len(text) > MAX_BLOCK_CHARS:
            text = text[:MAX_BLOCK_CHARS] + "\n# … (cut: download the raw definition for the rest)"
        description = getattr(definition, "description", None)
        display = name or ("schema" if isinstance(definition, ast.SchemaDefinitionNode) else "extension")
        if isinstance(definition, ast.DirectiveDefinitionNode):
            display = f"@{name}"
        block_anchor = (
            type_anchors[name]
            if name and type_anchors.get(name) and isinstance(definition, ast.TypeDefinitionNode)
            else anchors.make("gql", "def", display)
        )
        groups.setdefault(label, TypeGroup(label)).blocks.append(
            TypeBlock(
                name=display,
                anchor=block_anchor,
                kind=type(definition).__name__.removesuffix("Node"),
                description=markdown(description.value if description else None),
                code=highlight_graphql(text, type_anchors),
            )
        )
    order = ["Root types", *_KIND_LABELS.values(), "Extensions"]
    notes = []
    if len(document.definitions) > MAX_DEFINITIONS:
        notes.append(f"Showing the first {MAX_DEFINITIONS} of {len(document.definitions)} definitions.")
    return GraphQlView(
        roots=[(_ROOT_TITLES[op], fields) for op, fields in root_fields.items() if fields],
        groups=[groups[label] for label in order if label in groups],
        notes=notes,
    )
