"""Entity validation with Backstage's rules and message texts.

Backstage applies its entity policies one after the other and stops at the first failure; we run
the same checks but collect every problem, because an author fixing a descriptor wants the whole
list at once. Message texts are Backstage's, so tools that match on them keep working.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any

from .errors import EntityValidationError, EntityValidationErrors
from .kinds import KindRegistry, default_kind_registry, envelope_errors
from .refs import DEFAULT_NAMESPACE, entity_ref_of

KNOWN_INPUT_ROOT_FIELDS = frozenset({"apiVersion", "kind", "metadata", "spec"})

LEARN_MORE_SUFFIX = (
    " To learn more about catalog file format, visit: "
    "https://github.com/backstage/backstage/blob/master/docs/architecture-decisions/"
    "adr002-default-catalog-file-format.md"
)

_OBJECT_NAME = re.compile(r"(?:[A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_DNS_LABEL = re.compile(r"[a-z0-9]+(?:-+[a-z0-9]+)*")
_KIND = re.compile(r"[a-zA-Z][a-z0-9A-Z]*")
_API_VERSION_SUFFIX = re.compile(r"[a-z0-9A-Z]+")
_TAG_WITH_COLON = re.compile(r"[a-z0-9:+#]+(?:-[a-z0-9:+#]+)*")
_TAG_WITHOUT_COLON = re.compile(r"[a-z0-9+#]+(?:-[a-z0-9+#]+)*")
_URL_SCHEME = re.compile(r"[A-Za-z][A-Za-z0-9+.\-]*:")
_URL_AUTHORITY_END = re.compile(r"[/\\?#]")
_URL_PORT = re.compile(r"[0-9]*")
# Schemes whose URLs must have a host, per the WHATWG URL standard used by `new URL()`.
_HOST_REQUIRED_SCHEMES = frozenset({"http", "https", "ws", "wss", "ftp"})
_C0_CONTROL_OR_SPACE = "".join(chr(code) for code in range(0x21))
_TAB_NEWLINE_REMOVAL = str.maketrans("", "", "\t\n\r")
_FORBIDDEN_HOST_CHAR = re.compile(r"[\x00-\x20#%/:<>?@\[\\\]^|\x7f]")
# Exact types that hold no object (a C-level `issuperset(map(type, ...))` skips scalar-only values).
_SCALAR_TYPES = frozenset({str, int, float, bool, type(None)})
# Keys, apiVersions and tags repeat across a catalog; remembering verdicts saves most regex work.
_MEMO_LIMIT = 50_000


# --- validator functions (KubernetesValidatorFunctions / CommonValidatorFunctions semantics) ---


def is_valid_dns_label(value: Any) -> bool:
    """1-63 chars of lower-case alphanumerics, inner runs of '-' allowed."""
    return isinstance(value, str) and 1 <= len(value) <= 63 and _DNS_LABEL.fullmatch(value) is not None


def is_valid_dns_subdomain(value: Any) -> bool:
    """1-253 chars, every '.'-separated part a DNS label."""
    return (
        isinstance(value, str)
        and 1 <= len(value) <= 253
        and all(is_valid_dns_label(part) for part in value.split("."))
    )


def is_valid_object_name(value: Any) -> bool:
    """1-63 chars of [A-Za-z0-9] runs separated by any of '-_.'."""
    return isinstance(value, str) and 1 <= len(value) <= 63 and _OBJECT_NAME.fullmatch(value) is not None


def _is_valid_api_version_suffix(value: str) -> bool:
    return 1 <= len(value) <= 63 and _API_VERSION_SUFFIX.fullmatch(value) is not None


def _is_valid_prefixed(value: Any, is_valid_suffix: Any) -> bool:
    """`suffix` or `dns-subdomain/suffix` (never more than one '/')."""
    if not isinstance(value, str):
        return False
    parts = value.split("/")
    if len(parts) == 1:
        return bool(is_valid_suffix(parts[0]))
    if len(parts) == 2:
        return is_valid_dns_subdomain(parts[0]) and bool(is_valid_suffix(parts[1]))
    return False


def is_valid_entity_name(value: Any) -> bool:
    return is_valid_object_name(value)


def is_valid_namespace(value: Any) -> bool:
    return is_valid_dns_label(value)


def is_valid_kind(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _KIND.fullmatch(value) is not None


def _memoized(check: Callable[[Any], bool]) -> Callable[[Any], bool]:
    """Cache verdicts for strings (bounded: the cache is dropped when it grows too large)."""
    verdicts: dict[str, bool] = {}

    def memoized_check(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        verdict = verdicts.get(value)
        if verdict is None:
            if len(verdicts) >= _MEMO_LIMIT:
                verdicts.clear()
            verdict = verdicts[value] = check(value)
        return verdict

    memoized_check.__name__ = check.__name__
    memoized_check.__doc__ = check.__doc__
    return memoized_check


@_memoized
def is_valid_api_version(value: Any) -> bool:
    """`suffix` or `dns-subdomain/suffix` with a 1-63 char alphanumeric suffix."""
    return _is_valid_prefixed(value, _is_valid_api_version_suffix)


@_memoized
def is_valid_label_key(value: Any) -> bool:
    """`[dns-subdomain/]object-name`."""
    return _is_valid_prefixed(value, is_valid_object_name)


def is_valid_label_value(value: Any) -> bool:
    return value == "" or is_valid_object_name(value)


@_memoized
def is_valid_annotation_key(value: Any) -> bool:
    """`[dns-subdomain/]object-name`, the same rule as label keys."""
    return _is_valid_prefixed(value, is_valid_object_name)


def is_valid_annotation_value(value: Any) -> bool:
    return isinstance(value, str)


def _is_valid_tag_with_colon(value: Any) -> bool:
    return isinstance(value, str) and 1 <= len(value) <= 63 and _TAG_WITH_COLON.fullmatch(value) is not None


_is_valid_tag_with_colon_memoized = _memoized(_is_valid_tag_with_colon)


def is_valid_tag(value: Any, *, allow_colon: bool = True) -> bool:
    """The catalog's default tag rule allows ':' (e.g. `lang:go`); pass False for the strict rule."""
    if allow_colon:
        return _is_valid_tag_with_colon_memoized(value)
    return (
        isinstance(value, str) and 1 <= len(value) <= 63 and _TAG_WITHOUT_COLON.fullmatch(value) is not None
    )


