"""Messages for people, marked for the gettext catalogues and translated where they are shown.

Domain code never knows who reads its messages, so it does not translate them: it marks the
English template with ``_`` (an identity function that ``makemessages`` extracts like gettext)
and passes the values apart::

    raise InvalidInput(_("no account with id {account_id}"), field="account",
                       params={"account_id": account_id})

The interface that shows the message (an API problem, a page, the command line, a notice)
translates the template into the person's language and fills in the values
(``Message.render``). Templates use ``str.format`` names (``{name}``), so a translation may put
the values in another order. Without Django here: the interface passes its ``gettext``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

Translate = Callable[[str], str]


def _(message: str) -> str:
    """Mark ``message`` for the catalogues; it is translated where it is shown."""
    return message


gettext_noop = _


def _identity(message: str) -> str:
    return message


def render(template: str, params: Mapping[str, Any], translate: Translate = _identity) -> str:
    """``template`` translated by ``translate`` with ``params`` filled in. A template without
    values is returned as translated, braces and all (it may quote a person's input)."""
    text = translate(template)
    if not params:
        return text
    try:
        return text.format_map(params)
    except (KeyError, IndexError, ValueError):
        # A translation that names a value the template does not give: fall back to English
        # rather than lose the message (the catalogue check in `make check` catches this).
        return template.format_map(params)


@dataclass(frozen=True, slots=True)
class Message:
    """A template and its values: what a person is told, in no language yet."""

    template: str
    params: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def render(self, translate: Translate = _identity) -> str:
        return render(self.template, self.params, translate)

    def __str__(self) -> str:
        return self.render()
