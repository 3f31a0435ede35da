"""The catalog index page: filters, facet counts, sorting, cursor paging, URL state, escaping, SQL budget."""

from __future__ import annotations

import re
from html import unescape

import pytest
import sqlalchemy as sa
from starlette.datastructures import QueryParams

from greenroom.plugins.catalog.ui.catalog_index import CatalogIndexQuery, IndexState

from .conftest import CatalogHarness


def _component(
    name: str,
    *,
    owner: str = "team-a",
    type_: str = "service",
    lifecycle: str = "production",
    system: str | None = None,
    tags: tuple[str, ...] = (),
    title: str | None = None,
    description: str = "A component",
) -> str:
    lines = [
        "apiVersion: backstage.io/v1alpha1",
        "kind: Component",
        "metadata:",
        f"  name: {name}",
        f"  description: {description!r}",
    ]
    if title:
        lines.append(f"  title: {title!r}")
    if tags:
        lines.append(f"  tags: [{', '.join(tags)}]")
    lines += ["spec:", f"  type: {type_}", f"  lifecycle: {lifecycle}", f"  owner: {owner}"]
    if system:
        lines.append(f"  system: {system}")
    return "\n".join(lines) + "\n"


ORG = """
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-a}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: Group
metadata: {name: team-b}
spec: {type: team, children: []}
---
apiVersion: backstage.io/v1alpha1
kind: User
metadata: {name: guest}
spec: {memberOf: [team-a]}
"""


def _seed(catalog: CatalogHarness, documents: list[str]) -> None:
    path = catalog.write("catalog-info.yaml", "---\n".join([ORG.strip() + "\n", *documents]))
    catalog.register(path)
    catalog.settle()


def _names(html: str) -> list[str]:
    """Entity names linked from the table, in row order."""
    return re.findall(r'href="/catalog/default/component/([^"]+)" title=', html)


def _state(query: str) -> IndexState:
    return IndexState.from_params(QueryParams(query))


def _link(html: str, rel: str) -> str | None:
    match = re.search(rf'href="([^"]+)" rel="{rel}"', html)
    return unescape(match.group(1)) if match else None


def test_index_filters_by_facets_and_counts_under_the_other_filters(catalog: CatalogHarness) -> None:
    _seed(
        catalog,
        [
            _component("svc-a1", owner="team-a", type_="service", tags=("java",)),
            _component("svc-a2", owner="team-a", type_="service", lifecycle="experimental"),
            _component("lib-a", owner="team-a", type_="library"),
            _component("svc-b", owner="team-b", type_="service", tags=("java", "kafka")),
            _component("web-b", owner="team-b", type_="website"),
        ],
    )
    response = catalog.client.get("/catalog")
    assert response.status_code == 200
    assert sorted(_names(response.text)) == ["lib-a", "svc-a1", "svc-a2", "svc-b", "web-b"]

    html = catalog.client.get("/catalog?kind=component&type=service").text
    assert sorted(_names(html)) == ["svc-a1", "svc-a2", "svc-b"]
    html = catalog.client.get("/catalog?type=service&owner=group:default/team-b").text
    assert _names(html) == ["svc-b"]
    # an owner written by hand, as the panel shows it or without the namespace, means the group
    for owner in ("team-b", "group:team-b", "default/team-b", "Group:Default/Team-B"):
        html = catalog.client.get(f"/catalog?type=service&owner={owner}").text
        assert _names(html) == ["svc-b"], owner
        assert 'name="owner" value="group:default/team-b" checked' in html, owner
    assert _names(catalog.client.get("/catalog?type=service&owner=user:team-b").text) == []
    html = catalog.client.get("/catalog?tag=kafka").text
    assert _names(html) == ["svc-b"]
    html = catalog.client.get("/catalog?lifecycle=experimental").text
    assert _names(html) == ["svc-a2"]

    query = CatalogIndexQuery(catalog.service)
    data = query.run(_state("type=service&owner=group:default/team-a"), [], [])
    assert data.total == 2
    counts = {key: {f.value: f.count for f in values} for key, values in data.facets.items()}
    # Type counts ignore the type filter but respect the owner filter, and vice versa.
    assert counts["type"] == {"service": 2, "library": 1}
    assert counts["owner"] == {"group:default/team-a": 2, "group:default/team-b": 1}
    assert counts["lifecycle"] == {"production": 1, "experimental": 1}
    assert counts["namespace"] == {"default": 2}  # what the list shows, not the whole kind
    assert {k.value: k.count for k in data.kinds} == {"Component": 5, "Group": 2, "User": 1, "Location": 1}
    assert data.user_counts["all"] == 2
    # A selected value that matches nothing stays listed (count 0), so it can be unticked.
    data = query.run(_state("type=nope"), [], [])
    assert data.total == 0
    assert [(f.value, f.count, f.selected) for f in data.facets["type"] if f.selected] == [("nope", 0, True)]


def test_owned_by_me_and_starred(catalog: CatalogHarness) -> None:
    _seed(
        catalog,
        [
            _component("mine", owner="team-a"),
            _component("theirs", owner="team-b"),
            _component("solo", owner="user:guest"),
        ],
    )
    html = catalog.client.get("/catalog?user=owned").text
    assert sorted(_names(html)) == ["mine", "solo"]
    assert _names(catalog.client.get("/catalog?user=starred").text) == []
    response = catalog.client.put(
        "/api/user-settings/buckets/starredEntities/keys/entityRefs",
        json={"value": ["component:default/theirs"]},
    )
    assert response.status_code in (200, 204), response.text
    html = catalog.client.get("/catalog?user=starred").text
    assert _names(html) == ["theirs"]
    assert 'aria-label="Starred"' in html


