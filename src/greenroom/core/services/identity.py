"""Who is calling: every request carries a principal.

Sign-in comes with the auth plugin; until then the embedded default treats every caller as the
guest user, but plugins already ask this service (and never read headers themselves), so adding
real sign-in changes no plugin code.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Literal

from fastapi import Depends, Request

from greenroom.core.config import Config

GUEST_USER_REF = "user:default/guest"


@dataclass(frozen=True)
class Principal:
    type: Literal["user", "service", "none"]
    user_entity_ref: str | None = None
    ownership_entity_refs: tuple[str, ...] = field(default_factory=tuple)
    subject: str | None = None

    @property
    def is_user(self) -> bool:
        return self.type == "user"


class IdentityService:
    """Resolves the principal of a request."""

    def __init__(self, default_user_ref: str = GUEST_USER_REF) -> None:
        self.default_user_ref = default_user_ref

    @classmethod
    def from_config(cls, config: Config) -> IdentityService:
        ref = config.get_optional_string("auth.providers.guest.userEntityRef") or GUEST_USER_REF
        return cls(default_user_ref=ref)

    def principal_for(self, request: Request) -> Principal:
        return Principal(
            type="user", user_entity_ref=self.default_user_ref, ownership_entity_refs=(self.default_user_ref,)
        )


def current_principal(request: Request) -> Principal:
    """FastAPI dependency: the principal the identity middleware attached to the request."""
    principal = getattr(request.state, "principal", None)
    if principal is None:
        return Principal(type="none")
    return principal  # type: ignore[no-any-return]


CurrentPrincipal = Annotated[Principal, Depends(current_principal)]
