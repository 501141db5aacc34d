"""Sets, for each page of the people-facing interfaces, who is looking (the viewer), the zone
of their utility, their language when they have not chosen one, and the country that formats
amounts and dates."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone, translation

from ampere.core.localtime import zone
from ampere.web import formatting
from ampere.web.viewer import ANONYMOUS, load_viewer

# The interfaces served through this shell (the API and the admin keep their own behaviour).
SHELL_PATH_PREFIXES = ("/console/", "/portal/")


class ViewerMiddleware:
    """After authentication: find the viewer; activate the utility's zone (staff: their
    utility; customers: their accounts' utility); when the person has not chosen a language
    (no language cookie), their utility's language; and the utility's country for formats."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if not request.path_info.startswith(SHELL_PATH_PREFIXES):
            return self.get_response(request)
        viewer = load_viewer(request.user) if hasattr(request, "user") else ANONYMOUS
        request.ampere_viewer = viewer  # type: ignore[attr-defined]
        utility = viewer.utility
        token = formatting.region.set(utility.country_code if utility else "")
        if utility is not None:
            timezone.activate(zone(utility.time_zone))
            if settings.LANGUAGE_COOKIE_NAME not in request.COOKIES:
                languages = {code for code, _ in settings.LANGUAGES}
                if utility.default_language in languages:
                    translation.activate(utility.default_language)
                    request.LANGUAGE_CODE = utility.default_language
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
            formatting.region.reset(token)
