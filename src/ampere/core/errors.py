"""The root of every domain exception."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Any

from ampere.core.i18n import Translate, _, render


class DomainError(Exception):
    """A rule of the domain refused an action.

    ``message`` is an English template marked with ``ampere.core.i18n._`` whose ``{names}`` are
    filled from ``params``; interfaces show it translated (``translated``). ``field`` names the
    input that is wrong (dotted path for nested input) so interfaces can say exactly what to fix;
    ``code`` is a stable machine-readable slug, ``title`` its short human name.
    """

    code: str = "domain-error"
    title: str = _("The request was refused")

    def __init__(
        self,
        message: str,
        *,
        field: str | None = None,
        code: str | None = None,
        params: Mapping[str, Any] | None = None,
    ) -> None:
        self.template = message
        self.params: Mapping[str, Any] = MappingProxyType(dict(params or {}))
        self.message = render(message, self.params)
        super().__init__(self.message)
        self.field = field
        if code is not None:
            self.code = code

    def translated(self, translate: Translate) -> str:
        """The message in the language of ``translate`` (a gettext)."""
        return render(self.template, self.params, translate)

    def __str__(self) -> str:
        if self.field:
            return f"{self.field}: {self.message}"
        return self.message


class InvalidInput(DomainError):
    """Input that does not satisfy a rule (bad format, out of range, unknown reference)."""

    code = "invalid-input"
    title = _("Invalid input")


class NotFound(DomainError):
    """A referenced object does not exist (or the caller may not see it)."""

    code = "not-found"
    title = _("Not found")


class Conflict(DomainError):
    """The action conflicts with the current state (overlap, duplicate, wrong status)."""

    code = "conflict"
    title = _("Conflict")
