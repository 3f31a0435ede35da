"""End to end on the demo organisation: API definitions (OpenAPI, GraphQL) and org pages."""

from __future__ import annotations

import re
from typing import Any

import httpx

from .conftest import LiveServer


def test_openapi_definition_operations_and_schema(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.url("/api-docs"))
    page.get_by_role("link", name="Orders API").click()
    page.wait_for_url(re.compile(r"/catalog/default/api/orders-api/definition$"))
    operation = page.locator("#op-get-listOrders")
    assert operation.is_visible()
    assert "/orders" in operation.locator(":scope > summary").inner_text()
    page.locator("#op-get-getOrder > summary").click()
    response_schema = (
        page.locator("#op-get-getOrder .gr-apidoc-response").first.locator("details.gr-apidoc-node").first
    )
    children = response_schema.locator(":scope > ul.gr-apidoc-children")
    assert not children.is_visible()
    response_schema.locator(":scope > summary").click()
    assert children.is_visible()
    assert "status" in response_schema.inner_text()
    raw = httpx.get(live_server.url("/api-docs/default/orders-api/definition"))
    assert raw.status_code == 200 and "attachment" in raw.headers["content-disposition"]


def test_graphql_definition_is_navigable(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.url("/api-docs?type=graphql"))
    page.get_by_role("link", name="Content GraphQL API").click()
    page.wait_for_url(re.compile(r"/catalog/default/api/content-graphql/definition$"))
    assert page.locator("#gql-Query-page").is_visible()
    page.locator("#gql-Query-page a.gr-apidoc-ref").first.click()
    page.wait_for_url(re.compile(r"#gql-Page$"))
    assert "type Page" in page.locator("#gql-Page").inner_text()


def test_group_page_member_link_leads_to_user_page(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.url("/catalog/default/group/checkout-team"))
    members = page.locator("#org-members")
    assert members.is_visible()
    assert page.locator("#org-profile").get_by_role("link", name="Engineering").is_visible()
    first_member = members.locator(".gr-org-member a.gr-entity-link").first
    name = first_member.inner_text()
    first_member.click()
    page.wait_for_url(re.compile(r"/catalog/default/user/[^/]+$"))
    profile = page.locator("#org-profile")
    assert name in profile.inner_text()
    assert profile.get_by_role("link", name="Checkout Team").is_visible()
