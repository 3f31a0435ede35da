"""Turns an API entity's `spec.definition` into what the Definition tab shows, within fixed bounds.

Parsing and rendering never trust the text: sizes are capped before parsing, every renderer
has its own node and item limits, and any failure becomes a readable error shown above the
raw text instead of a broken page.
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import yaml

from greenroom.plugins.api_docs.asyncapi import AsyncApiView, render_asyncapi
from greenroom.plugins.api_docs.graphql_sdl import GraphQlView, render_graphql
from greenroom.plugins.api_docs.highlight import Highlighted, guess_language, highlight
from greenroom.plugins.api_docs.openapi import DefinitionError, OpenApiView, render_openapi
from greenroom.plugins.api_docs.protobuf import ProtoView, render_proto
from greenroom.plugins.api_docs.schema_tree import Budget

MAX_PARSE_CHARS = 2_000_000
"""Definitions larger than this are shown as (plain, cut) text only; the download has all of it."""

_Loader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # type: ignore[assignment]

STRUCTURED_TYPES = ("openapi", "asyncapi", "graphql", "grpc")


@dataclass
class DefinitionView:
    """What to show: a structured model for known types, else (or on error) the highlighted text."""

    spec_type: str
    kind: str  # openapi | asyncapi | graphql | grpc | raw
    size: int
    model: OpenApiView | AsyncApiView | GraphQlView | ProtoView | None = None
    error: str | None = None
    notice: str | None = None
    raw: Highlighted | None = None


def definition_text(entity: Mapping[str, Any]) -> str | None:
    """The definition as text; structured values (not Backstage's shape, but seen) become JSON."""
    spec = entity.get("spec") if isinstance(entity.get("spec"), Mapping) else {}
    value = spec.get("definition") if isinstance(spec, Mapping) else None
    if isinstance(value, str):
        return value
    if isinstance(value, Mapping | list):
        return orjson.dumps(value, option=orjson.OPT_INDENT_2).decode()
    return None


def parse_document(text: str) -> Any:
    """YAML or JSON text to data; DefinitionError with the parser's position on failure."""
    if text.lstrip()[:1] in ("{", "["):
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError:
            pass  # YAML is a superset of JSON; let the YAML parser report the error
    try:
        return yaml.load(text, Loader=_Loader)
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark
        where = f" at line {mark.line + 1}, column {mark.column + 1}" if mark is not None else ""
        raise DefinitionError(f"The definition is not valid YAML or JSON{where}: {error.problem}") from error
    except yaml.YAMLError as error:
        raise DefinitionError(f"The definition is not valid YAML or JSON: {error}") from error
    except RecursionError as error:
        raise DefinitionError("The definition is nested too deeply to parse") from error


def build_view(spec_type: str, text: str) -> DefinitionView:
    """Parse and render `text` as `spec_type`, never raising for bad input."""
    kind = spec_type.lower() if spec_type.lower() in STRUCTURED_TYPES else "raw"
    view = DefinitionView(spec_type=spec_type, kind=kind, size=len(text))
    language = guess_language(text, spec_type)
    if kind != "raw" and len(text) > MAX_PARSE_CHARS:
        view.kind = "raw"
        view.notice = (
            f"This definition is {len(text) / 1_000_000:.1f} MB, too large to render interactively. "
            "It is shown as text; download the raw definition to read all of it."
        )
    elif kind != "raw":
        try:
            view.model = _render(kind, text)
        except DefinitionError as error:
            view.error = str(error)
        except RecursionError:
            view.error = "The definition is nested too deeply to render"
        if view.model is None:
            view.kind = "raw"
    if view.kind == "raw":
        view.raw = highlight(text, language)
    return view


def _render(kind: str, text: str) -> OpenApiView | AsyncApiView | GraphQlView | ProtoView:
    if kind == "graphql":
        return render_graphql(text)
    if kind == "grpc":
        return render_proto(text)
    document = parse_document(text)
    if kind == "openapi":
        return render_openapi(document, Budget())
    return render_asyncapi(document, Budget())


class RenderCache:
    """Rendered fragments by (type, definition hash): definitions change rarely, pages are read often."""

    def __init__(self, size: int = 32, max_fragment_chars: int = 600_000) -> None:
        self._items: OrderedDict[str, Any] = OrderedDict()
        self._size = size
        self._max = max_fragment_chars
        self._lock = threading.Lock()

    @staticmethod
    def key(spec_type: str, text: str, *extra: str) -> str:
        digest = hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()
        return "\x00".join((spec_type.lower(), digest, *extra))

    def get(self, key: str) -> Any:
        with self._lock:
            value = self._items.get(key)
            if value is not None:
                self._items.move_to_end(key)
            return value

    def put(self, key: str, value: Any) -> None:
        if len(value) > self._max:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self._size:
                self._items.popitem(last=False)
