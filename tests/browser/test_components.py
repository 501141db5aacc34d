"""Keyboard use, the error summary, the paged table's htmx swap, the dialog, the API docs."""

from __future__ import annotations

from tests.factories.accounts import AccountFactory, UtilityFactory
from tests.factories.web import PASSWORD, customer_login, evn_billed_account, staff_login


def test_keyboard_alone_reaches_the_header_and_signs_in(shell):
    evn_billed_account()
    staff_login("evn-hcmc")
    shell.goto("/console/login/")
    page = shell.page
    order = []
    for _ in range(7):
        page.keyboard.press("Tab")
        order.append(shell.focused())
        assert shell.focus_is_visible(), f"focus is not visible on {order[-1]}"
    assert order == [
        "a:Skip to main content",
        "a:Ampere console",
        "select:language-switch",
        "button:Change",
        "input:id_username",
        "input:id_password",
        "button:Sign in",
    ]
    page.keyboard.press("Shift+Tab")
    page.keyboard.press("Shift+Tab")
    page.keyboard.type("staff-evn-hcmc")
    page.keyboard.press("Tab")
    page.keyboard.type(PASSWORD)
    shell.follow(lambda: page.keyboard.press("Enter"))
    assert page.url == f"{shell.base_url}/console/"
    # The signed-in header: skip link, brand, navigation, language, sign-out.
    page.keyboard.press("Tab")
    assert shell.focused() == "a:Chuyển đến nội dung chính"  # EVN HCMC's language
    page.keyboard.press("Enter")
    assert shell.focused() == "main:main"
    page.keyboard.press("Tab")
    assert shell.focused().startswith("div:accounts")  # the table region scrolls by keyboard


def test_the_error_summary_takes_focus_and_links_to_the_field(shell):
    shell.goto("/portal/login/")
    page = shell.page
    shell.submit("form.form button[type=submit]")
    assert page.evaluate("document.activeElement.classList.contains('error-summary')")
    assert page.locator(".error-summary li").all_inner_texts() == [
        "Enter your username",
        "Enter your password",
    ]
    page.click(".error-summary a[href='#id_password']")
    assert shell.focused() == "input:id_password"


def test_the_table_pages_in_place_and_keeps_focus(shell):
    utility = UtilityFactory(code="evn-hcmc")
    numbers = sorted(a.number for a in AccountFactory.create_batch(30, utility=utility))
    staff_login("evn-hcmc")
    shell.goto("/console/login/")
    page = shell.page
    page.fill("#id_username", "staff-evn-hcmc")
    page.fill("#id_password", PASSWORD)
    shell.submit("form.form button[type=submit]")
    assert page.locator("#accounts tbody tr").count() == 25
    checked = len(shell.log.checked)
    page.click("a[rel=next]")
    page.wait_for_function("document.querySelectorAll('#accounts tbody tr').length === 5")
    shell.wait_for_axe()
    assert len(shell.log.checked) > checked  # axe ran again on the swapped table
    assert page.locator("#accounts tbody td:first-child").all_inner_texts() == numbers[25:]
    assert page.url == f"{shell.base_url}/console/?after={numbers[24]}"
    assert shell.focused() == "caption:accounts-caption"
    page.click("a[rel=prev]")
    page.wait_for_function("document.querySelectorAll('#accounts tbody tr').length === 25")
    shell.wait_for_axe()
    assert shell.focused() == "caption:accounts-caption"


def test_the_dialog_opens_and_closes_with_the_keyboard(shell):
    billed = evn_billed_account()
    customer_login(billed.account_number)
    shell.goto("/portal/login/")
    page = shell.page
    page.fill("#id_username", "customer")
    page.fill("#id_password", PASSWORD)
    shell.submit("form.form button[type=submit]")
    opener = page.locator("[data-dialog-open=about-balance]")
    opener.focus()
    page.keyboard.press("Enter")
    dialog = page.locator("dialog#about-balance")
    assert dialog.evaluate("d => d.open")
    shell.screenshot("portal-dialog")
    assert shell.focused() == "button:Close" or shell.focused().startswith("button:")
    page.keyboard.press("Escape")
    assert not dialog.evaluate("d => d.open")
    assert page.evaluate("document.activeElement.dataset.dialogOpen") == "about-balance"


def test_the_api_docs_render_their_operations_from_ampere_alone(shell):
    outside: list[str] = []

    def route(request_route):
        url = request_route.request.url
        if url.startswith(shell.base_url):
            request_route.continue_()
        else:
            outside.append(url)
            request_route.abort()

    shell.page.route("**/*", route)
    shell.goto("/api/v1/docs")
    shell.page.wait_for_selector(".opblock-summary-path", timeout=20000)
    paths = shell.page.locator(".opblock-summary-path").all_inner_texts()
    assert "/api/v1/rating/quote" in [p.replace("\u200b", "") for p in paths]
    assert len(paths) > 10
    assert outside == []
    shell.screenshot("api-docs")
