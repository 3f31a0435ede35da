"""Validation problems as values, so one pass can report every problem of an entity at once."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from greenroom.core.errors import InputError


@dataclass(frozen=True, slots=True)
class EntityValidationError:
    """One problem with one field; `field` is a dot path such as `metadata.tags.2` or `spec.owner`.

    `message` is a complete sentence that names the field, so it can be shown on its own (this is
    what Backstage's `/validate-entity` returns as `errors[].message`).
    """

    field: str
    message: str
    value: Any = None

    def __str__(self) -> str:
        return self.message


class EntityValidationErrors(InputError):
    """Raised when an entity is refused; carries every problem found, not only the first."""

    def __init__(self, errors: Sequence[EntityValidationError]) -> None:
        self.errors = list(errors)
        first = self.errors[0].message if self.errors else "Entity is not valid"
        more = f" (and {len(self.errors) - 1} more problems)" if len(self.errors) > 1 else ""
        super().__init__(first + more)
