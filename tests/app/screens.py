"""What the browser tests of the member app check on every screen they visit, the way a
person would meet it: axe-core (no serious or critical violation), 200% zoom (a 640 px wide
viewport, half of 1280, so every CSS pixel is two: the page body must not scroll sideways),
no script error or Content-Security-Policy violation in the console, and, with
``VAULT_SCREENSHOTS=1``, a screenshot under docs/screenshots/ (otherwise nothing is written,
so a test run does not dirty the tree).

axe-playwright-python injects axe-core with ``page.evaluate`` (the DevTools protocol's
``Runtime.evaluate``), which a page's CSP does not govern: the strict CSP stays on, no
``bypass_csp`` needed, and the scan itself is not reported as a violation.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from axe_playwright_python.sync_playwright import Axe
from playwright.sync_api import ConsoleMessage, Page

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOTS = ROOT / "docs" / "screenshots"
WIDE = {"width": 1280, "height": 900}
ZOOMED = {"width": 640, "height": 900}
"""200% zoom of a 1280 px window: what the page has to fit in, in CSS pixels."""
BLOCKING = ("serious", "critical")

_AXE = Axe()


def screenshots_wanted() -> bool:
    return os.environ.get("VAULT_SCREENSHOTS") == "1"


def axe_problems(page: Page) -> list[str]:
    """axe-core's serious and critical violations on the page, one line each."""
    results = _AXE.run(page)
    assert results.response["testEngine"]["name"] == "axe-core", results.response
    out = []
    for violation in results.response["violations"]:
        if violation.get("impact") in BLOCKING:
            targets = "; ".join(", ".join(map(str, n["target"])) for n in violation["nodes"])
            out.append(f"{violation['id']} ({violation['impact']}): {violation['help']} "
                       f"-- {targets}")
    return out


def sideways_overflow(page: Page) -> int:
    """How many CSS pixels the page is wider than the window (0: no horizontal scroll)."""
    return int(page.evaluate(
        "Math.max(document.documentElement.scrollWidth, document.body.scrollWidth)"
        " - document.documentElement.clientWidth"))


@dataclass
class Screens:
    """Checks each screen, collects what failed (reported together at the end), and takes the
    screenshots."""

    problems: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)

    def watch(self, page: Page, who: str) -> Page:
        """Record the page's script errors and CSP violations (Chromium logs both)."""

        def on_console(message: ConsoleMessage) -> None:
            if message.type == "error" and not message.location.get("url", "").endswith(
                    "/favicon.ico"):  # the app has no icon: the browser's 404 for it
                self.console.append(f"{who} {page.url}: {message.text}")

        page.on("console", on_console)
        page.on("pageerror", lambda error: self.console.append(f"{who} {page.url}: {error}"))
        return page

    def check(self, page: Page, name: str, *, full_page: bool = True) -> None:
        """Screenshot (when asked for), axe, 200% zoom: the screen as it is now."""
        page.wait_for_load_state("load")
        self.seen.append(name)
        if screenshots_wanted():
            SCREENSHOTS.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=full_page,
                            animations="disabled", caret="hide")
        for line in axe_problems(page):
            self.problems.append(f"{name}: axe {line}")
        size: Any = page.viewport_size or WIDE
        page.set_viewport_size(ZOOMED)
        try:
            extra = sideways_overflow(page)
            if extra > 1:
                self.problems.append(f"{name}: at 200% zoom the page scrolls sideways by {extra}px"
                                     f" ({widest(page)})")
        finally:
            page.set_viewport_size(size)

    def assert_clean(self) -> None:
        assert not self.problems, "\n".join(self.problems)
        assert not self.console, "console errors:\n" + "\n".join(self.console)


def widest(page: Page) -> str:
    """The element that sticks out furthest to the right (for the failure message)."""
    return str(page.evaluate("""() => {
        let worst = null, right = document.documentElement.clientWidth;
        for (const el of document.querySelectorAll('body *')) {
            const r = el.getBoundingClientRect().right;
            if (r > right + 1) { right = r; worst = el; }
        }
        if (!worst) return 'none';
        const id = worst.id ? '#' + worst.id : '';
        const cls = worst.className && typeof worst.className === 'string'
            ? '.' + worst.className.trim().split(/\\s+/).join('.') : '';
        return worst.tagName.toLowerCase() + id + cls + ' right=' + Math.round(right);
    }"""))
