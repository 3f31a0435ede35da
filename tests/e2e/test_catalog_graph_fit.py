"""End to end: in a real Chromium, graph labels stay inside their boxes and the card shows the whole graph.

The server estimates text widths (catalog_graph/text_metrics.py); this checks them against what the
browser actually draws, on the demo pages a new-user review found broken.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.e2e.conftest import LiveServer
from tests.e2e.test_catalog_graph import graph_server  # noqa: F401 - the module's demo server fixture

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PAGES = [
    "/catalog/default/component/feature-pipeline",
    "/catalog/default/component/checkout-service",
    "/catalog/default/template/python-service",
    "/catalog/default/resource/cart-cache",
    "/catalog/default/group/checkout-team",
    "/catalog/default/component/checkout-service/graph",
    "/catalog/default/component/warehouse-management/graph",
]

# Per node: how far its widest text line ends inside (positive) or past (negative) the box border.
_TEXT_SLACK = """() => Array.from(document.querySelectorAll('a.gr-graph-node')).map((node) => {
  const box = node.querySelector('rect.gr-graph-node__box').getBoundingClientRect();
  const ends = Array.from(node.querySelectorAll('text')).map((t) => t.getBoundingClientRect().right);
  return [node.dataset.ref, box.right - Math.max(...ends)];
})"""

# Card: node boxes outside the visible viewport, and whether the viewport would scroll.
_CARD_FIT = """() => {
  const figure = document.querySelector('.gr-graph--compact');
  if (!figure) return null;
  const viewport = figure.querySelector('[data-gr-graph-viewport]');
  const frame = viewport.getBoundingClientRect();
  const outside = Array.from(figure.querySelectorAll('rect.gr-graph-node__box'))
    .map((rect) => [rect.parentNode.dataset.ref, rect.getBoundingClientRect()])
    .filter(([, b]) => b.top < frame.top || b.bottom > frame.bottom || b.left < frame.left || b.right > frame.right)
    .map(([ref]) => ref);
  return {
    outside,
    scrolls: viewport.scrollHeight > viewport.clientHeight + 1 || viewport.scrollWidth > viewport.clientWidth + 1,
    nodes: figure.querySelectorAll('a.gr-graph-node').length,
  };
}"""


@pytest.mark.parametrize("path", PAGES)
def test_labels_fit_their_boxes_and_the_card_shows_every_node(
    graph_server: LiveServer,  # noqa: F811 - the imported fixture
    page: Any,
    path: str,
) -> None:
    page.goto(graph_server.url(path))
    page.locator("svg.gr-graph-svg").first.wait_for()
    slack = page.evaluate(_TEXT_SLACK)
    assert slack
    overflowing = [(ref, round(room, 1)) for ref, room in slack if room < 2]
    assert not overflowing, f"text runs past the node border on {path}: {overflowing}"
    card = page.evaluate(_CARD_FIT)
    if path.endswith("/graph"):
        return
    assert card is not None and card["nodes"] > 1
    assert not card["outside"], f"card on {path} cuts off {card['outside']}"
    assert not card["scrolls"]
