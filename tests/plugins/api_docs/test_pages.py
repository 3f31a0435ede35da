"""The api-docs pages on a real backend: explorer, Definition tab, full page and raw download."""

from __future__ import annotations

import re

import yaml

from .conftest import Portal

HTML = {"accept": "text/html"}

OPENAPI = """\
openapi: 3.0.3
info:
  title: Pets
  version: 1.0.0
  description: Pets <script>alert('info')</script> **API**
  contact: {name: Team, url: "javascript:alert('contact')"}
externalDocs: {url: "javascript:alert('docs')", description: Docs}
servers:
  - url: "javascript:alert('server')"
paths:
  /pets:
    get:
      tags: [pets]
      operationId: listPets
      summary: List pets <img src=x onerror=alert(1)>
      parameters:
        - {name: limit, in: query, schema: {type: integer, maximum: 100}}
      responses:
        '200':
          description: A page of pets
          content:
            application/json:
              schema: {$ref: '#/components/schemas/Pet'}
components:
  schemas:
    Pet:
      type: object
      required: [name]
      properties:
        name: {type: string, description: "The <b>name</b>"}
        parent: {$ref: '#/components/schemas/Pet'}
"""


def test_definition_tab_renders_openapi_safely(portal: Portal) -> None:
    portal.add_api("pets", "openapi", OPENAPI)
    response = portal.client.get("/catalog/default/api/pets/definition", headers=HTML)
    assert response.status_code == 200, response.text
    html = response.text
    assert 'id="op-get-listPets"' in html and "/pets" in html
    assert "max: 100" in html and 'href="#schema-Pet"' in html and "circular reference" in html
    assert "<script>alert" not in html and "<img src=x" not in html and "<b>name</b>" not in html
    assert not re.search(r"href=\"\s*javascript:", html, re.I)
    assert 'href="/api-docs/default/pets/definition"' in html


def test_raw_download_has_content_type_and_attachment(portal: Portal) -> None:
    portal.add_api("pets", "openapi", OPENAPI)
    response = portal.client.get("/api-docs/default/pets/definition")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/yaml")
    assert response.headers["content-disposition"] == 'attachment; filename="pets.yaml"'
    assert response.headers["x-content-type-options"] == "nosniff"
    assert yaml.safe_load(response.text)["info"]["title"] == "Pets"
    assert portal.client.get("/api-docs/default/nope/definition").status_code == 404


def test_full_page_graphql_grpc_and_unknown_types(portal: Portal) -> None:
    portal.add_api("content", "graphql", "type Query { page(slug: String!): Page }\ntype Page { id: ID! }\n")
    portal.add_api(
        "payments",
        "grpc",
        'syntax = "proto3";\nservice P { rpc Pay(Req) returns (Res); }\n'
        "message Req { string id = 1; }\nmessage Res { bool ok = 1; }\n",
    )
    portal.add_api("broken", "openapi", "openapi: 3.0.0\npaths: [oops\n")
    page = portal.client.get("/api-docs/default/content", headers=HTML)
    assert page.status_code == 200 and 'id="gql-Page"' in page.text and 'href="#gql-Page"' in page.text
    grpc = portal.client.get("/catalog/default/api/payments/definition", headers=HTML)
    assert 'id="proto-rpc-P-Pay"' in grpc.text and 'href="#proto-Req"' in grpc.text
    broken = portal.client.get("/catalog/default/api/broken/definition", headers=HTML)
    assert "could not be parsed" in broken.text and "oops" in broken.text
    raw = portal.client.get("/api-docs/default/payments/definition")
    assert raw.headers["content-disposition"] == 'attachment; filename="payments.proto"'
    missing = portal.client.get("/api-docs/default/missing", headers=HTML)
    assert missing.status_code == 404 and "<html" in missing.text.lower()


def test_explorer_filters_facets_and_paging(portal: Portal) -> None:
    for index in range(30):
        kind = "openapi" if index % 3 else "graphql"
        definition = OPENAPI if kind == "openapi" else "type Query { a: String }\n"
        portal.add_api(
            f"api-{index:02d}", kind, definition, lifecycle="experimental" if index < 5 else "production"
        )
    page = portal.client.get("/api-docs", headers=HTML)
    assert page.status_code == 200
    assert (
        "30 APIs" in page.text and page.text.count('class="gr-entity-link" href="/catalog/default/api/') == 25
    )
    assert 'name="type" value="graphql"' in page.text
    next_href = re.search(r'href="(/api-docs\?[^"]*cursor=[^"]+)" rel="next"', page.text)
    assert next_href is not None
    second = portal.client.get(next_href.group(1).replace("&amp;", "&"), headers=HTML)
    assert second.text.count('class="gr-entity-link" href="/catalog/default/api/') == 5
    filtered = portal.client.get("/api-docs?type=graphql&lifecycle=experimental", headers=HTML)
    assert "2 APIs" in filtered.text and "api-00" in filtered.text and "api-03" in filtered.text
    assert 'value="graphql" checked' in filtered.text
    searched = portal.client.get("/api-docs?q=api-2", headers=HTML)
    assert "10 APIs" in searched.text
    empty = portal.client.get("/api-docs?owner=group:default/nobody", headers=HTML)
    assert "No APIs match" in empty.text
    for owner in ("group:default/team-a", "team-a", "group:team-a", "Default/Team-A"):
        owned = portal.client.get(f"/api-docs?owner={owner}", headers=HTML)
        assert "30 APIs" in owned.text, owner


def test_explorer_empty_catalog(portal: Portal) -> None:
    page = portal.client.get("/api-docs", headers=HTML)
    assert page.status_code == 200 and "No APIs yet" in page.text
