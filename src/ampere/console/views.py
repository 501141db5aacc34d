"""The console's pages: sign-in, sign-out, home."""

from __future__ import annotations

from typing import ClassVar

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone

from ampere.accounts.queries import list_utility_accounts
from ampere.web.auth import ShellAuthenticationForm, ShellLoginView, ShellLogoutView, page_for
from ampere.web.labels import ACCOUNT_STATUS, label
from ampere.web.paging import keyset_pager, page_keys
from ampere.web.viewer import ViewerKind, viewer_of

staff_page = page_for(ViewerKind.STAFF, login_url_name="console:login")

ACCOUNTS_PAGE_SIZE = 25


class StaffAuthenticationForm(ShellAuthenticationForm):
    kind = ViewerKind.STAFF


class LoginView(ShellLoginView):
    kind: ClassVar[ViewerKind] = ViewerKind.STAFF
    home_url_name: ClassVar[str] = "console:home"
    template_name = "console/login.html"
    authentication_form = StaffAuthenticationForm


class LogoutView(ShellLogoutView):
    next_page = "console:login"


@staff_page
def home(request: HttpRequest) -> HttpResponse:
    """The signed-in member of staff, their utility, its local date and time, and a page of
    the utility's accounts (htmx swaps the table; the links work without it)."""
    viewer = viewer_of(request)
    context: dict[str, object] = {"now": timezone.now(), "accounts": None}
    if viewer.utility is not None:
        after, before = page_keys(request)
        page = list_utility_accounts(
            utility_id=viewer.utility.id,
            limit=ACCOUNTS_PAGE_SIZE,
            after_number=after,
            before_number=before,
        )
        context["accounts"] = [
            {
                "number": row.number,
                "customer_name": row.customer_name,
                "status": label(ACCOUNT_STATUS, row.status),
                "opened_on": row.opened_on,
                "balance": row.balance,
            }
            for row in page.rows
        ]
        context["pager"] = keyset_pager(
            request,
            first_key=page.rows[0].number if page.rows else None,
            last_key=page.rows[-1].number if page.rows else None,
            has_before=page.has_before,
            has_after=page.has_after,
            target="accounts",
        )
    if getattr(request, "htmx", False):
        return render(request, "console/_accounts.html", context)
    return render(request, "console/home.html", context)
