"""The portal's pages: sign-in, sign-out, home."""

from __future__ import annotations

from typing import ClassVar

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from ampere.billing.queries import list_account_overviews
from ampere.web.auth import ShellAuthenticationForm, ShellLoginView, ShellLogoutView, page_for
from ampere.web.labels import ACCOUNT_STATUS, BILL_STATUS, label
from ampere.web.viewer import ViewerKind, viewer_of

customer_page = page_for(ViewerKind.CUSTOMER, login_url_name="portal:login")


class CustomerAuthenticationForm(ShellAuthenticationForm):
    kind = ViewerKind.CUSTOMER


class LoginView(ShellLoginView):
    kind: ClassVar[ViewerKind] = ViewerKind.CUSTOMER
    home_url_name: ClassVar[str] = "portal:home"
    template_name = "portal/login.html"
    authentication_form = CustomerAuthenticationForm


class LogoutView(ShellLogoutView):
    next_page = "portal:login"


@customer_page
def home(request: HttpRequest) -> HttpResponse:
    """The customer's accounts, each with its balance and latest bill."""
    viewer = viewer_of(request)
    accounts = [
        {
            "number": account.number,
            "utility_name": account.utility_name,
            "status": label(ACCOUNT_STATUS, account.status),
            "balance": account.balance,
            "owes": account.balance.amount > 0,
            "latest_bill": None
            if account.latest_bill is None
            else {
                "period": account.latest_bill.period,
                "bill_date": account.latest_bill.bill_date,
                "due_date": account.latest_bill.due_date,
                "total": account.latest_bill.total,
                "status": label(BILL_STATUS, account.latest_bill.status),
            },
        }
        for account in list_account_overviews(customer_ids=viewer.customer_ids)
    ]
    return render(request, "portal/home.html", {"accounts": accounts})
