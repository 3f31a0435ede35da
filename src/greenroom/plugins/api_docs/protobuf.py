"""A small Protocol Buffers (proto2/proto3) reader: services, rpcs, messages, enums and their docs.

Only what a reader of the API needs is extracted; options and extensions are skipped. The parser
is a recursive descent over a token list with a nesting limit, so a hostile file costs at most
linear time and cannot exhaust the stack.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from markupsafe import Markup, escape

from greenroom.plugins.api_docs.code import highlight_proto
from greenroom.plugins.api_docs.highlight import MAX_HIGHLIGHT_CHARS, MAX_SHOWN_CHARS
from greenroom.plugins.api_docs.openapi import DefinitionError
from greenroom.plugins.api_docs.text import Anchors, clip

MAX_TOKENS = 300_000
MAX_NESTING = 32

_TOKEN = re.compile(
    r"(?P<comment>//[^\n]*|/\*.*?(?:\*/|$))"
    r"|(?P<string>\"(?:\\.|[^\"\\\n])*\"|'(?:\\.|[^'\\\n])*')"
    r"|(?P<name>\.?[_A-Za-z][_0-9A-Za-z]*(?:\.[_A-Za-z][_0-9A-Za-z]*)*)"
    r"|(?P<number>-?(?:0[xX][0-9a-fA-F]+|\d+(?:\.\d+)?(?:[eE][+-]?\d+)?))"
    r"|(?P<space>\s+)"
    r"|(?P<other>.)",
    re.S,
)


@dataclass
class _Token:
    kind: str
    text: str
    start: int
    end: int
    line: int
    doc: str | None = None  # comments directly above this token


@dataclass
class ProtoField:
    label: str | None
    type: str
    name: str
    number: str
    type_anchor: str | None = None
    description: str | None = None


@dataclass
class ProtoEnumValue:
    name: str
    number: str
    description: str | None = None


@dataclass
class ProtoRpc:
    name: str
    anchor: str
    request: str
    request_stream: bool
    response: str
    response_stream: bool
    description: str | None = None
    request_anchor: str | None = None
    response_anchor: str | None = None


@dataclass
class ProtoService:
    name: str
    anchor: str
    description: str | None
    rpcs: list[ProtoRpc] = field(default_factory=list)


@dataclass
class ProtoMessage:
    name: str  # relative to the package, dotted for nested messages
    anchor: str
    description: str | None
    scope: str
    fields: list[ProtoField] = field(default_factory=list)


@dataclass
class ProtoEnum:
    name: str
    anchor: str
    description: str | None
    values: list[ProtoEnumValue] = field(default_factory=list)


@dataclass
class ProtoView:
    syntax: str | None
    package: str | None
    imports: list[str]
    services: list[ProtoService]
    messages: list[ProtoMessage]
    enums: list[ProtoEnum]
    source: Markup


def _comment_text(raw: str) -> str:
    if raw.startswith("//"):
        return raw[2:].strip()
    body = raw[2:].removesuffix("*/")
    return " ".join(line.strip().lstrip("*").strip() for line in body.splitlines()).strip()


def _tokenize(source: str) -> list[_Token]:
    tokens: list[_Token] = []
    pending: list[str] = []
    line = 1
    blank_lines = 0
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "other"
        text = match.group()
        if kind == "space":
            blank_lines = text.count("\n")
            if blank_lines > 1:
                pending = []
        elif kind == "comment":
            pending.append(_comment_text(text))
        else:
            doc = " ".join(p for p in pending if p) or None
            tokens.append(
                _Token(kind, text, match.start(), match.end(), line, clip(doc, 600) if doc else None)
            )
            pending = []
            if len(tokens) > MAX_TOKENS:
                raise DefinitionError("The proto file is too large to show as a structured outline")
        line += text.count("\n")
    return tokens


class _Parser:
    def __init__(self, tokens: list[_Token]) -> None:
        self.tokens = tokens
        self.pos = 0
        self.anchors = Anchors()
        self.syntax: str | None = None
        self.package: str | None = None
        self.imports: list[str] = []
        self.services: list[ProtoService] = []
        self.messages: list[ProtoMessage] = []
        self.enums: list[ProtoEnum] = []

    # -- token helpers --
    def peek(self, offset: int = 0) -> _Token | None:
        index = self.pos + offset
        return self.tokens[index] if index < len(self.tokens) else None

    def next(self) -> _Token:
        token = self.peek()
        if token is None:
            raise DefinitionError("Unexpected end of the proto file (a '}' or ';' is missing)")
        self.pos += 1
        return token

    def expect(self, text: str) -> _Token:
        token = self.next()
        if token.text != text:
            raise DefinitionError(f"Line {token.line}: expected '{text}' but found '{clip(token.text, 40)}'")
        return token

    def skip_statement(self) -> None:
        """Skip to the end of the current statement: past ';' or a balanced '{...}' block."""
        depth = 0
        while True:
            token = self.next()
            if token.text == "{":
                depth += 1
            elif token.text == "}":
                depth -= 1
                if depth <= 0:
                    return
            elif token.text == ";" and depth == 0:
                return

    # -- grammar --
    def parse_file(self) -> None:
        while self.peek() is not None:
            token = self.next()
            word = token.text
            if word == "syntax" or word == "edition":
                self.expect("=")
                self.syntax = self.next().text.strip("\"'")
                self.expect(";")
            elif word == "package":
                self.package = self.next().text.lstrip(".")
                self.expect(";")
            elif word == "import":
                value = self.next()
                if value.text in ("public", "weak"):
                    value = self.next()
                self.imports.append(clip(value.text.strip("\"'"), 200))
                self.expect(";")
            elif word == "message":
                self.parse_message(token, "", 0)
            elif word == "enum":
                self.parse_enum(token, "")
            elif word == "service":
                self.parse_service(token)
            elif word == ";":
                continue
            else:
                self.skip_statement()

    def parse_message(self, keyword: _Token, scope: str, depth: int) -> None:
        if depth > MAX_NESTING:
            raise DefinitionError(f"Line {keyword.line}: messages are nested too deeply")
        name = self.next().text
        full = f"{scope}.{name}" if scope else name
        message = ProtoMessage(full, self.anchors.make("proto", full), keyword.doc, scope=full)
        self.messages.append(message)
        self.expect("{")
        self.parse_fields(message, full, depth)

    def parse_fields(self, message: ProtoMessage, scope: str, depth: int, oneof: str | None = None) -> None:
        while True:
            token = self.next()
            word = token.text
            if word == "}":
                return
            if word == ";":
                continue
            if word == "message":
                self.parse_message(token, scope, depth + 1)
            elif word == "enum":
                self.parse_enum(token, scope)
            elif word == "oneof":
                group = self.next().text
                self.expect("{")
                self.parse_fields(message, scope, depth + 1, oneof=group)
            elif word in ("option", "reserved", "extensions", "extend"):
                self.skip_statement()
            elif word == "map" and self.peek() is not None and self.peek().text == "<":  # type: ignore[union-attr]
                self.expect("<")
                key = self.next().text
                self.expect(",")
                value = self.next().text
                self.expect(">")
                self.add_field(message, token, None, f"map<{key}, {value}>", value, oneof)
            elif word in ("repeated", "optional", "required"):
                type_token = self.next()
                self.add_field(message, token, word, type_token.text, type_token.text, oneof)
            elif token.kind == "name":
                self.add_field(message, token, None, word, word, oneof)
            else:
                raise DefinitionError(
                    f"Line {token.line}: unexpected '{clip(word, 40)}' in message {message.name}"
                )

    def add_field(
        self,
        message: ProtoMessage,
        first: _Token,
        label: str | None,
        type_text: str,
        ref: str,
        oneof: str | None,
    ) -> None:
        name = self.next().text
        if name == "{":  # proto2 group or an unknown block: skip it
            self.pos -= 1
            self.skip_statement()
            return
        self.expect("=")
        number = self.next().text
        if self.peek() is not None and self.peek().text == "[":  # type: ignore[union-attr]
            while self.next().text != "]":
                pass
        self.expect(";")
        shown_label = f"oneof {oneof}" if oneof else label
        message.fields.append(
            ProtoField(shown_label, clip(type_text, 120), clip(name, 120), clip(number, 20), ref, first.doc)
        )

    def parse_enum(self, keyword: _Token, scope: str) -> None:
        name = self.next().text
        full = f"{scope}.{name}" if scope else name
        enum = ProtoEnum(full, self.anchors.make("proto", full), keyword.doc)
        self.enums.append(enum)
        self.expect("{")
        while True:
            token = self.next()
            if token.text == "}":
                return
            if token.text == ";":
                continue
            if token.text in ("option", "reserved"):
                self.skip_statement()
                continue
            self.expect("=")
            number = self.next().text
            if self.peek() is not None and self.peek().text == "[":  # type: ignore[union-attr]
                while self.next().text != "]":
                    pass
            self.expect(";")
            enum.values.append(ProtoEnumValue(clip(token.text, 120), clip(number, 20), token.doc))

    def parse_service(self, keyword: _Token) -> None:
        name = self.next().text
        service = ProtoService(name, self.anchors.make("proto", "service", name), keyword.doc)
        self.services.append(service)
        self.expect("{")
        while True:
            token = self.next()
            if token.text == "}":
                return
            if token.text == ";":
                continue
            if token.text != "rpc":
                self.skip_statement()
                continue
            rpc_name = self.next().text
            self.expect("(")
            request_stream = self.peek() is not None and self.peek().text == "stream"  # type: ignore[union-attr]
            if request_stream:
                self.next()
            request = self.next().text
            self.expect(")")
            self.expect("returns")
            self.expect("(")
            response_stream = self.peek() is not None and self.peek().text == "stream"  # type: ignore[union-attr]
            if response_stream:
                self.next()
            response = self.next().text
            self.expect(")")
            after = self.next()
            if after.text == "{":
                self.pos -= 1
                self.skip_statement()
            elif after.text != ";":
                raise DefinitionError(f"Line {after.line}: expected ';' after rpc {rpc_name}")
            service.rpcs.append(
                ProtoRpc(
                    name=clip(rpc_name, 120),
                    anchor=self.anchors.make("proto", "rpc", name, rpc_name),
                    request=clip(request, 200),
                    request_stream=request_stream,
                    response=clip(response, 200),
                    response_stream=response_stream,
                    description=token.doc,
                )
            )


class _Names:
    """Resolves a type reference the way protoc does: innermost scope outwards, then the package."""

    def __init__(self, package: str | None, anchors: dict[str, str]) -> None:
        self.package = package or ""
        self.anchors = anchors

    def resolve(self, ref: str, scope: str = "") -> str | None:
        name = ref.lstrip(".")
        if ref.startswith(".") or (self.package and name.startswith(self.package + ".")):
            relative = (
                name[len(self.package) + 1 :]
                if self.package and name.startswith(self.package + ".")
                else name
            )
            return self.anchors.get(relative)
        parts = scope.split(".") if scope else []
        while True:
            candidate = ".".join([*parts, name])
            if candidate in self.anchors:
                return self.anchors[candidate]
            if not parts:
                return None
            parts.pop()


def render_proto(source: str) -> ProtoView:
    """Parse a .proto file into the view; raise DefinitionError with a line number on failure."""
    parser = _Parser(_tokenize(source))
    parser.parse_file()
    anchors = {m.name: m.anchor for m in parser.messages} | {e.name: e.anchor for e in parser.enums}
    names = _Names(parser.package, anchors)
    for message in parser.messages:
        for fld in message.fields:
            fld.type_anchor = names.resolve(fld.type_anchor or "", message.scope)
    for service in parser.services:
        for rpc in service.rpcs:
            rpc.request_anchor = names.resolve(rpc.request)
            rpc.response_anchor = names.resolve(rpc.response)
    return ProtoView(
        syntax=parser.syntax,
        package=parser.package,
        imports=parser.imports,
        services=parser.services,
        messages=parser.messages,
        enums=parser.enums,
        source=(
            highlight_proto(source, names.resolve)
            if len(source) <= MAX_HIGHLIGHT_CHARS
            else Markup(escape(source[:MAX_SHOWN_CHARS]))
        ),
    )
