"""End to end: the Dependencies tab of a demo entity draws a clickable graph in a real Chromium.

The plugin is found through the `greenroom.plugins` entry point. Until that entry point is in the
installed metadata (pyproject.toml, then `pip install -e .`), the demo server is started with a
throw-away dist-info folder on PYTHONPATH that declares it, so this test never depends on how the
virtualenv was last installed.
"""

from __future__ import annotations

import importlib.metadata
import os
import subprocess
from collections.abc import Iterator
from typing import Any

import pytest

from tests.e2e.conftest import LiveServer, start_demo_server

pytestmark = [pytest.mark.browser, pytest.mark.slow]

ROOT = "/catalog/default/component/checkout-service"


def _has_entry_point() -> bool:
    return any(
        ep.name == "catalog-graph" for ep in importlib.metadata.entry_points(group="greenroom.plugins")
    )


@pytest.fixture(scope="module")
def graph_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    if _has_entry_point():
        yield request.getfixturevalue("live_server")
        return
    shim = tmp_path_factory.mktemp("graph-entry-point")
    info = shim / "greenroom_catalog_graph_e2e-0.0.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: greenroom-catalog-graph-e2e\nVersion: 0.0.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[greenroom.plugins]\ncatalog-graph = greenroom.plugins.catalog_graph.plugin:plugin\n"
    )
    previous = os.environ.get("PYTHONPATH")
    os.environ["PYTHONPATH"] = os.pathsep.join(p for p in (str(shim), previous) if p)
    try:
        server = start_demo_server(tmp_path_factory.mktemp("graph-e2e"))
    finally:
        if previous is None:
            os.environ.pop("PYTHONPATH", None)
        else:
            os.environ["PYTHONPATH"] = previous
    yield server
    server.process.terminate()
    try:
        server.process.wait(timeout=15)
    except subprocess.TimeoutExpired:
        server.process.kill()


def test_dependencies_tab_draws_nodes_and_a_click_opens_the_entity(
    graph_server: LiveServer, page: Any
) -> None:
    page.goto(graph_server.url(ROOT))
    page.get_by_role("link", name="Dependencies", exact=True).click()
    page.wait_for_url(f"**{ROOT}/graph")
    svg = page.locator("svg.gr-graph-svg")
    svg.wait_for()
    nodes = svg.locator("a.gr-graph-node")
    assert nodes.count() > 3
    assert (
        svg.locator("a.gr-graph-node.is-root").get_attribute("data-ref")
        == "component:default/checkout-service"
    )
    assert svg.locator("path.gr-graph-edge__line").count() >= nodes.count() - 1
    # Zoom tools are progressive enhancement: visible once the script ran.
    page.get_by_role("button", name="Zoom in").wait_for()

    target = svg.locator('a.gr-graph-node[data-ref="api:default/checkout-api"]')
    target.scroll_into_view_if_needed()
    target.click()
    page.wait_for_url("**/catalog/default/api/checkout-api")
    assert page.locator("h1", has_text="Checkout API").count() >= 1 or "checkout-api" in page.url


def test_graph_page_keyboard_and_system_view(graph_server: LiveServer, page: Any) -> None:
    page.goto(graph_server.url("/catalog-graph"))
    page.get_by_role("link", name="Graph").first.wait_for()
    page.locator('a[href*="system%3Adefault%2Fcheckout"]').first.click()
    svg = page.locator("svg.gr-graph-svg")
    svg.wait_for()
    assert svg.locator('a.gr-graph-node[data-ref="component:default/checkout-service"]').count() == 1
    # Nodes are links with accessible names, reachable with the keyboard.
    node = page.get_by_role("link", name="System Checkout (current entity)")
    node.focus()
    page.keyboard.press("Enter")
    page.wait_for_url("**/catalog/default/system/checkout")