def test_sorting_and_cursor_paging_both_ways(catalog: CatalogHarness) -> None:
    docs = [
        _component(
            f"c{i:02d}", system=None if i % 3 == 0 else f"sys-{i % 4}", owner="team-a" if i % 2 else "team-b"
        )
        for i in range(60)
    ]
    _seed(catalog, docs)
    seen: list[str] = []
    url: str | None = "/catalog?kind=component&limit=25"
    pages: list[str] = []
    while url:
        pages.append(url)
        html = catalog.client.get(url).text
        seen.extend(_names(html))
        url = _link(html, "next")
    assert seen == [f"c{i:02d}" for i in range(60)]
    assert len(pages) == 3
    last = catalog.client.get(pages[-1]).text
    assert "51\u201360 of 60" in last
    # Previous from the last page returns exactly the middle page, URL state included.
    prev = _link(last, "prev")
    assert prev is not None and "kind=component" in prev and "after=" not in prev
    middle = catalog.client.get(prev).text
    assert _names(middle) == [f"c{i:02d}" for i in range(25, 50)]
    assert "26\u201350 of 60" in middle
    first = catalog.client.get(_link(middle, "prev") or "").text
    assert _names(first) == [f"c{i:02d}" for i in range(25)]
    assert _link(first, "prev") is None

    # Descending name.
    html = catalog.client.get("/catalog?sort=name&dir=desc&limit=50").text
    assert _names(html)[:3] == ["c59", "c58", "c57"]

    # Sorting by a column some entities lack keeps them, last, in both directions and across pages.
    for direction in ("asc", "desc"):
        names: list[str] = []
        url = f"/catalog?sort=system&dir={direction}"
        while url:
            html = catalog.client.get(url).text
            assert "of 60" in html
            names.extend(_names(html))
            url = _link(html, "next")
        assert len(names) == 60 and len(set(names)) == 60
        without = {f"c{i:02d}" for i in range(60) if i % 3 == 0}
        assert set(names[-len(without) :]) == without
        systems = [f"sys-{int(n[1:]) % 4}" for n in names[: 60 - len(without)]]
        assert systems == sorted(systems, reverse=direction == "desc")
    # ...and paging back through such a sort returns the same rows.
    html = catalog.client.get("/catalog?sort=owner&dir=desc").text
    html2 = catalog.client.get(_link(html, "next") or "").text
    back = catalog.client.get(_link(html2, "prev") or "").text
    assert _names(back) == _names(html)


def test_url_state_round_trips_and_garbage_is_ignored(catalog: CatalogHarness) -> None:
    _seed(catalog, [_component("one", type_="service"), _component("two", type_="library")])
    state = _state("kind=component&type=service&type=library&user=owned&q=on&sort=owner&dir=desc&limit=50")
    again = IndexState.from_params(QueryParams(state.url().split("?", 1)[1]))
    assert again == state
    assert "type=service" in state.toggle_url("type", "library") and "library" not in state.toggle_url(
        "type", "library"
    )
    # Unknown values fall back to defaults instead of failing.
    response = catalog.client.get(
        "/catalog?sort=nope&dir=sideways&limit=7&user=x&status=bad&after=%%%garbage"
    )
    assert response.status_code == 200
    assert sorted(_names(response.text)) == ["one", "two"]
    # The text filter matches name or title substrings.
    assert _names(catalog.client.get("/catalog?q=NE").text) == ["one"]
    # Sort links keep the filters.
    html = catalog.client.get("/catalog?type=service").text
    assert "/catalog?kind=component&amp;type=service&amp;sort=system&amp;dir=asc" in html


def test_empty_states(catalog: CatalogHarness) -> None:
    html = catalog.client.get("/catalog").text
    assert "No entities yet" in html and 'href="/catalog-import"' in html
    _seed(catalog, [_component("one")])
    html = catalog.client.get("/catalog?q=zzz").text
    assert "matches these filters" in html and "Clear filters" in html
    html = catalog.client.get("/catalog?kind=api").text
    assert "No api entities yet" in html


def test_hostile_values_are_escaped(catalog: CatalogHarness) -> None:
    _seed(
        catalog,
        [
            _component(
                "hostile",
                title="<script>alert('t')</script>",
                description='<img src=x onerror="alert(1)">',
                type_="<b>bold</b>",
                system="sys",
            )
        ],
    )
    html = catalog.client.get("/catalog?q=<script>").text
    html += catalog.client.get("/catalog").text
    html += catalog.client.get('/catalog?type=<b>bold</b>&q="><svg onload=alert(1)>').text
    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "<b>bold</b>" not in html
    assert "<svg onload" not in html
    assert "&lt;script&gt;alert(&#39;t&#39;)&lt;/script&gt;" in html


@pytest.mark.parametrize(
    "query", ["", "?type=service&owner=group:default/team-a&tag=java&user=owned&q=c&sort=system"]
)
def test_one_render_costs_a_bounded_number_of_statements(catalog: CatalogHarness, query: str) -> None:
    _seed(catalog, [_component(f"c{i}", tags=("java",)) for i in range(30)])
    catalog.service.engine.stop()  # only the page's own statements are counted
    engine = catalog.service.store.read_engine
    statements: list[str] = []

    def count(conn: object, cursor: object, statement: str, *args: object) -> None:
        if statement.split(None, 1)[0].upper() not in ("BEGIN", "COMMIT", "ROLLBACK", "SET"):
            statements.append(statement)

    sa.event.listen(engine, "before_cursor_execute", count)
    try:
        response = catalog.client.get("/catalog" + query)
    finally:
        sa.event.remove(engine, "before_cursor_execute", count)
    assert response.status_code == 200
    assert len(statements) <= 8, statements
