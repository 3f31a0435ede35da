"""Named errors raised by services and mapped to HTTP statuses in exactly one place.

The names and statuses follow Backstage's `@backstage/errors`, so clients that switch on
`error.name` keep working.
"""

from __future__ import annotations

from typing import Any


class GreenroomError(Exception):
    """Base of every named error; `status_code` is what the HTTP layer answers with."""

    status_code: int = 500

    def __init__(self, message: str, *, cause: BaseException | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.cause = cause
        self.details = details

    @property
    def name(self) -> str:
        return type(self).__name__

    def __str__(self) -> str:
        return self.message


class InputError(GreenroomError):
    """The request or the data it carries is malformed."""

    status_code = 400


class AuthenticationError(GreenroomError):
    """The caller could not be identified."""

    status_code = 401


class NotAllowedError(GreenroomError):
    """The caller is known but may not do this, or the target is outside what is allowed."""

    status_code = 403


class NotFoundError(GreenroomError):
    """The thing asked for does not exist."""

    status_code = 404


class ConflictError(GreenroomError):
    """The request conflicts with the current state (e.g. it already exists)."""

    status_code = 409


class NotModifiedError(GreenroomError):
    """The cached copy the caller holds is still current."""

    status_code = 304


class NotImplementedError_(GreenroomError):
    """The operation is recognised but not supported here."""

    status_code = 501

    @property
    def name(self) -> str:
        return "NotImplementedError"


class ServiceUnavailableError(GreenroomError):
    """The service cannot answer yet (starting, shutting down, or a dependency is down)."""

    status_code = 503


ERROR_CLASSES: tuple[type[GreenroomError], ...] = (
    InputError,
    AuthenticationError,
    NotAllowedError,
    NotFoundError,
    ConflictError,
    NotModifiedError,
    NotImplementedError_,
    ServiceUnavailableError,
)
