"""In a real browser: register a new location, see its entity, unregister it; see a demo error in admin."""

from __future__ import annotations

import re
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import REPO, LiveServer


@pytest.fixture
def new_component_folder() -> Iterator[Path]:
    """A folder with one descriptor inside the demo's reading root (the repository)."""
    name = f"e2e-{uuid.uuid4().hex[:8]}"
    folder = REPO / "build" / "e2e-register" / name
    folder.mkdir(parents=True)
    (folder / "catalog-info.yaml").write_text(
        "apiVersion: backstage.io/v1alpha1\n"
        "kind: Component\n"
        "metadata:\n"
        f"  name: {name}\n"
        "  description: Registered from the end-to-end test.\n"
        "spec:\n"
        "  type: service\n"
        "  lifecycle: experimental\n"
        "  owner: checkout-team\n"
    )
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def test_register_see_entity_then_unregister(
    live_server: LiveServer, page: Any, new_component_folder: Path
) -> None:
    name = new_component_folder.name
    page.goto(live_server.url("/catalog-import"))
    page.get_by_role("link", name="Register").first.wait_for()
    page.get_by_label("File path, folder or URL").fill(str(new_component_folder))
    page.get_by_role("button", name="Analyze").click()
    preview = page.locator(".gr-import__preview")
    preview.wait_for()
    assert name in preview.inner_text()
    assert "checkout-team" in preview.inner_text()
    assert "**/catalog-info.yaml" in page.locator("[data-gr-import-location]").inner_text()

    page.get_by_role("button", name="Import").click()
    page.wait_for_url(re.compile(r"/catalog-import/status/"))
    entity_link = page.locator(f'a[href="/catalog/default/component/{name}"]').first
    entity_link.wait_for(timeout=30_000)  # the page updates itself while processing runs
    entity_link.click()
    page.wait_for_url(re.compile(rf"/catalog/default/component/{name}$"))
    assert name in page.content()

    page.goto(live_server.url("/catalog-admin/locations"))
    row = page.locator("[data-gr-admin-locations] tr", has_text=str(new_component_folder))
    row.get_by_role("link", name=re.compile("Unregister")).click()
    page.get_by_role("heading", name="Unregister this location?").wait_for()
    assert f"component:{name}" in page.locator(".gr-admin__remove-list").inner_text()
    page.get_by_role("button", name=re.compile(r"Unregister and remove 1 entity")).click()
    page.wait_for_url(re.compile(r"/catalog-admin/locations\?notice="))
    assert "Removed file:" in page.locator(".gr-alert").first.inner_text()
    assert page.locator("[data-gr-admin-locations] tr", has_text=str(new_component_folder)).count() == 0

    response = page.goto(live_server.url(f"/catalog/default/component/{name}"))
    deadline = 30
    while response is not None and response.status != 404 and deadline:
        page.wait_for_timeout(1000)
        response = page.goto(live_server.url(f"/catalog/default/component/{name}"))
        deadline -= 1
    assert response is not None and response.status == 404


def test_admin_shows_deliberate_demo_errors(live_server: LiveServer, page: Any) -> None:
    page.goto(live_server.url("/catalog-admin"))
    page.get_by_role("link", name=re.compile(r"^Processing errors")).first.click()
    page.wait_for_url(re.compile(r"/catalog-admin/errors"))
    table = page.locator("[data-gr-admin-errors]")
    table.wait_for()
    text = table.inner_text()
    # examples/demo-org/mistakes: a YAML syntax error (file + line), an invalid name never made visible
    assert "mistakes/syntax-error.yaml" in text and "YAML syntax error" in text
    assert "component:bad name!" in text.lower() and "not in the catalog" in text

    page.get_by_label("Filter").fill("orders-db")
    page.get_by_role("button", name="Apply").click()
    page.wait_for_url(re.compile(r"q=orders-db"))
    filtered = page.locator("[data-gr-admin-errors]").inner_text()
    assert "order-export-job" in filtered and "syntax-error.yaml" not in filtered
