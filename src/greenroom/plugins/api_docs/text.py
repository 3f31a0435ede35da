"""Safe text helpers for definitions: Markdown descriptions, URLs, anchors and bounded strings.

Everything in an API definition is untrusted. Markdown is rendered without raw HTML and then
sanitised again; URLs become links only when they are http(s) or mailto; anything else is text.
"""

from __future__ import annotations

import re
from typing import Any

import nh3
from markdown_it import MarkdownIt
from markupsafe import Markup, escape

MAX_DESCRIPTION_CHARS = 4000
MAX_VALUE_CHARS = 200

_md = MarkdownIt("commonmark", {"html": False, "linkify": False}).disable("image")
_ALLOWED_TAGS = {
    "p", "a", "code", "pre", "em", "strong", "ul", "ol", "li", "blockquote", "br", "hr",
    "h1", "h2", "h3", "h4", "h5", "h6", "table", "thead", "tbody", "tr", "th", "td",
}  # fmt: skip
_SAFE_SCHEMES = {"http", "https", "mailto"}
_ANCHOR_UNSAFE = re.compile(r"[^A-Za-z0-9_.-]+")


def clip(value: Any, limit: int = MAX_VALUE_CHARS) -> str:
    """A value as one bounded line of text (for enums, defaults, examples)."""
    text = (
        value if isinstance(value, str) else repr(value) if not isinstance(value, int | float) else str(value)
    )
    return text if len(text) <= limit else text[: limit - 1] + "…"


def markdown(value: Any) -> Markup | None:
    """CommonMark description to sanitised HTML; None for empty or non-string values."""
    if not isinstance(value, str) or not value.strip():
        return None
    text = value if len(value) <= MAX_DESCRIPTION_CHARS else value[:MAX_DESCRIPTION_CHARS] + " …"
    html = _md.render(text)
    cleaned = nh3.clean(
        html,
        tags=_ALLOWED_TAGS,
        attributes={"a": {"href", "title"}},
        url_schemes=_SAFE_SCHEMES,
        link_rel="noopener noreferrer nofollow",
    )
    return Markup(cleaned)


def safe_url(value: Any) -> str | None:
    """The URL when it is absolute http(s) or mailto, else None (so it is shown as text only)."""
    if not isinstance(value, str):
        return None
    url = value.strip()
    scheme, colon, _ = url.partition(":")
    if not colon or scheme.lower() not in _SAFE_SCHEMES or any(ch in url for ch in "\x00\n\r\t <>\"'`"):
        return None
    return url


def anchor(*parts: str) -> str:
    """A stable, attribute-safe fragment id built from free-form parts."""
    cleaned = [_ANCHOR_UNSAFE.sub("-", part).strip("-") or "x" for part in parts]
    return "-".join(cleaned)[:120]


class Anchors:
    """Hands out unique fragment ids within one rendered document."""

    def __init__(self) -> None:
        self._used: set[str] = set()

    def make(self, *parts: str) -> str:
        base = anchor(*parts)
        candidate, n = base, 2
        while candidate in self._used:
            candidate, n = f"{base}-{n}", n + 1
        self._used.add(candidate)
        return candidate


def plain(value: Any) -> str | None:
    """A string field as bounded text, None when it is not a non-empty string."""
    if isinstance(value, str) and value.strip():
        return clip(value, MAX_DESCRIPTION_CHARS)
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return None


__all__ = ["Anchors", "anchor", "clip", "escape", "markdown", "plain", "safe_url"]
