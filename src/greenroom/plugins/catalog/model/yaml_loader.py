"""Descriptor-file parsing that is safe on hostile input and remembers where every key was.

Values are built directly from libyaml's event stream rather than from composed nodes, because
that lets us stop early: PyYAML's C composer recurses without limit (deep nesting crashes the
process) and expands aliases without bound (billion laughs). Event-level building enforces a
depth limit, a node budget that counts alias expansions, and records the 1-based line of every
key so validators can report `file:line`. It is also the cheapest route through libyaml: its C
composer calls a Python resolver for every scalar, which costs more than building values here,
and most of what remains is PyYAML creating the event objects.

Scalars follow the YAML 1.2 core schema, as Backstage's `yaml` package does: `yes`/`on` stay
strings, timestamps stay strings, `<<` is an ordinary key. One broken document does not hide the
others: after an error, parsing resumes at the next `---` line.
"""

from __future__ import annotations

import bisect
import dataclasses
import io
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
    StreamEndEvent,
)

_EventParser: Any
try:
    from yaml.cyaml import CParser as _EventParser  # type: ignore[attr-defined,no-redef]
except ImportError:  # pragma: no cover - libyaml missing: same events, pure-Python speed
    _EventParser = yaml.SafeLoader

DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_MAX_DEPTH = 64
# A document cannot hold more real nodes than it has bytes; the slack covers sane alias reuse.
_NODE_BUDGET_SLACK = 100_000
_MAX_ERRORS_PER_FILE = 200

_UTF8_BOM = b"\xef\xbb\xbf"
_LINE_BREAK = re.compile(r"\r\n|[\r\n\x85\u2028\u2029]")
_LINE_BREAK_CHARS = "\r\n\x85\u2028\u2029"
# Characters libyaml refuses to read (YAML's printable set, minus a BOM inside the stream).
_UNREADABLE_CHAR = re.compile(
    "[^\t\n\r\x20-\x7e\x85\xa0-\ud7ff\ue000-\ufefe\uff00-\ufffd\U00010000-\U0010ffff]"
)

# The ASCII bytes of that printable set (ASCII text is checked with bytes.translate).
_READABLE_ASCII = bytes([0x09, 0x0A, 0x0D, *range(0x20, 0x7F)])

_CORE_TYPED_TAGS = frozenset(
    {"tag:yaml.org,2002:int", "tag:yaml.org,2002:float", "tag:yaml.org,2002:bool", "tag:yaml.org,2002:null"}
)
_NOT_SPECIAL = object()
_PLAIN_SPECIALS: dict[str, Any] = {
    "": None,
    "~": None,
    "null": None,
    "Null": None,
    "NULL": None,
    "true": True,
    "True": True,
    "TRUE": True,
    "false": False,
    "False": False,
    "FALSE": False,
    **dict.fromkeys((".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF"), math.inf),
    **dict.fromkeys(("-.inf", "-.Inf", "-.INF"), -math.inf),
    **dict.fromkeys((".nan", ".NaN", ".NAN"), math.nan),
}
_NUMBER_START = frozenset("0123456789+-.")
_DECIMAL_INT = re.compile(r"[-+]?[0-9]+")
_OCTAL_INT = re.compile(r"0o[0-7]+")
_HEX_INT = re.compile(r"0x[0-9a-fA-F]+")
_FLOAT = re.compile(r"[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?")


@dataclass(frozen=True, slots=True)
class DescriptorError:
    """A problem in a descriptor file. Lines and columns are 1-based; 0 means "the whole file"."""

    source: str
    line: int
    column: int
    field: str
    message: str

    def __str__(self) -> str:
        if self.field:
            return f"{self.source}:{self.line}: {self.field}: {self.message}"
        return f"{self.source}:{self.line}: {self.message}"


@dataclass(slots=True)
class ParsedDocument:
    """One YAML document: either `value` (a mapping) or `error` is set.

    `index` is the document's 0-based position in the file (empty documents count but are not
    returned); `key_lines` maps dot paths (`metadata.name`, `spec.providesApis.1`) to lines.
    """

    index: int
    line: int
    value: Any | None
    error: DescriptorError | None
    key_lines: dict[str, int] = field(default_factory=dict)