def is_non_empty_string(value: Any) -> bool:
    return isinstance(value, str) and value.strip() != ""


def is_valid_url(value: Any) -> bool:
    """Whether `new URL(value)` would accept it: an absolute URL, with a sane host where one is needed.

    This follows the WHATWG parser's rules that matter in practice (scheme, host presence,
    forbidden host characters, numeric port <= 65535); it does not re-implement IDNA or IPv4
    canonicalisation.
    """
    if not isinstance(value, str):
        return False
    text = value.strip(_C0_CONTROL_OR_SPACE)
    if "\t" in text or "\n" in text or "\r" in text:  # str.translate is slow; most URLs need none
        text = text.translate(_TAB_NEWLINE_REMOVAL)
    scheme_match = _URL_SCHEME.match(text)
    if scheme_match is None:
        return False
    scheme = scheme_match.group()[:-1].lower()
    if scheme not in _HOST_REQUIRED_SCHEMES:
        return True
    authority = text[scheme_match.end() :].lstrip("/\\")
    authority = _URL_AUTHORITY_END.split(authority, maxsplit=1)[0]
    host_and_port = authority.rpartition("@")[2]
    if host_and_port.startswith("["):
        address, bracket, port_part = host_and_port[1:].partition("]")
        if not bracket or not address or any(char not in "0123456789abcdefABCDEF:." for char in address):
            return False
        if port_part and not port_part.startswith(":"):
            return False
        port = port_part[1:]
    else:
        host, _, port = host_and_port.partition(":")
        if not host or _FORBIDDEN_HOST_CHAR.search(host):
            return False
    return _URL_PORT.fullmatch(port) is not None and (port == "" or int(port) <= 65535)


# --- field format policy ---------------------------------------------------------------------

_NAME_EXPECTATION = (
    "a string that is sequences of [a-zA-Z0-9] separated by any of [-_.], at most 63 characters in total"
)
_DNS_LABEL_EXPECTATION = (
    "a string that is sequences of [a-z0-9] separated by [-], at most 63 characters in total"
)
_PREFIXED_EXPECTATION = "a valid prefix and/or suffix"
_TAG_EXPECTATION = "a string that is sequences of [a-z0-9+#] separated by [-], at most 63 characters in total"
_KIND_EXPECTATION = "a string that is a sequence of [a-zA-Z][a-z0-9A-Z], at most 63 characters in total"
_URL_EXPECTATION = "a string that is a valid url"
_NON_BLANK_EXPECTATION = "a non empty string"
_STRING_EXPECTATION = "a string"


