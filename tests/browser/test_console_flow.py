import pytest

from tests.factories.web import PASSWORD, evn_billed_account, staff_login

HEADINGS = {"vi": "Chào mừng", "en": "Welcome", "es": "Bienvenido"}


@pytest.mark.parametrize("language", ["vi", "en", "es"])
def test_sign_in_home_language_switch_sign_out(shell, language):
    evn_billed_account()
    staff_login("evn-hcmc")
    shell.goto("/console/")
    page = shell.page
    page.select_option("#language-switch", language)
    shell.submit(".language-switch button")
    shell.screenshot(f"console-login-{language}")
    page.fill("#id_username", "staff-evn-hcmc")
    page.fill("#id_password", PASSWORD)
    shell.submit("form.form button[type=submit]")
    assert page.url.endswith("/console/")
    assert page.locator("html").get_attribute("lang") == language
    shell.screenshot(f"console-home-{language}")
