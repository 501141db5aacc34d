"""The WSGI application: Django with all its middleware, and a lean handler for signed partner
calls to the API.

A request to ``/api/`` that carries the partner key header (``X-Ampere-Key``) is a bank, network,
POS or head-end call: it is authenticated by its signature alone (checked, refused or accepted,
and audited by ``ampere.api.auth.PartnerSignature``), so it skips the middleware that serve
people — sessions, CSRF, locale, login, messages, static files — and keeps the security and
common middleware (allowed hosts, security headers). A staff or customer endpoint called this
way finds no session login, and refuses the call as unauthenticated.
"""

import os
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "ampere.config.settings")

import django
from django.conf import settings
from django.core.handlers.wsgi import WSGIHandler
from django.urls import ResolverMatch

django.setup(set_prefix=False)

PARTNER_KEY = "HTTP_X_AMPERE_KEY"
_MATCH_CACHE_SIZE = 256  # paths; those with ids in them fill it and are then resolved anew


class PartnerAPIHandler(WSGIHandler):
    """Django's handler with ``settings.PARTNER_API_MIDDLEWARE`` and a cache of URL matches."""

    def __init__(self) -> None:
        self._matches: dict[str, ResolverMatch] = {}
        super().__init__()

    def load_middleware(self, is_async: bool = False) -> None:
        everything = settings.MIDDLEWARE
        settings.MIDDLEWARE = settings.PARTNER_API_MIDDLEWARE
        try:
            super().load_middleware(is_async)
        finally:
            settings.MIDDLEWARE = everything

    def resolve_request(self, request: Any) -> ResolverMatch:
        match = self._matches.get(request.path_info)
        if match is None or hasattr(request, "urlconf"):
            match = super().resolve_request(request)
            if len(self._matches) < _MATCH_CACHE_SIZE:
                self._matches[request.path_info] = match
            return match
        request.resolver_match = match
        return match


_everything = WSGIHandler()
_partners = PartnerAPIHandler()


def application(environ: dict[str, Any], start_response: Any) -> Any:
    if PARTNER_KEY in environ and environ.get("PATH_INFO", "").startswith("/api/"):
        return _partners(environ, start_response)
    return _everything(environ, start_response)


if os.environ.get("AMPERE_TUNED_GC") == "1":
    # `ampere serve --production`: what was loaded at start-up is kept out of every collection,
    # and the young generation is collected less often (a request allocates many short-lived
    # objects; its cycles are few).
    import gc

    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 20)