def _as_javascript_text(value: Any) -> str:
    """How JavaScript would interpolate the value into a template string (messages must match)."""
    if isinstance(value, str):
        return value
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, list):
        return ",".join("" if item is None else _as_javascript_text(item) for item in value)
    if isinstance(value, Mapping):
        return "[object Object]"
    return str(value)


def format_policy_message(field_name: str, expectation: str, value: Any) -> str:
    """Backstage's FieldFormatEntityPolicy message, word for word."""
    return (
        f'"{field_name}" is not valid; expected {expectation} but found "{_as_javascript_text(value)}".'
        + LEARN_MORE_SUFFIX
    )


def _format_error(path: str, shown_name: str, expectation: str, value: Any) -> EntityValidationError:
    return EntityValidationError(path, format_policy_message(shown_name, expectation, value), value)


# Strings already found valid, per rule; a section whose values are all here needs no per-item work.
_valid_label_keys: set[str] = set()
_valid_label_values: set[str] = set()
_valid_annotation_keys: set[str] = set()
_valid_tags: set[str] = set()
_STR_ONLY = frozenset({str})


def _remember(known: set[str], value: Any) -> None:
    """Add a value that passed its check (exact strings only, so set equality means the same text)."""
    if type(value) is str:
        if len(known) >= _MEMO_LIMIT:
            known.clear()
        known.add(value)


def _all_known(known: set[str], values: Iterable[Any]) -> bool:
    try:
        return known.issuperset(values)
    except TypeError:  # an unhashable item (a list or an object): let the slow path describe it
        return False


def field_format_errors(entity: Mapping[str, Any]) -> list[EntityValidationError]:
    """Check apiVersion, kind and metadata fields against Backstage's format rules.

    `EntityValidationError.field` is the full dot path (`metadata.labels.x`); the message names
    the field the way Backstage does (`labels.x`).
    """
    errors: list[EntityValidationError] = []
    api_version = entity.get("apiVersion")
    if not is_valid_api_version(api_version):
        errors.append(_format_error("apiVersion", "apiVersion", _PREFIXED_EXPECTATION, api_version))
    kind = entity.get("kind")
    if not is_valid_kind(kind):
        errors.append(_format_error("kind", "kind", _KIND_EXPECTATION, kind))

    metadata = entity.get("metadata")
    if type(metadata) is not dict and not isinstance(metadata, Mapping):
        return errors
    name = metadata.get("name")
    if name is None:
        errors.append(EntityValidationError("metadata.name", "metadata.name must have a value", None))
    elif not is_valid_object_name(name):
        errors.append(_format_error("metadata.name", "metadata.name", _NAME_EXPECTATION, name))
    namespace = metadata.get("namespace")
    if namespace is not None and not is_valid_dns_label(namespace):
        errors.append(
            _format_error("metadata.namespace", "metadata.namespace", _DNS_LABEL_EXPECTATION, namespace)
        )

    # Each section is first compared, in C, against the values already seen valid; only a new
    # or bad value takes the per-item path that builds messages.
    labels = metadata.get("labels")
    if (type(labels) is dict or isinstance(labels, Mapping)) and not (
        _valid_label_keys.issuperset(labels) and _all_known(_valid_label_values, labels.values())
    ):
        for key, value in labels.items():
            if is_valid_label_key(key):
                _remember(_valid_label_keys, key)
            else:
                errors.append(
                    _format_error(f"metadata.labels.{key}", f"labels.{key}", _PREFIXED_EXPECTATION, key)
                )
            if is_valid_label_value(value):
                _remember(_valid_label_values, value)
            else:
                errors.append(
                    _format_error(f"metadata.labels.{key}", f"labels.{key}", _NAME_EXPECTATION, value)
                )
    annotations = metadata.get("annotations")
    if (type(annotations) is dict or isinstance(annotations, Mapping)) and not (
        _valid_annotation_keys.issuperset(annotations)
        and _STR_ONLY.issuperset(map(type, annotations.values()))
    ):
        for key, value in annotations.items():
            if is_valid_annotation_key(key):
                _remember(_valid_annotation_keys, key)
            else:
                errors.append(
                    _format_error(
                        f"metadata.annotations.{key}", f"annotations.{key}", _PREFIXED_EXPECTATION, key
                    )
                )
            if not isinstance(value, str):
                errors.append(
                    _format_error(
                        f"metadata.annotations.{key}", f"annotations.{key}", _STRING_EXPECTATION, value
                    )
                )
    tags = metadata.get("tags")
    if isinstance(tags, list) and not _all_known(_valid_tags, tags):
        for index, tag in enumerate(tags):
            if is_valid_tag(tag):
                _remember(_valid_tags, tag)
            else:
                errors.append(_format_error(f"metadata.tags.{index}", f"tags.{index}", _TAG_EXPECTATION, tag))
    links = metadata.get("links")
    if isinstance(links, list):
        for index, link in enumerate(links):
            errors.extend(_link_errors(index, link))
    return errors


