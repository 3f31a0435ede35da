"""The entity page at /catalog/{namespace}/{kind}/{name}: header, tabs, cards, actions and safety."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from html.parser import HTMLParser
from typing import Any

import pytest
import sqlalchemy as sa
from markupsafe import Markup

from greenroom.plugins.catalog.ui.entity_page import (
    ancestry_rows,
    render_markdown,
    safe_url,
)
from greenroom.plugins.catalog.ui.registry import EntityTab, entity_page_service_ref, has_annotation
from greenroom.plugins.user_settings.client import user_settings_service_ref

from .conftest import CatalogHarness, component

PAGE = "/catalog/default/component/checkout"

SHOP = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata:
  name: team-a
  title: Team Alpha
spec:
  type: team
  children: []
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata:
  name: shop
  description: The web shop
spec:
  owner: team-a
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: checkout
  title: Checkout Service
  description: |
    Takes **payments** and creates orders.

    - one
    - two
  tags: [java, rest]
  labels:
    tier: "1"
  annotations:
    backstage.io/source-location: url:https://example.com/repo/tree/main/
    example.com/docs: "true"
  links:
    - url: https://grafana.example.com/d/checkout
      title: Dashboard
      icon: dashboard
spec:
  type: service
  lifecycle: production
  owner: team-a
  system: shop
  providesApis: [checkout-api]
  consumesApis: [cart-api]
  dependsOn: [resource:orders-db]
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: checkout-api
  title: Checkout API
spec:
  type: openapi
  lifecycle: production
  owner: team-a
  system: shop
  definition: "openapi: 3.0.0"
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata:
  name: orders-db
spec:
  type: database
  owner: team-a
  system: shop
"""


@pytest.fixture
def shop(catalog: CatalogHarness) -> CatalogHarness:
    catalog.register(catalog.write("shop/catalog-info.yaml", SHOP))
    catalog.settle()
    return catalog


class _Inspector(HTMLParser):
    """Collects what a browser would execute or follow: event handlers, script bodies, link targets."""

    def __init__(self) -> None:
        super().__init__()
        self.handlers: list[tuple[str, str]] = []
        self.urls: list[str] = []
        self.script_bodies: list[str] = []
        self.tags: list[str] = []
        self._in_script = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self._in_script = tag == "script"
        for name, value in attrs:
            if name.startswith("on"):
                self.handlers.append((tag, name))
            if name in ("href", "src", "action", "formaction") and value is not None:
                self.urls.append(value)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._in_script = False

    def handle_data(self, data: str) -> None:
        if self._in_script:
            self.script_bodies.append(data)


def inspect(html: str) -> _Inspector:
    parser = _Inspector()
    parser.feed(html)
    return parser


# -- pure helpers ----------------------------------------------------------------------------------


def test_safe_url_only_accepts_absolute_http_urls() -> None:
    assert safe_url("https://example.com/x") == "https://example.com/x"
    assert safe_url("http://example.com") == "http://example.com"
    for hostile in (
        "javascript:alert(1)",
        " JaVaScRiPt:alert(1)",
        "java\tscript:alert(1)",
        "data:text/html,x",
        "//evil.example.com",
        "/relative",
        "vbscript:x",
        "",
        None,
        42,
    ):
        assert safe_url(hostile) is None, hostile


def test_markdown_is_rendered_without_raw_html() -> None:
    html = render_markdown(
        "**bold** <script>alert(1)</script> <img src=x onerror=alert(1)> [x](javascript:alert(1))"
    )
    assert isinstance(html, Markup)
    assert "<strong>bold</strong>" in html
    assert "<script" not in html and "<img" not in html
    assert "href" not in html  # the javascript: link stays plain text
    assert 'href="https://example.com"' in render_markdown("[ok](https://example.com)")
    assert render_markdown(None) == ""


