"""Small hand-written highlighters for GraphQL SDL and Protocol Buffers that also link type names.

Pygments' lexers for these languages mis-tokenise common SDL, and neither knows which names
are defined in the document; these emit classed spans and turn every reference to a type
defined in the same file into a link to that type's anchor, which is what makes the code
navigable. Each is one linear regex scan, so their cost is bounded by the input size.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

from markupsafe import Markup, escape

_GRAPHQL_TOKEN = re.compile(
    r'(?P<block>"""(?:\\"""|[^"]|"(?!""))*(?:"""|$))'
    r'|(?P<string>"(?:\\.|[^"\\\n])*"?)'
    r"|(?P<comment>#[^\n]*)"
    r"|(?P<directive>@[_A-Za-z][_0-9A-Za-z]*)"
    r"|(?P<variable>\$[_A-Za-z][_0-9A-Za-z]*)"
    r"|(?P<name>[_A-Za-z][_0-9A-Za-z]*)"
    r"|(?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)
GRAPHQL_KEYWORDS = frozenset(
    {
        "type",
        "interface",
        "union",
        "enum",
        "input",
        "scalar",
        "schema",
        "directive",
        "extend",
        "implements",
        "query",
        "mutation",
        "subscription",
        "fragment",
        "on",
        "repeatable",
        "true",
        "false",
        "null",
    }
)
GRAPHQL_BUILTIN = frozenset({"Int", "Float", "String", "Boolean", "ID"})

_PROTO_TOKEN = re.compile(
    r"(?P<comment>//[^\n]*|/\*.*?(?:\*/|$))"
    r"|(?P<string>\"(?:\\.|[^\"\\\n])*\"?|'(?:\\.|[^'\\\n])*'?)"
    r"|(?P<name>\.?[_A-Za-z][_0-9A-Za-z]*(?:\.[_A-Za-z][_0-9A-Za-z]*)*)"
    r"|(?P<number>-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)
PROTO_KEYWORDS = frozenset(
    {
        "syntax",
        "edition",
        "package",
        "import",
        "option",
        "message",
        "enum",
        "service",
        "rpc",
        "returns",
        "stream",
        "repeated",
        "optional",
        "required",
        "oneof",
        "map",
        "reserved",
        "extend",
        "extensions",
        "to",
        "max",
        "public",
        "weak",
        "group",
        "true",
        "false",
    }
)
PROTO_SCALARS = frozenset(
    {
        "double",
        "float",
        "int32",
        "int64",
        "uint32",
        "uint64",
        "sint32",
        "sint64",
        "fixed32",
        "fixed64",
        "sfixed32",
        "sfixed64",
        "bool",
        "string",
        "bytes",
    }
)


def _span(cls: str, text: str) -> str:
    return f'<span class="gr-apidoc-tok-{cls}">{escape(text)}</span>'


def _link(cls: str, text: str, href: str) -> str:
    return f'<a class="gr-apidoc-tok-{cls} gr-apidoc-ref" href="#{escape(href)}">{escape(text)}</a>'


def _next_significant(source: str, position: int) -> str:
    while position < len(source) and source[position] in " \t\r\n,":
        position += 1
    return source[position : position + 1]


def highlight_graphql(source: str, anchors: Mapping[str, str]) -> Markup:
    """SDL as HTML: keywords, descriptions, comments, fields, and defined types as links."""
    out: list[str] = []
    previous_name = ""
    for match in _GRAPHQL_TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        text = match.group()
        if kind in ("block", "string"):
            out.append(_span("string", text))
        elif kind == "comment":
            out.append(_span("comment", text))
        elif kind == "directive":
            out.append(_span("directive", text))
        elif kind == "number":
            out.append(_span("number", text))
        elif kind == "name":
            follower = _next_significant(source, match.end())
            if text in anchors:
                out.append(_link("type", text, anchors[text]))
            elif text in GRAPHQL_BUILTIN:
                out.append(_span("builtin", text))
            elif text in GRAPHQL_KEYWORDS and follower not in (":", "("):
                out.append(_span("keyword", text))
            elif follower in (":", "("):
                out.append(_span("field", text))
            elif previous_name in ("type", "interface", "union", "enum", "input", "scalar"):
                out.append(_span("type", text))
            else:
                out.append(escape(text))
            previous_name = text
        else:
            out.append(escape(text))
    return Markup("".join(out))


def highlight_proto(source: str, resolve: Callable[[str], str | None]) -> Markup:
    """Proto as HTML: keywords, scalars, comments, strings, and message/enum names as links."""
    out: list[str] = []
    for match in _PROTO_TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        text = match.group()
        if kind == "comment":
            out.append(_span("comment", text))
        elif kind == "string":
            out.append(_span("string", text))
        elif kind == "number":
            out.append(_span("number", text))
        elif kind == "name":
            follower = _next_significant(source, match.end())
            href = resolve(text)
            if href is not None:
                out.append(_link("type", text, href))
            elif text in PROTO_KEYWORDS and follower not in ("=",):
                out.append(_span("keyword", text))
            elif text in PROTO_SCALARS:
                out.append(_span("builtin", text))
            elif follower == "=":
                out.append(_span("field", text))
            else:
                out.append(escape(text))
        else:
            out.append(escape(text))
    return Markup("".join(out))