class _DocumentProblem(Exception):
    """A document-level problem found while building values (the YAML itself may be fine)."""

    def __init__(self, line: int, column: int, field_path: str, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.column = column
        self.field_path = field_path
        self.message = message


def _duplicate_key(event: Any, line: int, path: str, key: str, key_lines: dict[str, int]) -> _DocumentProblem:
    return _DocumentProblem(
        line,
        event.start_mark.column + 1,
        path,
        f"duplicate key '{key}' (first at line {key_lines.get(path, '?')})",
    )


# Mappings of one catalog share a few key sets (metadata, spec, annotations): remember verdicts.
_CASE_VERDICT_LIMIT = 50_000
_case_verdicts: dict[tuple[str, ...], bool] = {}


def _keys_distinct_ignoring_case(mapping: dict[str, Any]) -> bool:
    """Whether no two keys of the mapping differ only in case (a cached set comparison)."""
    keys = tuple(mapping)
    verdict = _case_verdicts.get(keys)
    if verdict is None:
        if len(_case_verdicts) >= _CASE_VERDICT_LIMIT:
            _case_verdicts.clear()
        verdict = _case_verdicts[keys] = len(set(map(str.lower, keys))) == len(keys)
    return verdict


def _case_duplicate(keys: dict[str, Any], prefix: str, key_lines: dict[str, int]) -> _DocumentProblem:
    """The problem for the first key that repeats an earlier key in another case (one must exist)."""
    first_spelling: dict[str, str] = {}
    for key in keys:
        other = first_spelling.setdefault(key.lower(), key)
        if other != key:
            path = prefix + key
            return _DocumentProblem(
                key_lines.get(path, 0), 0, path, f"keys '{other}' and '{key}' differ only in case"
            )
    raise AssertionError("no keys differ only in case")  # pragma: no cover - callers check first


def _resolve_plain_scalar(text: str) -> Any:
    """YAML 1.2 core-schema resolution of an untagged plain scalar."""
    special = _PLAIN_SPECIALS.get(text, _NOT_SPECIAL)
    if special is not _NOT_SPECIAL:
        return special
    if text[0] not in _NUMBER_START:
        return text
    try:
        if _DECIMAL_INT.fullmatch(text):
            return int(text)
        if _HEX_INT.fullmatch(text):
            return int(text[2:], 16)
        if _OCTAL_INT.fullmatch(text):
            return int(text[2:], 8)
    except ValueError:  # more digits than Python converts; JavaScript would make it a float
        return float(text)
    if _FLOAT.fullmatch(text):
        return float(text)
    return text


def _javascript_number_text(number: float) -> str:
    if math.isnan(number):
        return "NaN"
    if math.isinf(number):
        return "Infinity" if number > 0 else "-Infinity"
    return str(int(number)) if number.is_integer() and abs(number) < 1e21 else repr(number)


def _key_text(value: Any) -> str:
    """Object keys are strings in JSON; convert scalar keys the way JavaScript would."""
    if isinstance(value, str):
        return value
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return _javascript_number_text(value)
    return str(value)


def _copy_collections(value: Any) -> Any:
    """Fresh containers for an alias, so editing one expansion never changes another."""
    if isinstance(value, dict):
        return {key: _copy_collections(child) for key, child in value.items()}
    if isinstance(value, list):
        return [_copy_collections(child) for child in value]
    return value


def _height(value: Any) -> int:
    if isinstance(value, dict):
        return 1 + max((_height(child) for child in value.values()), default=0)
    if isinstance(value, list):
        return 1 + max((_height(child) for child in value), default=0)
    return 0


def _describe_root(value: Any) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    return "a string"


class _FileReader:
    """Reads every document of one file, resynchronising after errors."""

    def __init__(
        self, text: str, source: str, max_depth: int, max_nodes: int, *, entities_only: bool = True
    ) -> None:
        self.text = text
        self.entities_only = entities_only
        self.source = source
        self.max_depth = max_depth
        self.max_nodes = max_nodes
        self.nodes_used = 0
        self.next_index = 0
        self.documents: list[ParsedDocument] = []
        self.error_count = 0
        self._document_start_lines: list[int] | None = None
        self._line_offsets: list[int] | None = None
        self._unreadable = self._neutralise_unreadable_characters()

    def read_all(self) -> list[ParsedDocument]:
        stream = io.StringIO(self.text)
        first_line = 0
        while True:
            stream.seek(self._offset_of_line(first_line) if first_line else 0)
            parser = _EventParser(stream)
            try:
                failure_line = self._read_stream(parser, first_line)
            finally:
                parser.dispose()
            if failure_line is None or self.error_count >= _MAX_ERRORS_PER_FILE:
                if failure_line is not None:
                    self._add_error(
                        self.next_index, failure_line + 1, 0, "", "too many errors; stopped reading"
                    )
                return self.documents
            resume_line = self._next_document_start(after=first_line, at_or_after=failure_line)
            if resume_line is None:
                return self.documents
            first_line = resume_line

    def _add_error(self, index: int, line: int, column: int, field_path: str, message: str) -> None:
        error = DescriptorError(self.source, line, column, field_path, message)
        self.documents.append(ParsedDocument(index, line, None, error))
        self.error_count += 1

    def _read_stream(self, parser: Any, line_offset: int) -> int | None:
        """Read documents until the stream ends (None) or breaks (the 0-based line to resume from)."""
        get_event: Callable[[], Any] = parser.get_event
        index: int | None = None
        try:
            while True:
                event = get_event()
                event_type = type(event)
                if event_type is DocumentStartEvent:
                    index = self.next_index
                    self.next_index += 1
                    self._read_document(
                        get_event, index, line_offset, event.start_mark.line + line_offset + 1
                    )
                    index = None
                elif event_type is StreamEndEvent:
                    return None
        except _DocumentProblem as problem:
            assert index is not None
            self._add_error(index, problem.line, problem.column, problem.field_path, problem.message)
            return problem.line - 1
        except yaml.MarkedYAMLError as failure:
            if index is None:
                index = self.next_index
                self.next_index += 1
            mark = failure.problem_mark
            line = (mark.line + line_offset + 1) if mark is not None else line_offset + 1
            column = mark.column + 1 if mark is not None else 0
            if str(failure.problem).startswith("exceeded maximum nesting depth"):
                # libyaml 0.2.6+ refuses deep flow nesting while scanning, before our own limit
                # sees the events: report it the same way
                message = f"nesting is deeper than {self.max_depth} levels"
            else:
                message = self._syntax_message(failure, column, line_offset)
            self._add_error(index, line, column, "", message)
            return line - 1
        except yaml.YAMLError:  # reader errors: a character YAML does not allow
            if index is None:
                index = self.next_index
                self.next_index += 1
            line, column, message = self._locate_unreadable_character(line_offset)
            self._add_error(index, line, column, "", message)
            return line - 1

    @staticmethod
    def _syntax_message(failure: yaml.MarkedYAMLError, column: int, line_offset: int) -> str:
        message = f"YAML syntax error at column {column}: {failure.problem}"
        if failure.context and failure.context_mark is not None:
            mark = failure.context_mark
            where = f"line {mark.line + line_offset + 1}, column {mark.column + 1}"
            message += f" ({failure.context} started at {where})"
        elif failure.context:
            message += f" ({failure.context})"
        return message

    def _locate_unreadable_character(self, line_offset: int) -> tuple[int, int, str]:
        start = self._offset_of_line(line_offset)
        found = _UNREADABLE_CHAR.search(self.text, start)
        if found is None:
            return line_offset + 1, 0, "YAML reader error: unreadable input"
        line = self._line_of_offset(found.start())
        column = found.start() - self._offset_of_line(line) + 1
        return line + 1, column, f"character U+{ord(found.group()):04X} is not allowed in YAML"

    def _read_document(
        self, get_event: Callable[[], Any], index: int, line_offset: int, first_line: int
    ) -> None:
        """Build one document's value from its events (the DocumentStart is already consumed).

        This loop runs for every event of every descriptor, so the innermost open collection lives
        in local variables (not a frame object), the enclosing ones in a stack of tuples, and the
        common events (plain scalars, keys, values) are handled inline without helper calls.
        """
        max_depth = self.max_depth
        max_nodes = self.max_nodes
        entities_only = self.entities_only
        base = line_offset + 1
        specials_get = _PLAIN_SPECIALS.get
        not_special = _NOT_SPECIAL
        number_start = _NUMBER_START
        core_typed_tags = _CORE_TYPED_TAGS
        scalar_event, alias_event = ScalarEvent, AliasEvent
        mapping_start, sequence_start = MappingStartEvent, SequenceStartEvent
        mapping_end, sequence_end = MappingEndEvent, SequenceEndEvent
        anchors: dict[str, tuple[Any, int, int]] = {}
        key_lines: dict[str, int] = {}
        # The enclosing collections: (container, is_mapping, prefix, key, anchor, nodes_before).
        stack: list[tuple[Any, bool, str, str | None, str | None, int]] = []
        # The innermost open collection (depth 0: none is open).
        depth = 0
        container: Any = None
        is_mapping = False
        prefix = ""
        key: str | None = None  # a mapping's key whose value has not been read yet
        frame_anchor: str | None = None
        nodes_before = 0
        nodes_used = self.nodes_used
        root: Any = None
        root_line = 0
        value: Any
        try:
            while True:
                event = get_event()
                event_type = type(event)
                if event_type is scalar_event:
                    nodes_used += 1
                    value = event.value
                    tag = event.tag
                    if event.implicit[0] if tag is None else tag in core_typed_tags:
                        resolved = specials_get(value, not_special)
                        if resolved is not not_special:
                            value = resolved
                        elif value[0] in number_start:
                            value = _resolve_plain_scalar(value)
                    if event.anchor is not None:
                        anchors[event.anchor] = (value, 1, 0)
                    if is_mapping:
                        if key is None:
                            key = value if type(value) is str else _key_text(value)
                            path = prefix + key
                            line = event.start_mark.line + base
                            if key in container:
                                raise _duplicate_key(event, line, path, key, key_lines)
                            key_lines[path] = line
                        else:
                            container[key] = value
                            key = None
                        continue
                elif event_type is mapping_start or event_type is sequence_start:
                    line = event.start_mark.line + base
                    if not depth:
                        if event_type is sequence_start and entities_only:
                            raise _DocumentProblem(
                                line,
                                event.start_mark.column + 1,
                                "",
                                "expected a mapping (an entity), found a list",
                            )
                        path = ""
                    elif is_mapping:
                        if key is None:
                            raise _DocumentProblem(
                                line,
                                event.start_mark.column + 1,
                                prefix[:-1],
                                "a mapping key must be a scalar, not a mapping or a list",
                            )
                        path = prefix + key + "."
                    else:
                        path = prefix + str(len(container))
                        key_lines[path] = line
                        path += "."
                    if depth >= max_depth:
                        raise _DocumentProblem(
                            line,
                            event.start_mark.column + 1,
                            path[:-1],
                            f"nesting is deeper than {max_depth} levels",
                        )
                    nodes_used += 1
                    if nodes_used > max_nodes:
                        raise self._budget_problem(event, line_offset)
                    if depth:
                        stack.append((container, is_mapping, prefix, key, frame_anchor, nodes_before))
                    else:
                        root_line = line
                    depth += 1
                    is_mapping = event_type is mapping_start
                    container = {} if is_mapping else []
                    prefix = path
                    key = None
                    frame_anchor = event.anchor
                    nodes_before = nodes_used
                    continue
                elif event_type is mapping_end or event_type is sequence_end:
                    value = container
                    if is_mapping and len(value) > 1 and not _keys_distinct_ignoring_case(value):
                        raise _case_duplicate(value, prefix, key_lines)
                    if frame_anchor is not None:
                        anchors[frame_anchor] = (value, nodes_used - nodes_before + 1, _height(value))
                    depth -= 1
                    if not depth:
                        root = value
                        container, is_mapping, prefix, key, frame_anchor = None, False, "", None, None
                        continue
                    container, is_mapping, prefix, key, frame_anchor, nodes_before = stack.pop()
                    # A collection is never a key: its start event already refused that.
                    if is_mapping:
                        container[key] = value
                        key = None
                    else:
                        container.append(value)  # its line was recorded when it started
                    continue
                elif event_type is alias_event:
                    line = event.start_mark.line + base
                    known = anchors.get(event.anchor)
                    if known is None:
                        raise _DocumentProblem(
                            line,
                            event.start_mark.column + 1,
                            "",
                            f"alias *{event.anchor} refers to no finished anchor",
                        )
                    value, node_count, height = known
                    nodes_used += node_count
                    if nodes_used > max_nodes:
                        raise self._budget_problem(event, line_offset)
                    if height and depth + height > max_depth:
                        raise _DocumentProblem(
                            line,
                            event.start_mark.column + 1,
                            "",
                            f"alias expands to nesting deeper than {max_depth} levels",
                        )
                    if height:
                        value = _copy_collections(value)
                    if is_mapping:
                        if key is None:
                            if isinstance(value, dict | list):
                                raise _DocumentProblem(
                                    line,
                                    event.start_mark.column + 1,
                                    prefix[:-1],
                                    "a mapping key must be a scalar",
                                )
                            key = _key_text(value)
                            path = prefix + key
                            if key in container:
                                raise _duplicate_key(event, line, path, key, key_lines)
                            key_lines[path] = line
                        else:
                            container[key] = value
                            key = None
                        continue
                elif event_type is DocumentEndEvent:
                    self.nodes_used = nodes_used
                    self._finish_document(index, root, root_line, key_lines, first_line, event, line_offset)
                    return
                else:  # pragma: no cover - libyaml emits no other events inside a document
                    continue

                # A scalar or an alias outside any mapping: a sequence item or the whole document.
                if depth:
                    key_lines[prefix + str(len(container))] = event.start_mark.line + base
                    container.append(value)
                elif not entities_only:
                    root, root_line = value, event.start_mark.line + base
                elif value is not None:
                    raise _DocumentProblem(
                        event.start_mark.line + base,
                        event.start_mark.column + 1,
                        "",
                        f"expected a mapping (an entity), found {_describe_root(value)}",
                    )
        finally:
            self.nodes_used = nodes_used

    def _budget_problem(self, event: Any, line_offset: int) -> _DocumentProblem:
        return _DocumentProblem(
            event.start_mark.line + line_offset + 1,
            event.start_mark.column + 1,
            "",
            f"too many aliases/nodes: the file expands to more than {self.max_nodes} nodes",
        )

    def _finish_document(
        self,
        index: int,
        root: Any,
        root_line: int,
        key_lines: dict[str, int],
        first_line: int,
        end: Any,
        line_offset: int,
    ) -> None:
        last_line = end.end_mark.line + line_offset + 1
        if self._unreadable:
            found = bisect.bisect_left(self._unreadable, (first_line, 0, ""))
            if found < len(self._unreadable) and self._unreadable[found][0] <= last_line:
                line, column, character = self._unreadable[found]
                self._add_error(
                    index, line, column, "", f"character U+{ord(character):04X} is not allowed in YAML"
                )
                return
        if root is None and self.entities_only:
            return  # empty document (e.g. a trailing `---`): nothing to report
        line = root_line or (end.start_mark.line + line_offset + 1)
        self.documents.append(ParsedDocument(index, line, root, None, key_lines))

    def _neutralise_unreadable_characters(self) -> list[tuple[int, int, str]]:
        """Find characters libyaml refuses, and blank them so the other documents still parse.

        libyaml checks whole input blocks before emitting any event, so one stray control
        character would otherwise lose every document around it. Documents that contained one
        are reported as errors when they finish.
        """
        if self.text.isascii():  # O(1) for str; then a C-speed byte filter beats the regex tenfold
            if not self.text.encode("ascii").translate(None, _READABLE_ASCII):
                return []
        elif _UNREADABLE_CHAR.search(self.text) is None:
            return []
        found: list[tuple[int, int, str]] = []
        for match in _UNREADABLE_CHAR.finditer(self.text):
            line = self._line_of_offset(match.start())
            found.append((line + 1, match.start() - self._offset_of_line(line) + 1, match.group()))
        self.text = _UNREADABLE_CHAR.sub("\ufffd", self.text)
        return found

    # --- line bookkeeping, computed only when an error forces a resynchronisation ---------

    def _offsets(self) -> list[int]:
        if self._line_offsets is None:
            self._line_offsets = [0, *(match.end() for match in _LINE_BREAK.finditer(self.text))]
        return self._line_offsets

    def _offset_of_line(self, line: int) -> int:
        offsets = self._offsets()
        return offsets[min(line, len(offsets) - 1)]

    def _line_of_offset(self, offset: int) -> int:
        return bisect.bisect_right(self._offsets(), offset) - 1

    def _next_document_start(self, *, after: int, at_or_after: int) -> int | None:
        """The first `---` line that is >= `at_or_after` and > `after` (0-based), if any."""
        if self._document_start_lines is None:
            text = self.text
            self._document_start_lines = [
                line
                for line, offset in enumerate(self._offsets())
                if text.startswith("---", offset)
                and (offset + 3 == len(text) or text[offset + 3] in " \t" + _LINE_BREAK_CHARS)
            ]
        starts = self._document_start_lines
        position = bisect.bisect_left(starts, max(at_or_after, after + 1))
        return starts[position] if position < len(starts) else None


def _whole_file_error(source: str, line: int, column: int, message: str) -> list[ParsedDocument]:
    return [ParsedDocument(0, line, None, DescriptorError(source, line, column, "", message))]


def load_descriptor_documents(
    data: bytes,
    *,
    source: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
    max_nodes: int | None = None,
) -> list[ParsedDocument]:
    """Parse every YAML document of a descriptor file, never raising on bad input.

    `max_nodes` bounds the values built, alias expansions included (default: about one node
    per input byte, which no honest file exceeds).
    """
    if len(data) > max_bytes:
        return _whole_file_error(
            source, 0, 0, f"file is {len(data)} bytes, more than the limit of {max_bytes}"
        )
    bom_length = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    budget = max_nodes if max_nodes is not None else len(data) + _NODE_BUDGET_SLACK
    try:
        text = data[bom_length:].decode("utf-8")
    except UnicodeDecodeError:
        return _read_with_bad_bytes(data, bom_length, source, max_depth, budget)
    return _FileReader(text, source, max_depth, budget).read_all()


def _read_with_bad_bytes(
    data: bytes, bom_length: int, source: str, max_depth: int, budget: int
) -> list[ParsedDocument]:
    """Parse around invalid UTF-8: only the documents that contain bad bytes become errors.

    One mis-encoded description must not hide the other entities of a multi-document file.
    """
    bad_lines: dict[int, tuple[int, int, int]] = {}  # line -> (column, byte, offset) of its first bad byte
    position = bom_length
    while position < len(data):
        try:
            data[position:].decode("utf-8")
            break
        except UnicodeDecodeError as failure:
            offset = position + failure.start
            line = data.count(b"\n", 0, offset) + 1
            column = offset - (data.rfind(b"\n", 0, offset) + 1) + 1
            bad_lines.setdefault(line, (column, data[offset], offset))
            position = offset + max(1, failure.end - failure.start)
    text = data[bom_length:].decode("utf-8", errors="replace")
    documents = _FileReader(text, source, max_depth, budget).read_all()
    starts = [document.line for document in documents] + [10**12]
    result: list[ParsedDocument] = []
    for index, document in enumerate(documents):
        inside = [line for line in bad_lines if starts[index] <= line < starts[index + 1]]
        if not inside:
            result.append(document)
            continue
        line = min(inside)
        column, byte, offset = bad_lines[line]
        error = DescriptorError(
            source,
            line,
            column,
            "",
            f"not valid UTF-8: byte 0x{byte:02x} at line {line}, column {column} (offset {offset})",
        )
        result.append(dataclasses.replace(document, value=None, error=error, key_lines={}))
    if not documents:
        line = min(bad_lines) if bad_lines else 1
        column, byte, offset = bad_lines.get(line, (1, 0, 0))
        return _whole_file_error(
            source, line, column, f"file is not valid UTF-8 (byte 0x{byte:02x} at offset {offset})"
        )
    return result


def load_single_yaml_value(
    data: bytes,
    *,
    source: str,
    max_bytes: int = DEFAULT_MAX_BYTES,
    max_depth: int = DEFAULT_MAX_DEPTH,
) -> Any:
    """The value of a file holding exactly one YAML document of any type (for `$yaml` placeholders).

    Same limits and YAML 1.2 core-schema rules as descriptor files; raises ValueError (with the
    `file:line: message` text) when the file is unsafe, malformed or holds several documents.
    """
    if len(data) > max_bytes:
        raise ValueError(f"{source}:0: file is {len(data)} bytes, more than the limit of {max_bytes}")
    bom_length = len(_UTF8_BOM) if data.startswith(_UTF8_BOM) else 0
    try:
        text = data[bom_length:].decode("utf-8")
    except UnicodeDecodeError as failure:
        raise ValueError(
            f"{source}: file is not valid UTF-8 (byte offset {bom_length + failure.start})"
        ) from None
    reader = _FileReader(text, source, max_depth, len(data) + _NODE_BUDGET_SLACK, entities_only=False)
    documents = reader.read_all()
    for document in documents:
        if document.error is not None:
            raise ValueError(str(document.error))
    if reader.next_index > 1:
        raise ValueError(f"{source}: expected exactly one YAML document, found {reader.next_index}")
    return documents[0].value if documents else None
