"""The built-in processors: placeholders, built-in kinds and relations, reading locations, annotations."""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import orjson

from greenroom.core.errors import GreenroomError, InputError, NotFoundError
from greenroom.core.services.url_reader import UrlReader
from greenroom.plugins.catalog.model import (
    ANNOTATION_EDIT_URL,
    ANNOTATION_MANAGED_BY_LOCATION,
    ANNOTATION_MANAGED_BY_ORIGIN_LOCATION,
    ANNOTATION_SOURCE_LOCATION,
    ANNOTATION_VIEW_URL,
    KindRegistry,
    load_descriptor_documents,
    load_single_yaml_value,
    relations_for,
)
from greenroom.plugins.catalog.processing.types import (
    CatalogProcessor,
    Emit,
    JsonDict,
    LocationSpec,
    ProcessorCache,
)


class ProcessingFailure(Exception):
    """Stops processing of one entity; the previous good version keeps being served."""

    def __init__(self, name: str, message: str, *, field: str | None = None) -> None:
        super().__init__(message)
        self.name = name
        self.message = message
        self.field = field


def resolve_target(reader: UrlReader, base: LocationSpec, target: str) -> str:
    """Resolve `target` relative to the location it was written in."""
    if base.type in ("file", "url") and not _is_absolute(target):
        return reader.resolve_url(base.target, target)
    return target


def _is_absolute(target: str) -> bool:
    return target.startswith("/") or "://" in target


Resolver = Callable[[str, Any, LocationSpec, Emit], Any]
# Exact JSON scalar types: a placeholder walk returns them as they are, without a call.
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})


class PlaceholderProcessor(CatalogProcessor):
    """Replaces `{$text|$json|$yaml: path}` with the content of a file in the same tree."""

    name = "PlaceholderProcessor"
    priority = -1000

    def __init__(self, reader: UrlReader, resolvers: Mapping[str, Resolver] | None = None) -> None:
        self.reader = reader
        self.resolvers: dict[str, Resolver] = {
            "$text": self._text,
            "$json": self._json,
            "$yaml": self._yaml,
            **(resolvers or {}),
        }

    def pre_process_entity(
        self,
        entity: JsonDict,
        location: LocationSpec,
        emit: Emit,
        origin: LocationSpec,
        cache: ProcessorCache,
    ) -> JsonDict:
        return self._walk(entity, location, emit)  # type: ignore[no-any-return]

    def _walk(self, value: Any, location: LocationSpec, emit: Emit) -> Any:
        """A copy of `value` (fresh dicts and lists) with every placeholder object resolved.

        Runs on every entity, so scalars (most values) are copied by reference in the parent's
        comprehension instead of costing a recursive call each.
        """
        if isinstance(value, dict):
            if len(value) == 1:
                ((key, argument),) = value.items()
                if isinstance(key, str) and key in self.resolvers:
                    return self.resolvers[key](key, argument, location, emit)
            return {
                k: v if type(v) in _SCALAR_TYPES else self._walk(v, location, emit) for k, v in value.items()
            }
        if isinstance(value, list):
            return [v if type(v) in _SCALAR_TYPES else self._walk(v, location, emit) for v in value]
        return value

    def _read(self, key: str, argument: Any, location: LocationSpec, emit: Emit) -> bytes:
        if not isinstance(argument, str) or not argument.strip():
            raise ProcessingFailure(
                "InputError", f"Placeholder {key} must be given a non-empty string, got {argument!r}"
            )
        if location.type not in ("file", "url"):
            raise ProcessingFailure(
                "InputError", f"Placeholder {key} cannot be resolved for an entity read from {location.ref}"
            )
        target = resolve_target(self.reader, location, argument.strip())
        if not self.reader.is_same_tree(location.target, target):
            raise ProcessingFailure(
                "NotAllowedError",
                f"Placeholder {key} may only reference files from the same repository or root as the entity; "
                f"'{argument}' resolves to {target}, outside the tree of {location.target}",
            )
        try:
            response = self.reader.read_url(target)
        except GreenroomError as error:
            raise ProcessingFailure(
                error.name, f"Placeholder {key} could not read {target}: {error.message}"
            ) from error
        emit.refresh(f"{location.type}:{target}")
        return response.data

    def _text(self, key: str, argument: Any, location: LocationSpec, emit: Emit) -> Any:
        data = self._read(key, argument, location, emit)
        try:
            return data.decode("utf-8")
        except UnicodeDecodeError as error:
            raise ProcessingFailure(
                "InputError",
                f"Placeholder {key} read {argument}, which is not UTF-8 text (byte {error.start})",
            ) from error

    def _json(self, key: str, argument: Any, location: LocationSpec, emit: Emit) -> Any:
        data = self._read(key, argument, location, emit)
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError as error:
            raise ProcessingFailure(
                "InputError", f"Placeholder {key} failed to parse JSON in {argument}: {error}"
            ) from error

    def _yaml(self, key: str, argument: Any, location: LocationSpec, emit: Emit) -> Any:
        data = self._read(key, argument, location, emit)
        try:
            return load_single_yaml_value(data, source=str(argument))
        except ValueError as error:
            raise ProcessingFailure(
                "InputError", f"Placeholder {key} failed to parse YAML: {error}"
            ) from error


