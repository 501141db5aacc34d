"""Who is looking at a page: a member of staff, a customer, or nobody signed in yet; and the
utility whose data they read (its zone, country, currency and language)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING

from django.contrib.auth.models import AbstractBaseUser, AnonymousUser
from django.http import HttpRequest

from ampere.accounts.queries import (
    UtilityInfo,
    find_utility_info,
    get_customer_ids_for_user,
    get_customers_utility_info,
)

if TYPE_CHECKING:
    from django.contrib.auth.models import User


class ViewerKind(StrEnum):
    ANONYMOUS = "anonymous"
    STAFF = "staff"
    CUSTOMER = "customer"


@dataclass(frozen=True)
class Viewer:
    kind: ViewerKind
    user_id: int | None = None
    display_name: str = ""
    utility: UtilityInfo | None = None
    # The customers a customer login acts for (empty for staff and anonymous).
    customer_ids: frozenset[int] = frozenset()


ANONYMOUS = Viewer(kind=ViewerKind.ANONYMOUS)


def staff_utility(user: User) -> UtilityInfo | None:
    """The utility a member of staff works for, or None.

    Until the access domain lands, a staff login's utility is the Django group named after the
    utility's code (`ampere up` puts each demo staff login in its utility's group). The access
    helper replaces this function with the staff login's own utility and unit. One query.
    """
    return find_utility_info(codes=user.groups.values_list("name", flat=True))


def customer_ids_of(user: User) -> frozenset[int]:
    """The customers a login acts for: the one place the web shell asks (the access domain
    will answer it once customer grants move there). One query."""
    return get_customer_ids_for_user(user_id=user.pk)


def load_viewer(user: AbstractBaseUser | AnonymousUser) -> Viewer:
    """The viewer of a signed-in ``user`` (two queries), or ANONYMOUS. Until the access domain
    lands, ``is_staff`` logins are staff and every other login is a customer."""
    if not user.is_authenticated:
        return ANONYMOUS
    from django.contrib.auth.models import User

    assert isinstance(user, User)
    name = user.get_full_name() or user.get_username()
    if user.is_staff:
        return Viewer(
            kind=ViewerKind.STAFF, user_id=user.pk, display_name=name, utility=staff_utility(user)
        )
    customer_ids = customer_ids_of(user)
    return Viewer(
        kind=ViewerKind.CUSTOMER,
        user_id=user.pk,
        display_name=name,
        utility=get_customers_utility_info(customer_ids=customer_ids) if customer_ids else None,
        customer_ids=customer_ids,
    )


def viewer_of(request: HttpRequest) -> Viewer:
    """The viewer the web middleware found for ``request`` (ANONYMOUS outside the shell)."""
    viewer = getattr(request, "ampere_viewer", ANONYMOUS)
    assert isinstance(viewer, Viewer)
    return viewer
