"""Template context of the web shell's pages."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest

from ampere.web.viewer import viewer_of


def shell(request: HttpRequest) -> dict[str, Any]:
    """``viewer``: who is signed in (kind, name, utility) as plain values."""
    return {"viewer": viewer_of(request)}
