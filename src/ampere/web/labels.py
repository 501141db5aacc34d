"""Words for the status codes that pages show (people never see the codes themselves)."""

from __future__ import annotations

from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _

ACCOUNT_STATUS: dict[str, Promise] = {"active": _("Active"), "closed": _("Closed")}
BILL_STATUS: dict[str, Promise] = {
    "held": _("Held for review"),
    "issued": _("Issued"),
    "cancelled": _("Cancelled"),
}


def label(labels: dict[str, Promise], code: str) -> str:
    """The word for ``code``; an unknown code is shown as is rather than hidden."""
    found = labels.get(code)
    return code if found is None else str(found)