def _link_errors(index: int, link: Any) -> list[EntityValidationError]:
    errors: list[EntityValidationError] = []
    if not isinstance(link, Mapping):
        link = {}
    url = link.get("url")
    if url is None:
        errors.append(
            EntityValidationError(f"metadata.links.{index}.url", f"links.{index}.url must have a value")
        )
    elif not is_valid_url(url):
        errors.append(
            _format_error(f"metadata.links.{index}.url", f"links.{index}.url", _URL_EXPECTATION, url)
        )
    for optional_field in ("title", "icon"):
        value = link.get(optional_field)
        if value is not None and not is_non_empty_string(value):
            shown = f"links.{index}.{optional_field}"
            errors.append(_format_error(f"metadata.{shown}", shown, _NON_BLANK_EXPECTATION, value))
    return errors


# --- other policies -------------------------------------------------------------------------


def foreign_root_field_errors(entity: Mapping[str, Any]) -> list[EntityValidationError]:
    """Input entities may only carry apiVersion, kind, metadata and spec (relations/status are ours)."""
    if KNOWN_INPUT_ROOT_FIELDS.issuperset(entity):
        return []
    return [
        EntityValidationError(str(key), f"Unknown field '{key}'", entity[key])
        for key in entity
        if key not in KNOWN_INPUT_ROOT_FIELDS
    ]


def _dicts_within(items: list[Any]) -> list[dict[str, Any]]:
    """The objects inside a list, nested lists flattened (they share the list's flattened path)."""
    found: list[dict[str, Any]] = []
    for item in items:
        if isinstance(item, dict):
            found.append(item)
        elif isinstance(item, list):
            found.extend(_dicts_within(item))
    return found


def _case_clash(prefix: str, first: str, second: str) -> EntityValidationError:
    return EntityValidationError(
        prefix + second,
        f"Entity has duplicate keys that vary only in casing: {prefix}{first} and {prefix}{second}",
    )


# Objects of one catalog share a few key sets (metadata, annotations, links), so verdicts repeat.
_case_clean_key_sets: dict[tuple[str, ...], bool] = {}


def _groups_are_case_clean(pending: list[list[dict[str, Any]]]) -> bool:
    """Whether no keys of these groups (objects sharing a flattened path) or below differ only in case.

    Visits exactly the groups `case_duplicate_key_errors` reports on, but builds no paths and
    stops at the first clash, so valid entities (nearly all of them) pay only for set sizes.
    """
    while pending:
        group = pending.pop()
        if len(group) == 1:
            only = group[0]
            names = tuple(only)
            clean = _case_clean_key_sets.get(names)
            if clean is None:
                if len(_case_clean_key_sets) >= _MEMO_LIMIT:
                    _case_clean_key_sets.clear()
                clean = _case_clean_key_sets[names] = len(set(map(str.lower, names))) == len(names)
            if not clean:
                return False
            values = only.values()
            if _SCALAR_TYPES.issuperset(map(type, values)):
                continue
            for value in values:  # one object: each child value is its own group
                if isinstance(value, dict):
                    pending.append([value])
                elif isinstance(value, list) and not _SCALAR_TYPES.issuperset(map(type, value)):
                    children = _dicts_within(value)
                    if children:
                        pending.append(children)
            continue
        spellings: set[str] = set().union(*group)
        if len(set(map(str.lower, spellings))) != len(spellings):
            return False
        for key in spellings:  # several objects: the values under one key form one group
            child_group: list[dict[str, Any]] = []
            for item in group:
                value = item.get(key)
                if isinstance(value, dict):
                    child_group.append(value)
                elif isinstance(value, list):
                    child_group.extend(_dicts_within(value))
            if child_group:
                pending.append(child_group)
    return True


