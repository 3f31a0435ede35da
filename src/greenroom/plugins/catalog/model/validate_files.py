"""Offline validation of descriptor files, reporting `file:line` (behind `greenroom catalog validate`)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .errors import EntityValidationError
from .kinds import KindRegistry, default_kind_registry
from .placeholders import find_placeholders
from .refs import EntityRefError, entity_ref_of
from .relations import relations_for
from .validation import validate_entity
from .yaml_loader import (
    DEFAULT_MAX_BYTES,
    DescriptorError,
    ParsedDocument,
    load_descriptor_documents,
    load_single_yaml_value,
)


def line_of_field(document: ParsedDocument, field_path: str) -> int:
    """The line of a field, or of its nearest present ancestor (a missing `spec.type` -> `spec`)."""
    path = field_path
    while path:
        line = document.key_lines.get(path)
        if line is not None:
            return line
        path = path.rpartition(".")[0]
    return document.line


def _entity_errors(document: ParsedDocument, source: str, registry: KindRegistry) -> list[DescriptorError]:
    problems: list[EntityValidationError] = validate_entity(document.value, kinds=registry)
    if isinstance(document.value, dict) and isinstance(document.value.get("metadata"), dict):
        try:
            _, relation_problems = relations_for(document.value, registry)
        except EntityRefError:  # the entity's own identity is broken; already reported above
            relation_problems = []
        reported = {problem.field for problem in problems}
        problems.extend(problem for problem in relation_problems if problem.field not in reported)
    return [
        DescriptorError(
            source,
            line_of_field(document, problem.field),
            0,
            problem.field,
            problem.message.removeprefix(f"{problem.field}: "),  # the line already names the field
        )
        for problem in problems
    ]


def _set_path(value: Any, dot_path: str, replacement: Any) -> None:
    *parents, last = dot_path.split(".")
    for part in parents:
        value = value[int(part)] if isinstance(value, list) else value[part]
    if isinstance(value, list):
        value[int(last)] = replacement
    else:
        value[last] = replacement


def _resolve_local_placeholders(
    document: ParsedDocument, path: Path, max_bytes: int
) -> list[DescriptorError]:
    """Substitute `$text`/`$json`/`$yaml` from files next to the descriptor, as processing would.

    Remote (URL) placeholders are not fetched offline; they are replaced by a stand-in of the
    right type so that the rest of the entity can still be checked.
    """
    problems: list[DescriptorError] = []
    for dot_path, resolver, argument in find_placeholders(document.value):
        line = line_of_field(document, dot_path)
        if not isinstance(argument, str) or not argument.strip():
            problems.append(
                DescriptorError(
                    str(path), line, 0, dot_path, f"${resolver} needs a file path or URL, got {argument!r}"
                )
            )
            continue
        if "://" in argument:
            _set_path(document.value, dot_path, "(not fetched offline)" if resolver == "text" else {})
            continue
        target = (path.parent / argument).resolve()
        try:
            with target.open("rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as failure:
            problems.append(
                DescriptorError(
                    str(path),
                    line,
                    0,
                    dot_path,
                    f"${resolver} cannot read {argument}: {failure.strerror or failure}",
                )
            )
            continue
        try:
            if resolver == "text":
                resolved: Any = data.decode("utf-8")
            elif resolver == "json":
                resolved = json.loads(data)
            else:
                resolved = load_single_yaml_value(data, source=str(target))
        except (UnicodeDecodeError, ValueError) as failure:
            problems.append(
                DescriptorError(str(path), line, 0, dot_path, f"${resolver} of {argument}: {failure}")
            )
            continue
        _set_path(document.value, dot_path, resolved)
    return problems


def validate_descriptor_files(
    paths: Sequence[Path], *, kinds: KindRegistry | None = None, max_bytes: int = DEFAULT_MAX_BYTES
) -> list[DescriptorError]:
    """Every problem in the given files: YAML, entity validation, relation refs, duplicate entities.

    Placeholders pointing at local files are resolved relative to the descriptor; URLs are not
    fetched (a stand-in value is checked instead).
    """
    registry = kinds if kinds is not None else default_kind_registry()
    problems: list[DescriptorError] = []
    first_definition: dict[str, str] = {}
    for path in paths:
        source = str(path)
        try:
            with path.open("rb") as descriptor:
                data = descriptor.read(max_bytes + 1)
        except OSError as failure:
            problems.append(
                DescriptorError(source, 0, 0, "", f"cannot read file: {failure.strerror or failure}")
            )
            continue
        for document in load_descriptor_documents(data, source=source, max_bytes=max_bytes):
            if document.error is not None:
                problems.append(document.error)
                continue
            placeholder_problems = _resolve_local_placeholders(document, path, max_bytes)
            problems.extend(placeholder_problems)
            entity_problems = _entity_errors(document, source, registry) if not placeholder_problems else []
            problems.extend(entity_problems)
            if not entity_problems and document.value is not None:
                ref = entity_ref_of(document.value)
                here = f"{source}:{document.line}"
                if ref in first_definition:
                    problems.append(
                        DescriptorError(
                            source,
                            line_of_field(document, "metadata.name"),
                            0,
                            "metadata.name",
                            f"entity {ref} is already defined at {first_definition[ref]}",
                        )
                    )
                else:
                    first_definition[ref] = here
    return problems
