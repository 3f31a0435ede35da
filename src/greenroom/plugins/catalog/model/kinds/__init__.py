"""Kind schemas and the registry that maps (kind, apiVersion) to them."""

from .registry import (
    KindDefinition,
    KindRegistry,
    compile_schema,
    default_kind_registry,
    envelope_errors,
    schema_errors,
)
from .schemas import (
    BACKSTAGE_API_VERSIONS,
    BUILTIN_KIND_SCHEMAS,
    ENVELOPE_SCHEMA,
    TEMPLATE_API_VERSIONS,
    JsonSchema,
)

__all__ = [
    "BACKSTAGE_API_VERSIONS",
    "BUILTIN_KIND_SCHEMAS",
    "ENVELOPE_SCHEMA",
    "TEMPLATE_API_VERSIONS",
    "JsonSchema",
    "KindDefinition",
    "KindRegistry",
    "compile_schema",
    "default_kind_registry",
    "envelope_errors",
    "schema_errors",
]
