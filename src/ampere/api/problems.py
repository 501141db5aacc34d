"""RFC 9457 problem details: the one place where errors become HTTP responses."""

from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse, JsonResponse
from django.utils.translation import gettext

from ampere.core.errors import Conflict, DomainError, InvalidInput, NotFound

PROBLEM_CONTENT_TYPE = "application/problem+json"

_STATUS_BY_ERROR: list[tuple[type[DomainError], int]] = [
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 422),
]


def problem(
    request: HttpRequest,
    *,
    status: int,
    title: str,
    detail: str,
    code: str,
    errors: list[dict[str, Any]] | None = None,
) -> HttpResponse:
    body: dict[str, Any] = {
        "type": f"https://ampere.example/problems/{code}",
        "title": title,
        "status": status,
        "detail": detail,
        "instance": request.path,
    }
    if errors:
        body["errors"] = errors
    return JsonResponse(
        body,
        status=status,
        content_type=PROBLEM_CONTENT_TYPE,
        json_dumps_params={"ensure_ascii": False},
    )


def status_for(error: DomainError) -> int:
    for kind, status in _STATUS_BY_ERROR:
        if isinstance(error, kind):
            return status
    return 422


def from_domain_error(request: HttpRequest, error: DomainError) -> HttpResponse:
    """The problem for a domain error, in the request's language (the active translation)."""
    message = error.translated(gettext)
    errors = [{"field": error.field, "message": message}] if error.field else None
    return problem(
        request,
        status=status_for(error),
        title=gettext(error.title),
        detail=f"{error.field}: {message}" if error.field else message,
        code=error.code,
        errors=errors,
    )