class BuiltinKindsProcessor(CatalogProcessor):
    """Recognises the built-in (and module-registered) kinds and emits their relations."""

    name = "BuiltinKindsProcessor"
    priority = 10

    def __init__(self, kinds: KindRegistry) -> None:
        self.kinds = kinds

    def validate_entity_kind(self, entity: JsonDict) -> bool:
        return self.kinds.recognizes(entity)

    def post_process_entity(
        self, entity: JsonDict, location: LocationSpec, emit: Emit, cache: ProcessorCache
    ) -> JsonDict:
        relations, errors = relations_for(entity, self.kinds)
        for relation in relations:
            emit.relation(relation.source_ref, relation.type, relation.target_ref)
        for error in errors:
            emit.error(location, error.message, name="InputError", field=error.field)
        return entity


class LocationReaderProcessor(CatalogProcessor):
    """Reads `file` and `url` locations (globs for files) and emits every entity in them.

    A file whose etag (a stat, see `UrlReader.file_etag`) is what it was at the previous
    processing of the same entity is neither read nor parsed: its previous errors are emitted
    again and its location is marked unchanged, so the entities read from it stay as they are.
    Each file a glob matches is cached the same way; URLs are always read.
    """

    name = "LocationReaderProcessor"
    priority = 20

    def __init__(self, reader: UrlReader, max_bytes: int) -> None:
        self.reader = reader
        self.max_bytes = max_bytes

    def read_location(
        self, location: LocationSpec, optional: bool, emit: Emit, cache: ProcessorCache
    ) -> bool:
        if location.type not in ("file", "url"):
            return False
        if location.type == "file" and any(ch in location.target for ch in "*?["):
            try:
                matches = self.reader.search(location.target)
            except GreenroomError as error:
                emit.error(location, error.message, name=error.name)
                return True
            if not matches and not optional:
                emit.error(location, f"No files match {location.target}", name="NotFoundError")
            emit.refresh(location.ref)
            for path in matches:
                self._read_one(LocationSpec("file", path), optional, emit, cache)
            return True
        self._read_one(location, optional, emit, cache)
        return True

    def _etag(self, location: LocationSpec) -> str | None:
        if location.type != "file":
            return None
        try:
            return self.reader.file_etag(location.target)
        except GreenroomError:
            return None  # reading it reports the problem (and is not cached)

    def _read_one(self, location: LocationSpec, optional: bool, emit: Emit, cache: ProcessorCache) -> None:
        emit.refresh(location.ref)
        etag = self._etag(location)  # taken before reading: a change during the read shows next time
        previous = cache.get(location.ref)
        if etag is not None and isinstance(previous, dict) and previous.get("etag") == etag:
            for error in previous.get("errors") or []:
                emit.error(
                    location,
                    str(error.get("message", "")),
                    name=str(error.get("name", "InputError")),
                    line=error.get("line"),
                    field=error.get("field"),
                )
            emit.unchanged(location.ref)
            cache.set(location.ref, previous)
            return
        first_error = len(emit.errors)
        self._read_and_parse(location, optional, emit)
        if etag is not None:
            cache.set(
                location.ref,
                {
                    "etag": etag,
                    "errors": [
                        {"name": e.name, "message": e.message, "line": e.line, "field": e.field}
                        for e in emit.errors[first_error:]
                    ],
                },
            )

    def _read_and_parse(self, location: LocationSpec, optional: bool, emit: Emit) -> None:
        try:
            response = self.reader.read_url(location.target)
        except NotFoundError as error:
            if not optional:
                emit.error(location, f"Unable to read {location.ref}: {error.message}", name="NotFoundError")
            return
        except GreenroomError as error:
            emit.error(location, f"Unable to read {location.ref}: {error.message}", name=error.name)
            return
        for document in load_descriptor_documents(
            response.data, source=location.target, max_bytes=self.max_bytes
        ):
            if document.error is not None:
                emit.error(
                    location,
                    document.error.message,
                    name="InputError",
                    line=document.error.line,
                    field=document.error.field or None,
                )
                continue
            if document.value is None:
                continue
            emit.entity(location, document.value, line=document.line)


