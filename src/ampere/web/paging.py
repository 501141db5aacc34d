"""Keyset paging links for a table: "previous" and "next" as plain links (that work with no
script) which htmx swaps in place."""

from __future__ import annotations

from dataclasses import dataclass

from django.http import HttpRequest

# A key longer than any the tables use is no key (the first page is shown).
MAX_KEY_LENGTH = 64


@dataclass(frozen=True)
class Pager:
    previous_url: str | None
    next_url: str | None
    # The id of the element htmx replaces (the table's region).
    target: str


def page_keys(request: HttpRequest) -> tuple[str | None, str | None]:
    """``after`` and ``before`` from the query string (None when absent, empty or too long)."""

    def key(name: str) -> str | None:
        value = request.GET.get(name, "").strip()
        return value if value and len(value) <= MAX_KEY_LENGTH else None

    return key("after"), key("before")


def keyset_pager(
    request: HttpRequest,
    *,
    first_key: str | None,
    last_key: str | None,
    has_before: bool,
    has_after: bool,
    target: str,
) -> Pager:
    """Links to the page before ``first_key`` and after ``last_key``, keeping the request's
    other query parameters."""

    def url(name: str, key: str) -> str:
        query = request.GET.copy()
        query.pop("after", None)
        query.pop("before", None)
        query[name] = key
        return f"{request.path}?{query.urlencode()}"

    return Pager(
        previous_url=url("before", first_key) if has_before and first_key else None,
        next_url=url("after", last_key) if has_after and last_key else None,
        target=target,
    )
