"""The console's and portal's pages through HTTP: sign-in, scoping, paging, formats, languages."""

from __future__ import annotations

import re

import pytest
from django.conf import settings
from django.contrib.auth.models import User
from django.test import Client

from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.web import (
    PASSWORD,
    customer_login,
    evn_billed_account,
    sce_billed_account,
    staff_login,
)

pytestmark = pytest.mark.django_db
NBSP = "\xa0"


def signed_in(user: User, language: str | None = None) -> Client:
    client = Client()
    client.force_login(user)
    if language:
        client.cookies[settings.LANGUAGE_COOKIE_NAME] = language
    return client


def text(response) -> str:
    return str(response.content, "utf-8")


# --- sign-in ---------------------------------------------------------------------------------


def test_the_console_asks_anonymous_people_to_sign_in():
    response = Client().get("/console/")
    assert (response.status_code, response["Location"]) == (302, "/console/login/?next=/console/")


def test_the_portal_asks_anonymous_people_to_sign_in():
    response = Client().get("/portal/")
    assert (response.status_code, response["Location"]) == (302, "/portal/login/?next=/portal/")


def test_sign_in_form_labels_every_field():
    page = text(Client().get("/console/login/"))
    assert '<label class="field__label" for="id_username">Username</label>' in page
    assert '<label class="field__label" for="id_password">Password</label>' in page
    assert 'autocomplete="current-password"' in page


def test_staff_sign_in_goes_home():
    staff_login("evn-hcmc")
    client = Client()
    response = client.post(
        "/console/login/", {"username": "staff-evn-hcmc", "password": PASSWORD, "next": ""}
    )
    assert (response.status_code, response["Location"]) == (302, "/console/")
    assert client.session["_auth_user_id"] == str(User.objects.get(username="staff-evn-hcmc").pk)


def test_a_wrong_password_is_told_at_the_top_and_nobody_is_signed_in():
    staff_login("evn-hcmc")
    client = Client()
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "vi"
    response = client.post("/console/login/", {"username": "staff-evn-hcmc", "password": "nope"})
    page = text(response)
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert (
        '<li><a href="#id_username">Nhập đúng tên đăng nhập và mật khẩu. Cả hai đều phân biệt '
        "chữ hoa, chữ thường.</a></li>"
    ) in page
    assert 'role="alert"' in page


def test_empty_fields_are_told_next_to_each_field_and_in_the_summary():
    response = Client().post("/portal/login/", {"username": "", "password": ""})
    page = text(response)
    assert '<li><a href="#id_username">Enter your username</a></li>' in page
    assert '<li><a href="#id_password">Enter your password</a></li>' in page
    assert re.search(
        r'<p class="field__error" id="id_username-error">'
        r'<span class="visually-hidden">Error:</span> Enter your username</p>',
        page,
    )
    assert 'aria-describedby="id_username-error"' in page
    assert 'aria-invalid="true"' in page


