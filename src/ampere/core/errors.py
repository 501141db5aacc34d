"""The root of every domain exception."""

from __future__ import annotations


class DomainError(Exception):
    """A rule of the domain refused an action.

    ``field`` names the input that is wrong (dotted path for nested input) so interfaces can say
    exactly what to fix; ``code`` is a stable machine-readable slug.
    """

    code: str = "domain-error"

    def __init__(self, message: str, *, field: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        if code is not None:
            self.code = code

    def __str__(self) -> str:
        if self.field:
            return f"{self.field}: {self.message}"
        return self.message


class InvalidInput(DomainError):
    """Input that does not satisfy a rule (bad format, out of range, unknown reference)."""

    code = "invalid-input"


class NotFound(DomainError):
    """A referenced object does not exist (or the caller may not see it)."""

    code = "not-found"


class Conflict(DomainError):
    """The action conflicts with the current state (overlap, duplicate, wrong status)."""

    code = "conflict"
