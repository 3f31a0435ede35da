"""Definition renderers: OpenAPI, Swagger 2, AsyncAPI, GraphQL, gRPC, and hostile or huge input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import yaml

from greenroom.plugins.api_docs.definition import MAX_PARSE_CHARS, build_view
from greenroom.plugins.api_docs.explorer import ExplorerParams
from greenroom.plugins.api_docs.graphql_sdl import GraphQlView
from greenroom.plugins.api_docs.openapi import OpenApiView
from greenroom.plugins.api_docs.protobuf import ProtoView
from greenroom.plugins.api_docs.schema_tree import Budget, RefResolver, SchemaNode, SchemaTreeBuilder
from greenroom.plugins.api_docs.text import markdown, safe_url

DEMO = Path(__file__).resolve().parents[3] / "examples" / "demo-org" / "components"


def walk(node: SchemaNode) -> list[SchemaNode]:
    found = [node]
    for child in node.children:
        found.extend(walk(child))
    return found


def test_demo_openapi_operations_parameters_and_resolved_refs() -> None:
    view = build_view("openapi", (DEMO / "order-service" / "openapi.yaml").read_text())
    assert view.kind == "openapi" and view.error is None
    model = view.model
    assert isinstance(model, OpenApiView)
    assert model.info.title == "Orders API"
    assert [s.url for s in model.servers] == ["https://api.acme-outfitters.com/orders/v3"]
    operations = {(op.method, op.path): op for tag in model.tags for op in tag.operations}
    list_orders = operations[("get", "/orders")]
    assert {p.name for p in list_orders.parameters} >= {"customerId", "status"}
    status = next(p for p in list_orders.parameters if p.name == "status")
    assert status.schema is not None and status.schema.ref_name == "OrderStatus"
    get_order = operations[("get", "/orders/{orderId}")]
    assert [p.name for p in get_order.parameters] == ["orderId"]  # path-level parameter, via $ref
    assert {r.status for r in get_order.responses} == {"200", "404"}
    order = get_order.responses[0].bodies[0].schema
    assert order is not None and order.ref_name == "Order" and order.children
    assert "Order" in {s.name for s in model.schemas}


def test_swagger_2_documents_render() -> None:
    doc = {
        "swagger": "2.0",
        "info": {"title": "Pets", "version": "1"},
        "host": "pets.example.com",
        "basePath": "/v1",
        "schemes": ["https"],
        "paths": {
            "/pets": {
                "post": {
                    "tags": ["pets"],
                    "parameters": [
                        {
                            "name": "body",
                            "in": "body",
                            "required": True,
                            "schema": {"$ref": "#/definitions/Pet"},
                        },
                        {"name": "dryRun", "in": "query", "type": "boolean"},
                    ],
                    "responses": {"201": {"description": "Created", "schema": {"$ref": "#/definitions/Pet"}}},
                }
            }
        },
        "definitions": {
            "Pet": {"type": "object", "required": ["name"], "properties": {"name": {"type": "string"}}}
        },
    }
    view = build_view("openapi", yaml.safe_dump(doc))
    model = view.model
    assert isinstance(model, OpenApiView)
    assert model.servers[0].url == "https://pets.example.com/v1"
    op = model.tags[0].operations[0]
    assert [p.name for p in op.parameters] == ["dryRun"]
    assert op.request_required and op.request_bodies[0].schema is not None
    assert op.request_bodies[0].schema.children[0].name == "name"
    assert op.request_bodies[0].schema.children[0].required
    assert op.responses[0].bodies[0].schema is not None


def test_ref_cycles_are_shown_as_links_not_expanded() -> None:
    doc = {
        "openapi": "3.0.0",
        "info": {"title": "T", "version": "1"},
        "paths": {},
        "components": {
            "schemas": {
                "Node": {"type": "object", "properties": {"next": {"$ref": "#/components/schemas/Node"}}},
                "A": {"$ref": "#/components/schemas/B"},
                "B": {"$ref": "#/components/schemas/A"},
            }
        },
    }
    view = build_view("openapi", yaml.safe_dump(doc))
    model = view.model
    assert isinstance(model, OpenApiView)
    node = next(s.tree for s in model.schemas if s.name == "Node")
    nested = node.children[0]
    assert nested.note == "circular reference (shown above)" and nested.ref_anchor == "schema-Node"
    for schema in model.schemas:
        assert len(walk(schema.tree)) < 10


def test_alias_bombs_and_deep_nesting_stay_within_the_node_budget() -> None:
    # Each level refers to the previous 60 times: 60**5 nodes if expanded naively.
    lines = ["openapi: 3.0.0", "info: {title: Bomb, version: '1'}", "paths: {}", "x0: &a0 {type: string}"]
    for i in range(1, 6):
        props = ", ".join(f"p{j}: *a{i - 1}" for j in range(60))
        lines.append(f"x{i}: &a{i} {{type: object, properties: {{{props}}}}}")
    lines.append("components: {schemas: {Bomb: *a5}}")
    started = time.perf_counter()
    view = build_view("openapi", "\n".join(lines))
    assert time.perf_counter() - started < 5
    model = view.model
    assert isinstance(model, OpenApiView)
    assert len(walk(model.schemas[0].tree)) <= 2600
    assert any("very large" in note for note in model.notes)

    budget = Budget(50)
    tree = SchemaTreeBuilder(RefResolver({}), budget).build(
        {"type": "array", "items": {"type": "array", "items": {}}}
    )
    assert tree.type_label.startswith("array of")


def test_hostile_text_is_sanitised_and_bad_urls_are_not_links() -> None:
    assert markdown("<script>alert(1)</script> **bold**") is not None
    html = str(markdown("<script>alert(1)</script> [x](javascript:alert(1)) <img src=x onerror=alert(1)>"))
    assert "<script" not in html and "<img" not in html and "href" not in html
    link = str(markdown("[docs](https://example.com) [bad](javascript:alert(1))"))
    assert 'href="https://example.com"' in link and 'href="javascript' not in link
    assert safe_url("javascript:alert(1)") is None
    assert safe_url(" JaVaScRiPt:alert(1)") is None
    assert safe_url("data:text/html,<b>") is None
    assert safe_url("https://example.com/docs") == "https://example.com/docs"


def test_invalid_yaml_becomes_an_error_with_raw_text() -> None:
    view = build_view("openapi", "openapi: 3.0.0\npaths: [unclosed\n")
    assert view.kind == "raw" and view.error and "line" in view.error
    assert view.raw is not None and "unclosed" in str(view.raw.html)
    not_openapi = build_view("openapi", "hello: world\n")
    assert not_openapi.error and "openapi" in not_openapi.error


def test_huge_definitions_are_shown_as_cut_plain_text() -> None:
    text = "openapi: 3.0.0\n" + "x: " + "a" * (5 * 1024 * 1024) + "\n"
    assert len(text) > MAX_PARSE_CHARS
    started = time.perf_counter()
    view = build_view("openapi", text)
    assert time.perf_counter() - started < 2
    assert view.kind == "raw" and view.notice and "too large" in view.notice
    assert view.raw is not None and view.raw.truncated and len(view.raw.html) < 1_000_000


def test_asyncapi_2_channels_operations_and_payloads() -> None:
    view = build_view("asyncapi", (DEMO / "order-service" / "asyncapi.yaml").read_text())
    assert view.kind == "asyncapi" and view.error is None
    model = view.model
    channel = model.channels[0]  # type: ignore[union-attr]
    assert channel.name == "orders.order-placed.v1"
    op = channel.operations[0]
    assert op.action == "subscribe" and op.operation_id == "onOrderPlaced"
    payload = op.messages[0].payload
    assert payload is not None and {c.name for c in payload.children} >= {"orderId", "lines", "total"}


def test_asyncapi_3_links_operations_to_channels() -> None:
    doc = {
        "asyncapi": "3.0.0",
        "info": {"title": "E", "version": "1"},
        "channels": {
            "userSignedUp": {
                "address": "user/signedup",
                "messages": {
                    "UserSignedUp": {"payload": {"type": "object", "properties": {"id": {"type": "string"}}}}
                },
            }
        },
        "operations": {
            "onUserSignUp": {
                "action": "receive",
                "channel": {"$ref": "#/channels/userSignedUp"},
                "messages": [{"$ref": "#/channels/userSignedUp/messages/UserSignedUp"}],
            }
        },
    }
    model = build_view("asyncapi", yaml.safe_dump(doc)).model
    channel = model.channels[0]  # type: ignore[union-attr]
    assert channel.address == "user/signedup"
    assert channel.messages[0].name == "UserSignedUp"
    assert channel.operations[0].action == "receive" and channel.operations[0].message_names == [
        "UserSignedUp"
    ]


def test_graphql_sdl_outline_and_links() -> None:
    view = build_view("graphql", (DEMO / "content-service" / "schema.graphql").read_text())
    model = view.model
    assert isinstance(model, GraphQlView)
    roots = dict(model.roots)
    assert "page" in {f.name for f in roots["Queries"]}
    page = next(f for f in roots["Queries"] if f.name == "page")
    assert page.return_anchor == "gql-Page"
    blocks = {b.name: b for g in model.groups for b in g.blocks}
    assert 'href="#gql-ContentBlock"' in str(blocks["HeroBlock"].code)


def test_graphql_syntax_error_and_hostile_sdl() -> None:
    view = build_view("graphql", "type Query { broken(: }")
    assert view.kind == "raw" and view.error and "GraphQL syntax error" in view.error
    hostile = build_view("graphql", '"""<script>alert(1)</script>"""\ntype Query { a: String }')
    assert isinstance(hostile.model, GraphQlView)
    code = "".join(str(b.code) for g in hostile.model.groups for b in g.blocks)
    assert "<script>" not in code and "&lt;script&gt;" in code


def test_proto_services_messages_enums_and_nested_types() -> None:
    view = build_view("grpc", (DEMO / "payments-gateway" / "payments.proto").read_text())
    model = view.model
    assert isinstance(model, ProtoView)
    assert model.package == "acme.payments.v1"
    rpc = next(r for r in model.services[0].rpcs if r.name == "WatchPayments")
    assert rpc.response_stream and rpc.response_anchor == "proto-PaymentEvent"
    nested = build_view(
        "grpc",
        'syntax = "proto3";\npackage p;\nmessage Outer { message Inner { int32 x = 1; }\n'
        "  Inner inner = 1; map<string, Inner> by_key = 2; oneof pick { string a = 3; }\n"
        "  /* hostile <b>comment</b> */ repeated .p.Outer children = 4 [deprecated = true]; }\n"
        "enum E { E_UNSPECIFIED = 0; }\nservice S { rpc Get(Outer) returns (stream E) { option x = 1; } }\n",
    ).model
    assert isinstance(nested, ProtoView)
    outer = next(m for m in nested.messages if m.name == "Outer")
    assert [f.type_anchor for f in outer.fields] == [
        "proto-Outer.Inner",
        "proto-Outer.Inner",
        None,
        "proto-Outer",
    ]
    assert "<b>" not in str(nested.source)
    broken = build_view("grpc", "message A { int32 x = 1;")
    assert broken.kind == "raw" and broken.error


def test_unknown_types_are_highlighted_raw_text() -> None:
    view = build_view("trpc", '{"router": "<b>x</b>"}')
    assert view.kind == "raw" and view.error is None
    assert view.raw is not None and "<b>" not in str(view.raw.html)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            {"type": ["openapi", "grpc"], "q": [" pay "]},
            ExplorerParams(types=("openapi", "grpc"), query="pay"),
        ),
        ({"limit": ["1000"]}, ExplorerParams()),
        ({"limit": ["50"], "cursor": ["abc"]}, ExplorerParams(limit=50, cursor="abc")),
    ],
)
def test_explorer_url_state(query: dict[str, list[str]], expected: ExplorerParams) -> None:
    params = ExplorerParams.from_query(query)
    assert params == expected
    assert ExplorerParams.from_query({"owner": ["group:default/a"]}).href(cursor="X") == (
        "/api-docs?owner=group%3Adefault%2Fa&cursor=X"
    )
