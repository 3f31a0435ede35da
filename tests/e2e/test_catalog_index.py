"""A user browses the demo catalog: filters, pages forward and back, opens an entity, stars it."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .conftest import LiveServer

pytestmark = [pytest.mark.browser, pytest.mark.slow]


def _first_row_name(page: Any) -> str:
    return str(page.locator(".gr-catalog-table tbody tr").first.locator("td").first.inner_text()).strip()


def _total(page: Any) -> int:
    return int(page.locator("#gr-catalog-heading .gr-badge").inner_text().replace(",", ""))


def test_filter_by_type_and_owner(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.url("/catalog"))
    assert page.locator("#gr-catalog-heading").inner_text().startswith("Components")
    total = _total(page)
    assert total > 5

    # Ticking a facet applies it at once (progressive enhancement) and puts it in the URL.
    with page.expect_navigation():
        page.locator('[data-facet="type"] input[value="service"]').check()
    assert "type=service" in page.url
    assert 0 < _total(page) < total
    assert "user=all" not in page.url and "q=" not in page.url  # the enhanced submit keeps URLs short
    assert all(t.strip() == "service" for t in page.locator("td.gr-catalog-table__type").all_inner_texts())

    owner = page.locator('[data-facet="owner"] input[type=checkbox]').first
    owner_ref = owner.get_attribute("value")
    with page.expect_navigation():
        owner.check()
    assert "owner=" in page.url and "type=service" in page.url
    owners = page.locator("td.gr-catalog-table__owner").all_inner_texts()
    assert owners and all(owner_ref.rsplit("/", 1)[-1] in text for text in owners)

    # The chip removes one filter; the URL is the whole state, so reloading shows the same view.
    page.reload()
    assert "type=service" in page.url
    with page.expect_navigation():
        page.get_by_role("link", name=re.compile("Remove filter type")).click()
    assert "type=" not in page.url and "owner=" in page.url


def test_page_forward_and_back(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.url("/catalog?kind=component"))
    first_page = _first_row_name(page)
    summary = page.locator(".gr-pagination .gr-muted").inner_text()
    assert summary.startswith("1\u201325 of ")

    with page.expect_navigation():
        page.get_by_role("link", name="Next").click()
    assert "after=" in page.url
    second_page = _first_row_name(page)
    assert second_page != first_page
    assert page.locator(".gr-pagination .gr-muted").inner_text().startswith("26\u201350 of ")

    with page.expect_navigation():
        page.get_by_role("link", name="Previous").click()
    assert _first_row_name(page) == first_page

    page.go_back()
    assert "after=" in page.url
    assert _first_row_name(page) == second_page
    page.go_back()
    assert _first_row_name(page) == first_page


def test_open_an_entity_star_it_and_see_it_on_home(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.url("/catalog?kind=component&q=cart"))
    link = page.locator(".gr-catalog-table tbody tr td.gr-catalog-table__name a").first
    title = link.inner_text().strip()
    href = link.get_attribute("href")
    with page.expect_navigation():
        link.click()
    assert page.url.endswith(href)

    # Star it the way the entity page's star button does (a plain form POST).
    response = page.request.post(live_server.url(f"{href}/star"), form={"starred": "true"})
    assert response.ok

    page.goto(live_server.url("/"))
    starred = page.locator("#starred")
    assert starred.get_by_role("link", name=title).is_visible()

    # Unstar from the home page.
    with page.expect_navigation():
        starred.get_by_role("button", name=f"Unstar {title}").click()
    assert page.locator("#starred").get_by_text("Nothing starred yet").is_visible()
