"""Real headless Chromium for the tests that look at pages the way people do.

Debian's ``chromium`` package (``/usr/bin/chromium``; ``.ci/run`` installs it when missing),
driven by Playwright's Python API. Playwright's own browser downloads are never used.

    from tests.browser import browser  # noqa: F401 - the fixture, for this module

or, outside pytest fixtures, ``with chromium() as browser: ...``. The only skip is for a
machine without ``/usr/bin/chromium``; a Chromium that is there but fails to start is an
error, not a skip.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from playwright.sync_api import Browser, sync_playwright

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--no-sandbox",  # the tests may run as root, where Chromium's sandbox refuses to start
    "--disable-gpu",
    "--disable-background-networking",  # no request of its own (updates, suggestions, ...)
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
MISSING = (f"{CHROMIUM} is missing: install Debian's chromium package "
           "(apt-get install chromium; .ci/run does it)")


@contextmanager
def chromium() -> Iterator[Browser]:
    """A headless Chromium, closed afterwards; skips the test when it is not installed."""
    if not CHROMIUM.is_file():
        pytest.skip(MISSING)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                             args=ARGS)
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    """One Chromium per test module (each test opens its own context)."""
    with chromium() as launched:
        yield launched
