"""Sign in → home → language switch → sign out, in each language, for the console and the
portal; screenshots at 1280 px and 360 px in var/screenshots/."""

from __future__ import annotations

import pytest

from tests.factories.web import PASSWORD, customer_login, evn_billed_account, staff_login

WORDS = {
    "vi": {
        "welcome": "Xin chào",
        "signed_out": "Bạn đã đăng xuất.",
        "accounts": "Tài khoản của tôi",
    },
    "en": {"welcome": "Welcome", "signed_out": "You have signed out.", "accounts": "My accounts"},
    "es": {
        "welcome": "Bienvenido",
        "signed_out": "Ha cerrado la sesión.",
        "accounts": "Mis cuentas",
    },
}


def sign_in(shell, path: str, username: str) -> None:
    shell.goto(path)
    shell.page.fill("#id_username", username)
    shell.page.fill("#id_password", PASSWORD)
    shell.submit("form.form button[type=submit]")


def switch_language(shell, language: str) -> None:
    shell.page.select_option("#language-switch", language)
    shell.submit(".language-switch button")


@pytest.mark.parametrize("language", ["vi", "en", "es"])
def test_console(shell, language):
    evn_billed_account()
    staff_login("evn-hcmc")
    sign_in(shell, "/console/login/", "staff-evn-hcmc")
    page = shell.page
    assert page.url == f"{shell.base_url}/console/"
    switch_language(shell, language)
    assert page.locator("html").get_attribute("lang") == language
    assert page.locator("h1").inner_text() == f"{WORDS[language]['welcome']}, Lan Trần"
    assert page.locator("#accounts tbody tr").count() == 1
    shell.screenshot(f"console-home-{language}")
    shell.submit(".site-header__logout button")
    assert page.url == f"{shell.base_url}/console/login/"
    assert page.locator(".toast").inner_text() == WORDS[language]["signed_out"]
    shell.screenshot(f"console-login-{language}")
    shell.goto("/console/")
    assert page.url == f"{shell.base_url}/console/login/?next=/console/"


@pytest.mark.parametrize("language", ["vi", "en", "es"])
def test_portal(shell, language):
    billed = evn_billed_account()
    customer_login(billed.account_number)
    sign_in(shell, "/portal/login/", "customer")
    page = shell.page
    assert page.url == f"{shell.base_url}/portal/"
    switch_language(shell, language)
    assert page.locator("h1").inner_text() == WORDS[language]["accounts"]
    assert page.locator(".card").count() == 1
    shell.screenshot(f"portal-home-{language}")
    shell.submit(".site-header__logout button")
    assert page.url == f"{shell.base_url}/portal/login/"
    assert page.locator(".toast").inner_text() == WORDS[language]["signed_out"]
    shell.screenshot(f"portal-login-{language}")


@pytest.mark.parametrize("language", ["vi", "en", "es"])
def test_at_360_px_nothing_scrolls_sideways(narrow_shell, language):
    billed = evn_billed_account()
    staff_login("evn-hcmc")
    customer_login(billed.account_number)
    shell = narrow_shell
    shell.goto("/portal/login/")
    switch_language(shell, language)
    assert shell.has_no_horizontal_scroll()
    shell.screenshot(f"narrow-portal-login-{language}")
    shell.page.fill("#id_username", "customer")
    shell.page.fill("#id_password", PASSWORD)
    shell.submit("form.form button[type=submit]")
    assert shell.has_no_horizontal_scroll()
    shell.screenshot(f"narrow-portal-home-{language}")
    shell.submit(".site-header__logout button")
    sign_in(shell, "/console/login/", "staff-evn-hcmc")
    assert shell.page.url == f"{shell.base_url}/console/"
    assert shell.has_no_horizontal_scroll()
    shell.screenshot(f"narrow-console-home-{language}")