def _folder_url(url: str) -> str:
    parts = urlsplit(url)
    folder = posixpath.dirname(parts.path).rstrip("/") + "/"
    return urlunsplit((parts.scheme, parts.netloc, folder, "", ""))


def _edit_url(view_url: str) -> str | None:
    parts = urlsplit(view_url)
    host = parts.netloc.lower()
    if "github" in host and "/blob/" in parts.path:
        return urlunsplit((parts.scheme, parts.netloc, parts.path.replace("/blob/", "/edit/", 1), "", ""))
    if "gitlab" in host and "/-/blob/" in parts.path:
        return urlunsplit((parts.scheme, parts.netloc, parts.path.replace("/-/blob/", "/-/edit/", 1), "", ""))
    return None


class AnnotateLocationProcessor(CatalogProcessor):
    """Records where an entity came from: managed-by(-origin)-location, source, view and edit URLs."""

    name = "AnnotateLocationProcessor"
    priority = 0

    def pre_process_entity(
        self,
        entity: JsonDict,
        location: LocationSpec,
        emit: Emit,
        origin: LocationSpec,
        cache: ProcessorCache,
    ) -> JsonDict:
        metadata = entity.get("metadata")
        if not isinstance(metadata, dict):
            return entity
        annotations = metadata.get("annotations")
        if annotations is None:
            annotations = {}
        if not isinstance(annotations, dict):
            return entity
        annotations = dict(annotations)
        annotations.setdefault(ANNOTATION_MANAGED_BY_LOCATION, location.ref)
        annotations.setdefault(ANNOTATION_MANAGED_BY_ORIGIN_LOCATION, origin.ref)
        if location.type == "url":
            annotations.setdefault(ANNOTATION_VIEW_URL, location.target)
            edit = _edit_url(location.target)
            if edit:
                annotations.setdefault(ANNOTATION_EDIT_URL, edit)
            annotations.setdefault(ANNOTATION_SOURCE_LOCATION, f"url:{_folder_url(location.target)}")
        elif location.type == "file":
            annotations.setdefault(ANNOTATION_SOURCE_LOCATION, f"file:{posixpath.dirname(location.target)}/")
        return {**entity, "metadata": {**metadata, "annotations": annotations}}


def check_location_target(location: LocationSpec) -> None:
    """Reject targets that can never be read, before anything is stored."""
    if location.type == "file" and location.target.endswith(("/", "\\")):
        raise InputError(f"A file location target must be a file, not a folder: {location.target}")
