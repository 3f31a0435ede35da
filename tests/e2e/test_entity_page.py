"""The entity page in a real browser against the demo organisation."""

from __future__ import annotations

import re
from typing import Any

from .conftest import LiveServer

CHECKOUT = "/catalog/default/component/checkout-service"


def test_open_entity_see_about_and_follow_a_relation(live_server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live_server.url(CHECKOUT))
    expect(page.get_by_role("heading", name="Checkout Service", level=2)).to_be_visible()
    about = page.locator("section.gr-entity-about")
    expect(about.get_by_role("heading", name="About")).to_be_visible()
    expect(about).to_contain_text("Orchestrates checkout")
    expect(about.get_by_role("link", name="Checkout Team")).to_be_visible()

    provided = page.locator("[data-gr-relation-card='provided-apis']")
    expect(provided).to_contain_text("Provided APIs")
    provided.get_by_role("link", name="Checkout API").click()
    expect(page).to_have_url(re.compile(r"/catalog/default/api/checkout-api$"))
    expect(page.get_by_role("heading", name="Checkout API", level=2)).to_be_visible()
    provided_by = page.locator("[data-gr-relation-card='api-provided-by']")
    expect(provided_by.get_by_role("link", name="Checkout Service")).to_be_visible()


def test_star_persists_across_reload(live_server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live_server.url("/catalog/default/component/cart-service"))
    star = page.locator("form[data-gr-entity-star] button")
    expect(star).to_have_attribute("aria-pressed", "false")
    star.click()
    expect(star).to_have_attribute("aria-pressed", "true")  # updated in place by fetch
    page.reload()
    star = page.locator("form[data-gr-entity-star] button")
    expect(star).to_have_attribute("aria-pressed", "true")
    star.click()  # leave the shared server as we found it
    expect(star).to_have_attribute("aria-pressed", "false")
    page.reload()
    expect(page.locator("form[data-gr-entity-star] button")).to_have_attribute("aria-pressed", "false")


def test_star_works_without_javascript(live_server: LiveServer, browser: Any) -> None:
    from playwright.sync_api import expect

    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(live_server.url("/catalog/default/component/loyalty-service"))
        page.locator("form[data-gr-entity-star] button").click()
        page.wait_for_url(re.compile(r"/catalog/default/component/loyalty-service$"))
        expect(page.locator("form[data-gr-entity-star] button")).to_have_attribute("aria-pressed", "true")
        page.locator("form[data-gr-entity-star] button").click()
        page.wait_for_url(re.compile(r"/catalog/default/component/loyalty-service$"))
        expect(page.locator("form[data-gr-entity-star] button")).to_have_attribute("aria-pressed", "false")
    finally:
        context.close()


def test_raw_tab_shows_yaml_json_and_ancestry(live_server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live_server.url(CHECKOUT))
    page.get_by_role("navigation", name="Entity sections").get_by_role("link", name="Raw").click()
    expect(page).to_have_url(re.compile(r"/checkout-service/raw$"))
    code = page.locator("#gr-entity-raw-text")
    expect(code).to_contain_text("kind: Component")
    expect(code).to_contain_text("name: checkout-service")
    expect(page.get_by_role("button", name="Copy")).to_be_visible()  # shown by the enhancement
    expect(page.locator(".gr-entity-tree")).to_contain_text("location:default/acme-demo")
    expect(page.get_by_role("link", name="Download as YAML")).to_have_attribute(
        "href", re.compile(r"/raw/yaml$")
    )
    page.get_by_role("link", name="JSON", exact=True).click()
    expect(code).to_contain_text('"kind": "Component"')


def test_processing_error_of_a_broken_demo_entity(live_server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live_server.url("/catalog/default/component/order-export-job"))
    alert = page.get_by_role("alert").filter(has_text="Processing error")
    expect(alert).to_be_visible()
    expect(alert).to_contain_text('"orders-db" had missing or empty kind')
    expect(alert).to_contain_text("mistakes/depends-on-without-kind.yaml")
    expect(page.locator(".gr-entity-header")).to_contain_text("1 processing error")


def test_dangling_owner_and_unknown_entity(live_server: LiveServer, page: Any) -> None:
    from playwright.sync_api import expect

    page.goto(live_server.url("/catalog/default/component/gift-card-balance-web"))
    expect(page.locator(".gr-entity-status")).to_contain_text("group:default/gift-cards-team")
    response = page.goto(live_server.url("/catalog/default/component/does-not-exist"))
    assert response is not None and response.status == 404
    expect(page.get_by_role("link", name=re.compile("Search for"))).to_be_visible()
    expect(page.get_by_role("link", name="Back to the catalog")).to_be_visible()
