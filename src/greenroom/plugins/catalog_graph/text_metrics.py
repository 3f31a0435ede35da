"""Label widths for graph nodes, so boxes are sized to their text on the server, without a browser.

The graph's `<svg>` names `FONT_FAMILY`: fonts that all share Arial's advance widths (Liberation Sans
and Arimo were made metric-compatible with Arial, which was made so with Helvetica). The tables
below are those widths, so the estimate is the width the browser draws, not a guess per character
count. Kerning only narrows text, so a sum of advances is an upper bound. Characters outside the
table (other scripts, emoji) count as a full em: too wide rather than too narrow. Should a browser
have none of these fonts, the node still clips its text at the box (see graph.svg.html).
"""

from __future__ import annotations

from dataclasses import dataclass

FONT_FAMILY = 'Arial, "Liberation Sans", Arimo, Helvetica, "Nimbus Sans", "Nimbus Sans L", sans-serif'
ELLIPSIS = "\u2026"
_UNITS_PER_EM = 1000
_UNKNOWN_WIDTH = 1000
# The characters the tables cover, in order: printable ASCII, Latin-1, then common punctuation.
_CHARS = (
    "".join(chr(c) for c in (*range(32, 127), *range(160, 256)))
    + "\u2026\u00b7\u2013\u2014\u2018\u2019\u201c\u201d\u2022\u20ac"
)
# Advance widths in 1/1000 em, measured from Liberation Sans Regular and Bold (Arial's metrics).
_REGULAR: tuple[int, ...] = (
    278, 278, 355, 556, 556, 889, 667, 191, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 278, 278, 584, 584, 584, 556, 1015, 667, 667, 722, 722, 667, 611, 778,
    722, 278, 500, 667, 556, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 278,
    278, 278, 469, 556, 333, 556, 556, 500, 556, 556, 278, 556, 556, 222, 222, 500, 222, 833, 556, 556,
    556, 556, 333, 500, 278, 556, 500, 722, 500, 500, 500, 334, 260, 334, 584, 278, 333, 556, 556, 556,
    556, 260, 556, 333, 737, 370, 556, 584, 0, 737, 552, 400, 549, 333, 333, 333, 576, 537, 278, 333,
    333, 365, 556, 834, 834, 834, 611, 667, 667, 667, 667, 667, 667, 1000, 722, 667, 667, 667, 667, 278,
    278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556,
    556, 556, 556, 556, 556, 889, 500, 556, 556, 556, 556, 278, 278, 278, 278, 556, 556, 556, 556, 556,
    556, 556, 549, 611, 556, 556, 556, 556, 500, 556, 500, 1000, 278, 556, 1000, 222, 222, 333, 333,
    350, 556,
)  # fmt: skip
_BOLD: tuple[int, ...] = (
    278, 333, 474, 556, 556, 889, 722, 238, 333, 333, 389, 584, 278, 333, 278, 278, 556, 556, 556, 556,
    556, 556, 556, 556, 556, 556, 333, 333, 584, 584, 584, 611, 975, 722, 722, 722, 722, 667, 611, 778,
    722, 278, 556, 722, 611, 833, 722, 778, 667, 778, 722, 667, 611, 722, 667, 944, 667, 667, 611, 333,
    278, 333, 584, 556, 333, 556, 611, 556, 611, 556, 333, 611, 611, 278, 278, 556, 278, 889, 611, 611,
    611, 611, 389, 556, 333, 611, 556, 778, 556, 556, 500, 389, 280, 389, 584, 278, 333, 556, 556, 556,
    556, 280, 556, 333, 737, 370, 556, 584, 0, 737, 552, 400, 549, 333, 333, 333, 576, 556, 278, 333,
    333, 365, 556, 834, 834, 834, 611, 722, 722, 722, 722, 722, 722, 1000, 722, 667, 667, 667, 667, 278,
    278, 278, 278, 722, 722, 778, 778, 778, 778, 778, 584, 778, 722, 722, 722, 722, 667, 667, 611, 556,
    556, 556, 556, 556, 556, 889, 556, 556, 556, 556, 556, 278, 278, 278, 278, 611, 611, 611, 611, 611,
    611, 611, 549, 611, 611, 611, 611, 611, 556, 611, 556, 1000, 278, 556, 1000, 278, 278, 500, 500,
    350, 556,
)  # fmt: skip
_WIDTHS: dict[bool, dict[str, int]] = {
    False: dict(zip(_CHARS, _REGULAR, strict=True)),
    True: dict(zip(_CHARS, _BOLD, strict=True)),
}


@dataclass(frozen=True)
class TextStyle:
    """A font size and weight the graph draws text in; the template writes both onto the element."""

    size: float
    bold: bool = False

    @property
    def weight(self) -> str:
        return "bold" if self.bold else "normal"

    def width(self, text: str) -> float:
        """The drawn width of `text` in pixels (an upper bound: kerning is ignored)."""
        widths = _WIDTHS[self.bold]
        return sum(widths.get(char, _UNKNOWN_WIDTH) for char in text) * self.size / _UNITS_PER_EM

    def fit(self, text: str, max_width: float) -> str:
        """`text` if it fits in `max_width`, else its longest prefix that fits with an ellipsis."""
        if self.width(text) <= max_width:
            return text
        widths = _WIDTHS[self.bold]
        budget = max_width * _UNITS_PER_EM / self.size - widths[ELLIPSIS]
        end = 0
        for char in text:
            budget -= widths.get(char, _UNKNOWN_WIDTH)
            if budget < 0:
                break
            end += 1
        prefix = text[:end].rstrip()
        return prefix + ELLIPSIS if prefix else ""


NAME_STYLE = TextStyle(size=13, bold=True)
"""The entity's title or name, the node's main line."""
KIND_STYLE = TextStyle(size=11)
"""The kind and type line above the name."""
EDGE_LABEL_STYLE = TextStyle(size=11)
"""Relation names on edges."""
