"""Syntax highlighting with Pygments, bounded in size and emitting classes (styled by our CSS)."""

from __future__ import annotations

from dataclasses import dataclass

from markupsafe import Markup, escape
from pygments import highlight as pygments_highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import GraphQLLexer, JsonLexer, ProtoBufLexer, YamlLexer

MAX_HIGHLIGHT_CHARS = 250_000
"""Past this, text is shown plain (Pygments time and page weight grow with the input)."""
MAX_SHOWN_CHARS = 400_000
"""Past this, the text shown in the page is cut; the raw download always has all of it."""

_LEXERS: dict[str, type[Lexer]] = {
    "yaml": YamlLexer,
    "json": JsonLexer,
    "graphql": GraphQLLexer,
    "proto": ProtoBufLexer,
}
_FORMATTER = HtmlFormatter(nowrap=True, classprefix="")


@dataclass(frozen=True)
class Highlighted:
    html: Markup
    truncated: bool
    highlighted: bool


def guess_language(text: str, spec_type: str = "") -> str:
    """The lexer name for a definition: by spec type, else JSON when it looks like JSON, else YAML."""
    kind = spec_type.lower()
    if kind == "graphql":
        return "graphql"
    if kind == "grpc":
        return "proto"
    stripped = text.lstrip()
    if stripped[:1] in ("{", "["):
        return "json"
    if kind in ("openapi", "asyncapi") or stripped.startswith(("---", "%YAML")) or ":" in stripped[:200]:
        return "yaml"
    return "text"


def highlight(text: str, language: str) -> Highlighted:
    """HTML for `text` (escaped by Pygments or by us), with at most MAX_SHOWN_CHARS of it."""
    truncated = len(text) > MAX_SHOWN_CHARS
    shown = text[:MAX_SHOWN_CHARS] if truncated else text
    lexer_class = _LEXERS.get(language)
    if lexer_class is None or len(shown) > MAX_HIGHLIGHT_CHARS:
        return Highlighted(Markup(escape(shown)), truncated, False)
    lexer = lexer_class()
    html = pygments_highlight(shown, lexer, _FORMATTER)
    return Highlighted(Markup(html), truncated, True)
