"""Fixtures of the browser tests (see harness.py). They need Debian's Chromium at
/usr/bin/chromium (`make browser` installs it) and run in `make check`."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.harness import CHROMIUM, CHROMIUM_ARGS, ShellPage, new_context

# Playwright's sync API runs an event loop in the test's thread; the test's own database calls
# (factories) are synchronous and safe.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(item.fspath).parents:
            item.add_marker(pytest.mark.browser)
            # One worker's browser serves all of its browser tests.
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture(scope="session")
def browser():
    if not Path(CHROMIUM).exists():
        pytest.fail(f"the browser tests need Debian's Chromium at {CHROMIUM}: run `make browser`")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


def _shell(browser, live_server, width: int) -> Iterator[ShellPage]:
    context, log = new_context(browser, width=width)
    page = context.new_page()
    shell = ShellPage(page, log, live_server.url)
    try:
        yield shell
        if page.url.startswith(live_server.url):
            shell.wait_for_axe()
    finally:
        context.close()
    assert log.checked, "no page was checked by axe"
    assert not log.pending, f"axe did not finish on {sorted(log.pending)}"
    assert not log.violations, "axe-core found violations:\n" + "\n".join(log.violations)


@pytest.fixture
def shell(browser, live_server, transactional_db) -> Iterator[ShellPage]:
    """A desktop-width page (1280 px) checked by axe on every document."""
    yield from _shell(browser, live_server, 1280)


@pytest.fixture
def narrow_shell(browser, live_server, transactional_db) -> Iterator[ShellPage]:
    """A phone-width page (360 px) checked by axe on every document."""
    yield from _shell(browser, live_server, 360)
