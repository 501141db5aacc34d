"""The browser-test harness: Debian's Chromium through Playwright, with axe-core on every page.

Every document a test's browser context loads runs axe-core (an init script, so no test can
forget it) once it has loaded and again after each htmx swap, and reports to Python; the
``shell`` fixture fails the test on any WCAG 2.0/2.1/2.2 A or AA violation and on a page whose
check did not finish (a test that moves on before it has: use ``ShellPage.goto``/``follow``/
``submit``, which wait for it).
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, BrowserContext, Page

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
]
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa"]
AXE_SOURCE = (Path(__file__).parent / "vendor" / "axe-4.14.1.min.js").read_text()
SCREENSHOTS = Path(os.environ.get("AMPERE_SCREENSHOTS", "var/screenshots"))

# Runs in every document: axe after load and after each htmx settle, one run at a time.
_RUNNER = """
(() => {
  if (window.top !== window) return;
  let running = Promise.resolve();
  let serial = 0;
  const check = (why) => {
    const id = ++serial;
    window.__ampereAxeStarted(location.href, id, why);
    running = running.then(() => axe.run(document, {
      runOnly: {type: "tag", values: __AXE_TAGS__},
      resultTypes: ["violations"],
    })).then((result) => {
      const violations = result.violations.map((v) => ({
        id: v.id, impact: v.impact, help: v.help,
        nodes: v.nodes.map((n) => ({target: n.target.join(" "), summary: n.failureSummary})),
      }));
      window.__ampereAxeReport(location.href, id, JSON.stringify(violations));
    }, (error) => window.__ampereAxeReport(location.href, id, JSON.stringify(
      [{id: "axe-error", impact: "critical", help: String(error), nodes: []}])));
  };
  window.addEventListener("load", () => check("load"));
  document.addEventListener("htmx:afterSettle", () => check("htmx"));
})();
""".replace("__AXE_TAGS__", json.dumps(AXE_TAGS))


@dataclass
class AxeLog:
    started: dict[tuple[str, int], str] = field(default_factory=dict)
    checked: list[str] = field(default_factory=list)
    violations: list[str] = field(default_factory=list)
    pending: set[tuple[str, int]] = field(default_factory=set)

    def start(self, url: str, serial: int, why: str) -> None:
        self.started[(url, serial)] = why
        self.pending.add((url, serial))

    def report(self, url: str, serial: int, payload: str) -> None:
        self.pending.discard((url, serial))
        self.checked.append(url.split("#", maxsplit=1)[0])
        for violation in json.loads(payload):
            nodes = "; ".join(f"{n['target']}: {n['summary']}" for n in violation["nodes"])
            self.violations.append(
                f"{url} [{violation['impact']}] {violation['id']}: {violation['help']} ({nodes})"
            )


def new_context(
    browser: Browser, *, width: int = 1280, height: int = 900
) -> tuple[BrowserContext, AxeLog]:
    """A fresh browser context (no cookies) whose every document is checked by axe."""
    context = browser.new_context(viewport={"width": width, "height": height}, locale="en-US")
    log = AxeLog()
    context.expose_binding(
        "__ampereAxeStarted", lambda _source, url, n, why: log.start(url, n, why)
    )
    context.expose_binding(
        "__ampereAxeReport", lambda _source, url, n, data: log.report(url, n, data)
    )
    context.add_init_script(AXE_SOURCE + "\n" + _RUNNER)
    return context, log


class ShellPage:
    """A page of the web shell with navigation that waits for each page's axe check."""

    def __init__(self, page: Page, log: AxeLog, base_url: str) -> None:
        self.page = page
        self.log = log
        self.base_url = base_url

    def wait_for_axe(self, timeout: float = 20.0) -> None:
        """Until every started axe run has reported (the page has loaded and been checked)."""
        deadline = time.monotonic() + timeout
        self.page.wait_for_load_state("load")
        while True:
            self.page.wait_for_timeout(25)  # lets Playwright deliver the bindings' calls
            if not self.log.pending and self.page.url.split("#")[0] in self.log.checked:
                return
            if time.monotonic() > deadline:
                raise AssertionError(f"axe did not finish on {self.page.url}: {self.log.pending}")

    def goto(self, path: str) -> None:
        self.page.goto(self.base_url + path)
        self.wait_for_axe()

    def follow(self, action: Any) -> None:
        """Run ``action`` (a click that navigates), then wait for the next page's check."""
        with self.page.expect_navigation():
            action()
        self.wait_for_axe()

    def submit(self, selector: str) -> None:
        self.follow(lambda: self.page.click(selector))

    def screenshot(self, name: str) -> Path:
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        path = SCREENSHOTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def has_no_horizontal_scroll(self) -> bool:
        return bool(
            self.page.evaluate(
                "document.documentElement.scrollWidth <= document.documentElement.clientWidth"
            )
        )

    def focused(self) -> str:
        """What has the keyboard focus: tag, and its id, name or text."""
        return str(
            self.page.evaluate(
                """() => { const e = document.activeElement; if (!e) return "";
                const what = e.id || e.getAttribute("name") || (e.textContent || "").trim();
                return e.tagName.toLowerCase() + ":" + what; }"""
            )
        )

    def focus_is_visible(self) -> bool:
        return bool(
            self.page.evaluate(
                """() => { const s = getComputedStyle(document.activeElement);
                return (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0)
                    || s.boxShadow !== "none"; }"""
            )
        )