def test_ancestry_rows_are_ordered_from_the_root_down() -> None:
    def entity(kind: str, name: str) -> dict[str, Any]:
        return {"kind": kind, "metadata": {"name": name, "namespace": "default"}}

    rows = ancestry_rows(
        {
            "items": [
                {"entity": entity("Component", "c"), "parentEntityRefs": ["location:default/child"]},
                {"entity": entity("Location", "child"), "parentEntityRefs": ["location:default/root"]},
                {"entity": entity("Location", "root"), "parentEntityRefs": []},
            ]
        }
    )
    assert [(r["ref"], r["depth"]) for r in rows] == [
        ("location:default/root", 0),
        ("location:default/child", 1),
        ("component:default/c", 2),
    ]


# -- the page --------------------------------------------------------------------------------------


def test_overview_shows_header_about_and_relation_cards(shop: CatalogHarness) -> None:
    response = shop.client.get(PAGE)
    assert response.status_code == 200, response.text
    html = response.text
    assert "Checkout Service" in html
    assert "component:default/checkout" in html
    # About card: markdown description, owner/system links with titles, source link
    assert "<strong>payments</strong>" in html and "<li>one</li>" in html
    assert 'href="/catalog/default/group/team-a"' in html and "Team Alpha" in html
    assert 'href="/catalog/default/system/shop"' in html
    assert 'href="https://example.com/repo/tree/main/"' in html and "View source" in html
    # Relation cards link to existing entities; the missing cart-api is flagged, not linked
    assert "Provided APIs" in html and 'href="/catalog/default/api/checkout-api"' in html
    assert "Consumed APIs" in html and "api:default/cart-api" in html
    assert 'href="/catalog/default/api/cart-api"' not in html
    assert "Depends on" in html and 'href="/catalog/default/resource/orders-db"' in html
    assert "not in the catalog" in html  # dangling relation warning
    # Links, labels, tags, lifecycle, tabs
    assert 'href="https://grafana.example.com/d/checkout"' in html
    assert "tier" in html and "java" in html and "production" in html
    assert 'aria-current="page">Overview</a>' in html
    assert f'href="{PAGE}/raw"' in html


def test_lookups_are_case_insensitive(shop: CatalogHarness) -> None:
    response = shop.client.get("/catalog/DEFAULT/Component/CHECKOUT")
    assert response.status_code == 200
    assert "Checkout Service" in response.text


def test_unknown_entity_is_a_helpful_404_in_the_portal_look(shop: CatalogHarness) -> None:
    response = shop.client.get("/catalog/default/component/nope")
    assert response.status_code == 404
    html = response.text
    assert "gr-sidebar" in html  # same layout as every page
    assert "No component named" in html and "nope" in html
    assert 'href="/search?q=nope"' in html
    assert 'href="/catalog?' in html


def test_unknown_tab_is_404(shop: CatalogHarness) -> None:
    response = shop.client.get(PAGE + "/no-such-tab")
    assert response.status_code == 404
    assert "Overview" in response.text


def test_raw_tab_shows_yaml_json_downloads_and_ancestry(shop: CatalogHarness) -> None:
    html = shop.client.get(PAGE + "/raw").text
    assert "kind: Component" in html
    assert "data-gr-copy" in html
    assert f'href="{PAGE}/raw/yaml"' in html and f'href="{PAGE}/raw/json"' in html
    assert "Ancestry" in html and "location:default/generated-" in html
    json_html = shop.client.get(PAGE + "/raw?format=json").text
    assert "&#34;kind&#34;: &#34;Component&#34;" in json_html or "&quot;kind&quot;" in json_html
    download = shop.client.get(PAGE + "/raw/yaml")
    assert download.status_code == 200
    assert "attachment" in download.headers["content-disposition"]
    assert download.text.startswith("apiVersion: backstage.io/v1alpha1")
    as_json = shop.client.get(PAGE + "/raw/json")
    assert as_json.json()["metadata"]["name"] == "checkout"
    assert shop.client.get(PAGE + "/raw/xml").status_code == 404


