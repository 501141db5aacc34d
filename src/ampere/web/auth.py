"""Sign-in and sign-out shared by the console and the portal (Django's auth: username and
password). The access domain extends these: staff TOTP and lockout; customers' code or
phone, one-time codes and password reset."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any, ClassVar

from django import forms
from django.contrib import messages
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.contrib.auth.views import LoginView, LogoutView, redirect_to_login
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils.translation import gettext_lazy as _

from ampere.web.viewer import ViewerKind, viewer_of

View = Callable[..., HttpResponse]


class ShellAuthenticationForm(AuthenticationForm):
    """Username and password; refuses a login of the other kind (a customer at the staff
    sign-in, staff at the customers' one) with the same message as a wrong password, so the
    form tells nobody which logins exist."""

    kind: ClassVar[ViewerKind] = ViewerKind.STAFF

    def __init__(self, request: HttpRequest | None = None, *args: Any, **kwargs: Any) -> None:
        super().__init__(request, *args, **kwargs)
        self.error_messages = {
            **self.error_messages,
            "invalid_login": _("Enter a correct username and password. Both are case-sensitive."),
        }
        self.fields["username"].label = _("Username")
        self.fields["password"].label = _("Password")
        self.fields["username"].error_messages["required"] = _("Enter your username")
        self.fields["password"].error_messages["required"] = _("Enter your password")
        # The error summary and the fields say what is wrong; no autofocus (it skips the
        # header for screen-reader users).
        self.fields["username"].widget.attrs.pop("autofocus", None)

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        is_staff = bool(getattr(user, "is_staff", False))
        if is_staff != (self.kind == ViewerKind.STAFF):
            raise forms.ValidationError(
                self.error_messages["invalid_login"],
                code="invalid_login",
                params={"username": self.username_field.verbose_name},
            )


class ShellLoginView(LoginView):
    """The sign-in page of one interface; a person already signed in as its kind goes home."""

    kind: ClassVar[ViewerKind] = ViewerKind.STAFF
    home_url_name: ClassVar[str] = ""

    def get(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if viewer_of(request).kind == self.kind:
            return HttpResponseRedirect(self.get_success_url())
        return super().get(request, *args, **kwargs)

    def get_default_redirect_url(self) -> str:
        return reverse(self.home_url_name)


class ShellLogoutView(LogoutView):
    """Sign-out (POST only, as Django's); back to the sign-in page with a notice."""

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        response = super().post(request, *args, **kwargs)
        messages.info(request, _("You have signed out."))
        return response


def page_for(kind: ViewerKind, *, login_url_name: str) -> Callable[[View], View]:
    """A view decorator: the page is for signed-in people of ``kind``; anyone else is sent
    to the sign-in page, coming back here after it."""

    def decorate(view: View) -> View:
        @wraps(view)
        def guarded(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
            if viewer_of(request).kind != kind:
                return redirect_to_login(request.get_full_path(), reverse(login_url_name))
            return view(request, *args, **kwargs)

        return guarded

    return decorate
