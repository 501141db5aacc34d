"""The versioned API object; each domain's interface module adds its router here."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI
from ninja.errors import AuthenticationError, HttpError
from ninja.errors import ValidationError as NinjaValidationError

from ampere.api import problems
from ampere.core.errors import DomainError

api = NinjaAPI(
    title="Ampere API",
    version="1",
    description=(
        "Customer information and billing for electricity utilities. Errors are RFC 9457 problem "
        "details (`application/problem+json`) naming the field that is wrong."
    ),
    urls_namespace="api-v1",
)


def _field_path(location: Any) -> str:
    parts = [str(p) for p in location if p not in {"body", "query", "path", "payload", "form"}]
    return ".".join(parts) or "body"


@api.exception_handler(NinjaValidationError)
def _invalid_request(request: HttpRequest, exc: NinjaValidationError) -> HttpResponse:
    errors = [
        {"field": _field_path(e.get("loc", [])), "message": e.get("msg", "")} for e in exc.errors
    ]
    detail = "; ".join(f"{e['field']}: {e['message']}" for e in errors)
    return problems.problem(
        request,
        status=422,
        title="Invalid request",
        detail=detail,
        code="invalid-request",
        errors=errors,
    )


@api.exception_handler(DomainError)
def _domain_error(request: HttpRequest, exc: DomainError) -> HttpResponse:
    return problems.from_domain_error(request, exc)


@api.exception_handler(AuthenticationError)
def _unauthenticated(request: HttpRequest, exc: AuthenticationError) -> HttpResponse:
    return problems.problem(
        request,
        status=401,
        title="Unauthenticated",
        detail=str(exc) or "credentials are missing or wrong",
        code="unauthenticated",
    )


@api.exception_handler(HttpError)
def _http_error(request: HttpRequest, exc: HttpError) -> HttpResponse:
    return problems.problem(
        request, status=exc.status_code, title="Request refused", detail=str(exc), code="http-error"
    )