def test_visits_are_recorded(shop: CatalogHarness) -> None:
    settings = shop.backend.backend.get_service(user_settings_service_ref)
    shop.client.get(PAGE)
    visited = settings.recently_visited("user:default/guest")
    assert "component:default/checkout" in visited


def test_star_toggle_works_with_a_plain_form_and_with_fetch(shop: CatalogHarness) -> None:
    assert 'aria-pressed="false"' in shop.client.get(PAGE).text
    response = shop.client.post(PAGE + "/star", data={"starred": "true"}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == PAGE
    assert 'aria-pressed="true"' in shop.client.get(PAGE).text
    settings = shop.backend.backend.get_service(user_settings_service_ref)
    assert "component:default/checkout" in settings.starred("user:default/guest")
    response = shop.client.post(
        PAGE + "/star", data={"starred": "false"}, headers={"Accept": "application/json"}
    )
    assert response.json() == {"entityRef": "component:default/checkout", "starred": False}
    assert 'aria-pressed="false"' in shop.client.get(PAGE).text


def test_refresh_schedules_processing_and_flashes(shop: CatalogHarness) -> None:
    response = shop.client.post(PAGE + "/refresh", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == PAGE + "?flash=refreshed"
    assert "Refresh scheduled" in shop.client.get(response.headers["location"]).text


def test_unregister_confirmation_lists_the_location_tree_and_removes_it(shop: CatalogHarness) -> None:
    html = shop.client.get(PAGE + "/unregister").text
    assert "shop/catalog-info.yaml" in html
    for ref in (
        "component:default/checkout",
        "api:default/checkout-api",
        "system:default/shop",
        "group:default/team-a",
    ):
        assert ref in html
    assert 'value="location"' in html and 'value="entity"' in html
    response = shop.client.post(PAGE + "/unregister", data={"mode": "location"}, follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/catalog/-/unregistered?")
    done = shop.client.get(response.headers["location"])
    assert done.status_code == 200 and "component:default/checkout" in done.text
    shop.settle()
    assert shop.entity("component:default/checkout") is None
    assert shop.entity("api:default/checkout-api") is None
    assert shop.client.get("/api/catalog/locations").json() == []


def test_unregister_only_the_entity(shop: CatalogHarness) -> None:
    shop.service.engine.stop()  # paused: its location is due at once, and would heal it before we look
    try:
        response = shop.client.post(
            "/catalog/default/resource/orders-db/unregister", data={"mode": "entity"}, follow_redirects=False
        )
        assert response.status_code == 303
        assert shop.entity("resource:default/orders-db") is None
        assert shop.entity("component:default/checkout") is not None
        assert len(shop.client.get("/api/catalog/locations").json()) == 1
    finally:
        shop.service.engine.start()
    # its file still describes it: the next processing of its location brings it back (as Backstage heals)
    shop.settle()
    assert shop.entity("resource:default/orders-db") is not None


def test_processing_errors_show_file_and_field(catalog: CatalogHarness) -> None:
    path = catalog.write(
        "broken/catalog-info.yaml",
        component("broken").rstrip() + "\n  dependsOn: [orders-db]\n",
    )
    catalog.register(path)
    catalog.settle()
    response = catalog.client.get("/catalog/default/component/broken")
    assert response.status_code == 200
    html = response.text
    assert "Processing error" in html
    assert "missing or empty kind" in html
    assert "broken/catalog-info.yaml" in html
    assert "spec.dependsOn.0" in html
    assert "1 processing error" in html  # header badge


def test_processing_error_line_is_shown(catalog: CatalogHarness) -> None:
    catalog.write(
        "bad/broken.yaml",
        "apiVersion: backstage.io/v1alpha1\nkind: Component\nmetadata:\n  name: x\n   y: z\n",
    )
    root = catalog.write(
        "bad/catalog-info.yaml",
        """
        apiVersion: backstage.io/v1alpha1
        kind: Location
        metadata:
          name: bad-root
        spec:
          targets: [./broken.yaml]
        """,
    )
    catalog.register(root)
    catalog.settle()
    html = catalog.client.get("/catalog/default/location/bad-root").text
    assert "bad/broken.yaml" in html
    assert "(line 5)" in html


HOSTILE = """
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: hostile
  title: "<script>alert('title')</script>"
  description: |
    <script>alert('desc')</script> <img src=x onerror="alert('img')">
    [click](javascript:alert('md')) <a href="javascript:alert('a')">a</a>
  labels:
    evil: x-onerror
  annotations:
    backstage.io/view-url: "javascript:alert('view')"
    backstage.io/edit-url: " JavaScript:alert('edit')"
    backstage.io/source-location: "url:javascript:alert('source')"
    example.com/note: "<img src=x onerror=alert('annotation')>"
  tags: [onerror, script]
  links:
    - url: "javascript:alert('link')"
      title: "<img src=x onerror=alert('linktitle')>"
    - url: https://ok.example.com
      title: "<script>alert('ok')</script>"
spec:
  type: "<script>alert('type')</script>"
  lifecycle: "<img src=x onerror=alert('lifecycle')>"
  owner: team-a
"""


def test_hostile_values_render_inert(catalog: CatalogHarness) -> None:
    catalog.register(catalog.write("evil/catalog-info.yaml", HOSTILE))
    catalog.settle()
    entity = catalog.entity("component:default/hostile")
    assert entity is not None, "the hostile entity must be ingested for this test to mean anything"
    for path in ("", "/raw", "/raw?format=json", "/unregister"):
        response = catalog.client.get("/catalog/default/component/hostile" + path)
        assert response.status_code == 200, path
        found = inspect(response.text)
        assert found.handlers == [], (path, found.handlers)
        assert "img" not in found.tags, path
        assert not [u for u in found.urls if "javascript" in u.lower() or "alert" in u], path
        assert not [b for b in found.script_bodies if "alert" in b], path
    html = catalog.client.get("/catalog/default/component/hostile").text
    assert "&lt;script&gt;alert(&#39;title&#39;)&lt;/script&gt;" in html  # shown as text
    assert 'href="https://ok.example.com"' in html


ALL_KINDS_DOC = """
apiVersion: backstage.io/v1alpha1
kind: Domain
metadata: {name: commerce}
spec: {owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: System
metadata: {name: shop}
spec: {owner: team-a, domain: commerce}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: web}
spec: {type: website, lifecycle: production, owner: team-a, system: shop, subcomponentOf: checkout}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata: {name: checkout}
spec: {type: service, lifecycle: production, owner: team-a, system: shop}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata: {name: shop-api}
spec: {type: openapi, lifecycle: production, owner: team-a, system: shop, definition: "openapi: 3.0.0"}
---
apiVersion: backstage.io/v1alpha1
kind: Resource
metadata: {name: db}
spec: {type: database, owner: team-a, system: shop}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: jane}
spec: {memberOf: [team-a]}
---
apiVersion: scaffolder.backstage.io/v1beta3
kind: Template
metadata: {name: new-service}
spec: {type: service, owner: team-a, steps: [{action: debug:log}]}
"""


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("domain/commerce", "Systems"),
        ("system/shop", "Components"),
        ("component/web", "Has subcomponents"),
        ("component/checkout", "Provided APIs"),
        ("api/shop-api", "Provided by"),
        ("resource/db", "Depends on"),
        ("group/team-a", "About"),
        ("user/jane", "About"),
        ("template/new-service", "About"),
    ],
)
def test_every_builtin_kind_renders(catalog: CatalogHarness, path: str, expected: str) -> None:
    catalog.register(catalog.write("kinds/catalog-info.yaml", ALL_KINDS_DOC))
    catalog.settle()
    for suffix in ("", "/raw"):
        response = catalog.client.get(f"/catalog/default/{path}{suffix}")
        assert response.status_code == 200, (path, suffix, response.text[-2000:])
    page = catalog.client.get(f"/catalog/default/{path}").text
    assert expected in page
    # a template says plainly that it cannot be run here (no scaffolder yet), and only a template
    assert ("Templates cannot be run yet" in page) == path.startswith("template/")
    system = catalog.client.get("/catalog/default/system/shop").text
    assert 'href="/catalog/default/domain/commerce"' in system
    locations = catalog.client.get("/api/catalog/locations").json()
    location_name = locations[0]["data"]["target"]
    assert location_name


def test_plugins_add_tabs_through_the_registry(shop: CatalogHarness) -> None:
    registry = shop.backend.backend.get_service(entity_page_service_ref)
    registry.add_tab(
        EntityTab(
            id="docs",
            title="Docs",
            render=lambda ctx: Markup("<p id='docs-tab'>docs for {}</p>").format(ctx.entity_ref),
            predicate=has_annotation("example.com/docs"),
        )
    )
    registry.add_tab(EntityTab(id="broken", title="Broken", render=lambda ctx: 1 / 0))  # type: ignore[arg-type,return-value]
    html = shop.client.get(PAGE).text
    assert f'href="{PAGE}/docs"' in html
    assert "docs for component:default/checkout" in shop.client.get(PAGE + "/docs").text
    # the API lacks the annotation, so it has no Docs tab
    assert 'api/checkout-api/docs"' not in shop.client.get("/catalog/default/api/checkout-api").text
    broken = shop.client.get(PAGE + "/broken")
    assert broken.status_code == 200 and "could not be rendered" in broken.text


@pytest.fixture
def statements(catalog: CatalogHarness) -> Iterator[list[str]]:
    seen: list[str] = []
    engines = {id(e): e for e in (catalog.service.store.engine, catalog.service.store.read_engine)}

    def count(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        # Only what the page request runs: not the processing loop's own polling, not transaction control.
        if threading.current_thread().name.startswith("greenroom-catalog"):
            return
        if statement.split(None, 1)[0].upper() in ("BEGIN", "COMMIT", "ROLLBACK", "SAVEPOINT", "RELEASE"):
            return
        seen.append(statement)

    for engine in engines.values():
        sa.event.listen(engine, "before_cursor_execute", count)
    yield seen
    for engine in engines.values():
        sa.event.remove(engine, "before_cursor_execute", count)


def _many_relations(count: int) -> str:
    docs = [
        component("hub").rstrip()
        + "\n  dependsOn: ["
        + ", ".join(f"resource:db-{i}" for i in range(count))
        + "]\n  providesApis: ["
        + ", ".join(f"api-{i}" for i in range(count))
        + "]\n"
    ]
    for i in range(count):
        docs.append(
            f"apiVersion: backstage.io/v1alpha1\nkind: Resource\nmetadata: {{name: db-{i}}}\n"
            f"spec: {{type: database, owner: team-a}}\n"
        )
    docs.append(component("lonely"))
    return "\n---\n".join(docs)


def test_query_count_is_bounded_regardless_of_relations(
    catalog: CatalogHarness, statements: list[str]
) -> None:
    catalog.register(catalog.write("many/catalog-info.yaml", _many_relations(30)))
    catalog.settle()
    hub = catalog.entity("component:default/hub")
    assert hub is not None and len(hub["relations"]) >= 60

    statements.clear()
    assert catalog.client.get("/catalog/default/component/hub").status_code == 200
    hub_count = len(statements)
    statements.clear()
    assert catalog.client.get("/catalog/default/component/lonely").status_code == 200
    lonely_count = len(statements)
    # the entity itself + all related entities in one entities_by_refs call
    assert hub_count <= 3, statements
    assert hub_count == lonely_count