def test_a_customer_cannot_sign_in_to_the_console():
    billed = evn_billed_account()
    customer_login(billed.account_number)
    client = Client()
    response = client.post("/console/login/", {"username": "customer", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session
    assert "Enter a correct username and password." in text(response)


def test_staff_cannot_sign_in_to_the_portal():
    staff_login("evn-hcmc")
    client = Client()
    response = client.post("/portal/login/", {"username": "staff-evn-hcmc", "password": PASSWORD})
    assert response.status_code == 200
    assert "_auth_user_id" not in client.session


def test_a_customer_at_the_console_is_sent_to_its_sign_in():
    billed = evn_billed_account()
    client = signed_in(customer_login(billed.account_number))
    response = client.get("/console/")
    assert response["Location"] == "/console/login/?next=/console/"
    assert client.get("/console/login/").status_code == 200


def test_signed_in_staff_at_the_sign_in_page_go_home():
    client = signed_in(staff_login("evn-hcmc"))
    response = client.get("/console/login/")
    assert (response.status_code, response["Location"]) == (302, "/console/")


def test_sign_out_ends_the_session_with_a_notice():
    client = signed_in(staff_login("evn-hcmc"), language="es")
    response = client.post("/console/logout/", follow=True)
    assert response.redirect_chain == [("/console/login/", 302)]
    assert "_auth_user_id" not in client.session
    assert '<p class="toast toast--info">Ha cerrado la sesión.</p>' in text(response)


def test_sign_out_is_a_post():
    client = signed_in(staff_login("evn-hcmc"))
    assert client.get("/console/logout/").status_code == 405
    assert "_auth_user_id" in client.session


# --- console home ----------------------------------------------------------------------------


def test_console_home_shows_only_the_staff_members_utility(django_assert_num_queries):
    evn = evn_billed_account()
    sce = sce_billed_account()
    client = signed_in(staff_login("evn-hcmc"), language="en")
    # session, user, the login's utility, the accounts page, the utility's currency
    with django_assert_num_queries(5):
        response = client.get("/console/")
    page = text(response)
    assert response.status_code == 200
    assert "Tổng công ty Điện lực Thành phố Hồ Chí Minh" in page
    assert f"<td>{evn.account_number}</td>" in page
    assert sce.account_number not in page
    assert "María González" not in page
    assert '<td class="numeric amount">₫798,660</td>' in page
    assert "Indochina Time" in page


def test_sce_staff_see_sce_in_pacific_time_and_dollars():
    evn = evn_billed_account()
    sce = sce_billed_account()
    page = text(signed_in(staff_login("sce"), language="es").get("/console/"))
    assert f"<td>{sce.account_number}</td>" in page
    assert evn.account_number not in page
    assert "hora de verano del Pacífico" in page or "hora estándar del Pacífico" in page
    assert re.search(r'<td class="numeric amount">\$\d+\.\d\d</td>', page)


def test_staff_without_a_utility_see_no_data():
    evn_billed_account()
    user = User.objects.create_user("nobody", password=PASSWORD, is_staff=True)
    page = text(signed_in(user, language="en").get("/console/"))
    assert "Your login is not linked to a utility yet" in page
    assert "<table" not in page


def test_without_a_language_cookie_staff_read_their_utility_language():
    UtilityFactory(code="evn-hcmc")
    page = text(signed_in(staff_login("evn-hcmc")).get("/console/"))
    assert '<html lang="vi">' in page
    assert "Tài khoản" in page


def test_the_language_switch_keeps_the_choice():
    client = signed_in(staff_login("evn-hcmc"))
    response = client.post("/i18n/setlang/", {"language": "es", "next": "/console/"})
    assert (response.status_code, response["Location"]) == (302, "/console/")
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "es"
    page = text(client.get("/console/"))
    assert '<html lang="es">' in page
    assert "Cerrar sesión" in page


def accounts_of(page: str) -> list[str]:
    return re.findall(r"<tr>\s*<td>([A-Z0-9]+)</td>", page)


def test_the_accounts_table_pages_by_number(django_assert_num_queries):
    utility = UtilityFactory(code="evn-hcmc")
    numbers = sorted(AccountFactory.create_batch(30, utility=utility), key=lambda a: a.number)
    numbers = [a.number for a in numbers]
    client = signed_in(staff_login("evn-hcmc"), language="en")
    first = text(client.get("/console/"))
    assert accounts_of(first) == numbers[:25]
    assert f'href="/console/?after={numbers[24]}"' in first
    assert "Previous page" not in first
    with django_assert_num_queries(5):
        second = client.get(f"/console/?after={numbers[24]}")
    assert accounts_of(text(second)) == numbers[25:]
    assert f'href="/console/?before={numbers[25]}"' in text(second)
    assert "Next page" not in text(second)
    back = text(client.get(f"/console/?before={numbers[25]}"))
    assert accounts_of(back) == numbers[:25]
    assert "Previous page" not in back


def test_htmx_gets_only_the_table():
    utility = UtilityFactory(code="evn-hcmc")
    AccountFactory.create_batch(3, utility=utility)
    client = signed_in(staff_login("evn-hcmc"), language="en")
    page = text(client.get("/console/", headers={"HX-Request": "true"}))
    assert page.startswith('<div id="accounts"')
    assert "<html" not in page
    assert len(accounts_of(page)) == 3


@pytest.mark.parametrize("key", ["x" * 65, "", "   "])
def test_a_bad_page_key_shows_the_first_page(key):
    utility = UtilityFactory(code="evn-hcmc")
    AccountFactory.create_batch(2, utility=utility)
    response = signed_in(staff_login("evn-hcmc")).get("/console/", {"after": key})
    assert response.status_code == 200
    assert len(accounts_of(text(response))) == 2


# --- portal home -----------------------------------------------------------------------------


def test_portal_home_shows_the_customers_own_accounts(django_assert_num_queries):
    mine = evn_billed_account()
    other = evn_billed_account(kwh=100)
    client = signed_in(customer_login(mine.account_number), language="vi")
    # session, user, the login's customers, their utility, the accounts with balance and bill
    with django_assert_num_queries(5):
        response = client.get("/portal/")
    page = text(response)
    assert response.status_code == 200
    assert f"Tài khoản {mine.account_number}" in page
    assert other.account_number not in page
    assert f'<dd class="amount amount--large">798.660{NBSP}₫</dd>' in page
    assert "1\u2009–\u200931 thg 5, 2025" in page  # the period [May 1, June 1)
    assert "<dd>2 thg 6, 2025</dd>" in page  # bill date
    assert "Số tiền còn nợ" in page


def test_portal_home_in_english_for_sce():
    mine = sce_billed_account()
    page = text(signed_in(customer_login(mine.account_number), language="en").get("/portal/"))
    assert re.search(r'<dd class="amount amount--large">\$\d{3}\.\d\d</dd>', page)
    assert "May 1\u2009–\u200931, 2025" in page


def test_a_customer_with_no_account_is_told_so():
    user = User.objects.create_user("lonely", password=PASSWORD)
    page = text(signed_in(user, language="en").get("/portal/"))
    assert "No account is linked to your login yet." in page