def case_duplicate_key_errors(entity: Mapping[str, Any]) -> list[EntityValidationError]:
    """Reject keys that differ only by case once flattened, because the search index is case-blind.

    Flattening follows the catalog's search index: array items share their array's path, so
    `links[0].url` and `links[1].URL` collide too. Objects sharing a flattened path are checked
    as one group, which keeps the common case (one object, distinct keys) to a set comparison.
    A clean entity is recognised by a cheaper walk first; only a clash builds the messages.
    """
    roots: list[list[dict[str, Any]]] = []
    for key in KNOWN_INPUT_ROOT_FIELDS:
        value = entity.get(key)
        if isinstance(value, dict):
            roots.append([value])
        elif isinstance(value, list):
            roots.append(_dicts_within(value))
    try:
        if _groups_are_case_clean([group for group in roots if group]):
            return []
    except (TypeError, AttributeError):  # a non-string key: the full walk below fails the same way
        pass
    errors: list[EntityValidationError] = []
    pending: list[tuple[str, list[dict[str, Any]]]] = []
    for key in KNOWN_INPUT_ROOT_FIELDS:
        value = entity.get(key)
        group = (
            [value] if isinstance(value, dict) else _dicts_within(value) if isinstance(value, list) else []
        )
        if group:
            pending.append((key + ".", group))
    while pending:
        prefix, group = pending.pop()
        children: dict[str, list[dict[str, Any]]] = {}
        if len(group) == 1 and len(set(map(str.lower, group[0]))) == len(group[0]):
            for key, value in group[0].items():
                if isinstance(value, dict):
                    children[key] = [value]
                elif isinstance(value, list):
                    children[key] = _dicts_within(value)
        else:
            first_spelling: dict[str, str] = {}
            for item in group:
                for key, value in item.items():
                    spelling = first_spelling.setdefault(key.lower(), key)
                    if spelling != key:
                        errors.append(_case_clash(prefix, spelling, key))
                    if isinstance(value, dict):
                        children.setdefault(key, []).append(value)
                    elif isinstance(value, list):
                        children.setdefault(key, []).extend(_dicts_within(value))
        pending.extend(
            (f"{prefix}{key}.", child_group) for key, child_group in children.items() if child_group
        )
    return list({error.message: error for error in errors}.values())


def with_default_namespace(entity: Mapping[str, Any]) -> dict[str, Any]:
    """A new entity dict (root and metadata copied) whose namespace is set, "default" if absent."""
    metadata = dict(entity.get("metadata") or {})
    if not metadata.get("namespace"):
        metadata["namespace"] = DEFAULT_NAMESPACE
    return {**entity, "metadata": metadata}


def _describe_json_type(value: Any) -> str:
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    return "a number" if isinstance(value, int | float) else type(value).__name__


def validate_entity(entity: Any, *, kinds: KindRegistry | None = None) -> list[EntityValidationError]:
    """Every problem that would make Backstage refuse this input entity (empty list = valid)."""
    if not isinstance(entity, dict):
        return [
            EntityValidationError(
                "", f"Entity must be an object, found {_describe_json_type(entity)}", entity
            )
        ]
    registry = kinds if kinds is not None else default_kind_registry()
    errors = foreign_root_field_errors(entity)

    definition = registry.lookup(entity.get("kind"), entity.get("apiVersion"))
    schema_problems = definition.validate(entity) if definition is not None else envelope_errors(entity)
    errors.extend(schema_problems)
    format_problems = field_format_errors(entity)
    if format_problems:
        reported_fields = {problem.field for problem in schema_problems}
        errors.extend(problem for problem in format_problems if problem.field not in reported_fields)

    if definition is None and not schema_problems:
        errors.append(
            EntityValidationError(
                "kind",
                f"No processor recognized the entity {entity_ref_of(entity)} as valid, "
                "possibly caused by a foreign kind or apiVersion",
                entity.get("kind"),
            )
        )
    errors.extend(case_duplicate_key_errors(entity))
    return errors


def prepare_entity(raw: Any, *, kinds: KindRegistry | None = None) -> dict[str, Any]:
    """Validate an input entity and return a new dict with the default namespace applied.

    Only the root and `metadata` are copied; nested values are shared with `raw`.
    """
    errors = validate_entity(raw, kinds=kinds)
    if errors:
        raise EntityValidationErrors(errors)
    return with_default_namespace(raw)
