"""Fixtures for the member app's tests: an app for one launch under Flask's test client (a
port that is never bound: the Host checks need one), a browser-like session on it, and the
SDK tests' real relay process (tests/client/conftest.py)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask
from flask.testing import FlaskClient
from playwright.sync_api import Browser as ChromeBrowser
from vault_app import AppSettings, create_app
from vault_client import Client

from tests.client.conftest import PASSPHRASE, backend, relay  # noqa: F401 - fixtures

PORT = 48213
ORIGIN = f"http://127.0.0.1:{PORT}"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@dataclass
class Browser:
    """A browser session on the app: the cookie (in the test client) and the CSRF token."""

    app: Flask
    client: FlaskClient
    settings: AppSettings
    csrf: str = ""

    def get(self, path: str, **kwargs: object):  # type: ignore[no-untyped-def]
        response = self.client.get(path, **kwargs)
        found = _CSRF.search(response.get_data(as_text=True))
        if found:
            self.csrf = found.group(1)
        return response

    def post(self, path: str, data: dict[str, str] | None = None, *, csrf: bool = True,
             origin: str | None = ORIGIN, headers: dict[str, str] | None = None,
             **kwargs: object):  # type: ignore[no-untyped-def]
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf
        sent = dict(headers or {})
        if origin is not None:
            sent["Origin"] = origin
        return self.client.post(path, data=form, headers=sent, **kwargs)

    def device_client(self):  # type: ignore[no-untyped-def]
        """The SDK client the app holds (white box: to set up what other members do)."""
        return self.app.extensions["vault_device"].client()


def admitted_client(admin: Browser, gid: str, home: Path, display_name: str) -> Client:
    """Another member (an SDK client in *home*), joined by a pre-authorised invite that
    *admin*'s device makes, and synced once *admin*'s device has granted the key."""
    invite = admin.device_client().create_invite(gid, require_approval=False)
    client = Client(PASSPHRASE, home=home)
    client.join(invite.uri, display_name=display_name)
    admin.device_client().sync(gid)  # the admin's device grants the key
    client.sync(gid)
    return client


def make_settings(home: Path, relay_url: str | None = None, **kwargs: object) -> AppSettings:
    return AppSettings(home=str(home), relay_url=relay_url, port=PORT, **kwargs)  # type: ignore[arg-type]


def open_browser(settings: AppSettings) -> Browser:
    # SERVER_NAME: the test client's requests carry Host 127.0.0.1:PORT, as a browser would.
    app = create_app(settings, {"TESTING": True, "SERVER_NAME": f"127.0.0.1:{PORT}"})
    browser = Browser(app, app.test_client(), settings)
    browser.client.get(f"/open?key={settings.launch_token}")
    return browser


@pytest.fixture
def settings(tmp_path: Path) -> AppSettings:
    return make_settings(tmp_path / "home")


@pytest.fixture
def browser(settings: AppSettings) -> Iterator[Browser]:
    """A session on a new device (no keystore yet)."""
    b = open_browser(settings)
    b.get("/welcome")
    yield b
    b.app.extensions["vault_device"].shutdown()


@pytest.fixture
def unlocked(browser: Browser) -> Browser:
    """A session on a device whose keystore was just created (and is open)."""
    response = browser.post("/welcome", {"passphrase": PASSPHRASE, "confirm": PASSPHRASE})
    assert response.status_code == 303, response.get_data(as_text=True)
    browser.get("/")
    return browser


@pytest.fixture(scope="module")
def chrome() -> Iterator[ChromeBrowser]:
    """Debian's Chromium, driven by Playwright, for a module's browser tests."""
    from tests.browser import chromium

    with chromium() as launched:
        yield launched
