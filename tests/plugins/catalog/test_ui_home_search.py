"""Search results page and the catalog's home widgets: ranking, highlighting, escaping, empty states."""

from __future__ import annotations

import re

from greenroom.plugins.catalog.ui.search import highlight

from .conftest import CatalogHarness

DOCS = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: guest}
spec: {memberOf: [team-a]}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: zebra-cart
  description: Holds carts, written in Java
spec: {type: service, lifecycle: production, owner: team-a}
---
apiVersion: backstage.io/v1alpha1
kind: Component
metadata:
  name: alpha-checkout
  description: Reads the cart before paying
  tags: [java, payments]
spec: {type: service, lifecycle: production, owner: team-b}
---
apiVersion: backstage.io/v1alpha1
kind: API
metadata:
  name: orders-api
  title: Cart <script>alert(1)</script> API
  description: '<img src=x onerror=alert(2)>'
spec: {type: openapi, lifecycle: production, owner: team-a, definition: "openapi: 3.0.0"}
"""


def _seed(catalog: CatalogHarness) -> None:
    catalog.register(catalog.write("catalog-info.yaml", DOCS))
    catalog.settle()


def test_highlight_splits_every_match_case_insensitively() -> None:
    assert highlight("Cart and cart", "CART") == [("Cart", True), (" and ", False), ("cart", True)]
    assert highlight("nothing", "x") == [("nothing", False)]
    assert highlight("", "x") == []


def test_search_ranks_name_and_title_before_description_and_escapes(catalog: CatalogHarness) -> None:
    _seed(catalog)
    html = catalog.client.get("/search?q=cart").text
    order = re.findall(r'class="gr-catalog-search__title" href="([^"]+)"', html)
    # Name matches, then title matches, then description-only matches.
    assert order == [
        "/catalog/default/component/zebra-cart",
        "/catalog/default/api/orders-api",
        "/catalog/default/component/alpha-checkout",
    ]
    assert '<mark class="gr-catalog-mark">cart</mark>' in html
    assert "<script>alert(1)" not in html and "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    # Kind chips narrow the results.
    html = catalog.client.get("/search?q=cart&kind=api").text
    assert re.findall(r'class="gr-catalog-search__title" href="([^"]+)"', html) == [
        "/catalog/default/api/orders-api"
    ]
    # A hostile term is echoed escaped.
    html = catalog.client.get('/search?q="><script>x()</script>').text
    assert "<script>x()" not in html and "No results for" in html


def test_search_finds_a_tag_equal_to_the_term_after_text_matches(catalog: CatalogHarness) -> None:
    _seed(catalog)
    html = catalog.client.get("/search?q=JAVA").text
    order = re.findall(r'class="gr-catalog-search__title" href="([^"]+)"', html)
    assert order == ["/catalog/default/component/zebra-cart", "/catalog/default/component/alpha-checkout"]
    assert '<mark class="gr-badge gr-catalog-mark">java</mark>' in html
    assert '<span class="gr-badge gr-badge--neutral">payments</span>' in html
    # a tag matches whole, not as a substring (the description still does)
    html = catalog.client.get("/search?q=jav").text
    order = re.findall(r'class="gr-catalog-search__title" href="([^"]+)"', html)
    assert order == ["/catalog/default/component/zebra-cart"]


def test_search_empty_states(catalog: CatalogHarness) -> None:
    assert "Search the catalog" in catalog.client.get("/search").text
    html = catalog.client.get("/search?q=nothing-like-this").text
    assert "No results for" in html and "/catalog?q=nothing-like-this" in html


def test_home_widgets_show_kinds_team_starred_and_recent(catalog: CatalogHarness) -> None:
    html = catalog.client.get("/").text
    assert "The catalog is empty" in html and "Nothing starred yet" in html and "No visits yet" in html
    _seed(catalog)
    html = catalog.client.get("/").text
    assert 'href="/catalog?kind=component"' in html
    team = html.split("Your team&#39;s entities", 1)[1].split("</section>", 1)[0]
    assert "zebra-cart" in team and "alpha-checkout" not in team
    assert "/catalog?kind=component&amp;owner=group%3Adefault%2Fteam-a" in team

    client = catalog.client
    response = client.put(
        "/api/user-settings/buckets/starredEntities/keys/entityRefs",
        json={"value": ["component:default/alpha-checkout", "api:default/removed-api"]},
    )
    assert response.status_code in (200, 204)
    html = client.get("/").text
    starred = html.split('id="starred"', 1)[1].split("</section>", 1)[0]
    assert "/catalog/default/component/alpha-checkout" in starred
    assert "api:removed-api (removed)" in starred
    # Unstar from the home page, including a star whose entity no longer exists.
    response = client.post(
        "/home/starred",
        data={"entity_ref": "api:default/removed-api", "starred": "false"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    html = client.get("/").text
    starred = html.split('id="starred"', 1)[1].split("</section>", 1)[0]
    assert "removed-api" not in starred and "alpha-checkout" in starred
    assert client.get("/api/user-settings/buckets/starredEntities/keys/entityRefs").json()["value"] == [
        "component:default/alpha-checkout"
    ]
