"""GET /join: the page an invite's QR code opens (vault/api/blueprints/join.py).

What it must hold to (issue 11): strict headers, nothing from another origin, a script that
reads the invite from the fragment and sends it nowhere; and, end to end in real Chromium
against a real relay process, the invite's secret reaches none of the relay's output while
the page shows the whole link to copy.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import pytest
from playwright.sync_api import Browser, Request, expect
from vault_client import Client

from tests.api.helpers import Api
from tests.browser import browser  # noqa: F401 - the fixture, used by the browser tests
from tests.relayproc import RelayProcess
from vault.api.blueprints.join import ASSETS
from vault.api.openapi import build_document
from vault.crypto.encoding import b64encode
from vault.crypto.invites import parse_invite_uri

ROOT = Path(__file__).resolve().parents[2]
SCREENSHOT = ROOT / "docs" / "screenshots" / "join-page.png"
EXPECTED_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; "
        "base-uri 'none'; form-action 'none'; frame-ancestors 'none'"),
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}
# Anything in the script that could carry the fragment out of the page.
FORBIDDEN_JS = [
    r"\bfetch\b", r"XMLHttpRequest", r"sendBeacon", r"WebSocket", r"EventSource",
    r"\blocation\s*=", r"\.submit\s*\(", r"location\.(?:assign|replace|href\s*=)",
    r"window\.open", r"\bhistory\.(?!replaceState\(null, \"\", window\.location\.pathname\);)",
    r"postMessage", r"\bimport\s*\(", r"\.src\s*=",
    r"\.href\s*=", r"\.action\s*=", r"createElement", r"innerHTML", r"\beval\b",
    r"new\s+Function", r"\bImage\s*\(",
]
URL_ATTRIBUTES = {"src", "href", "action", "formaction", "poster", "srcset", "data",
                  "background", "cite", "longdesc", "manifest", "ping", "xlink:href"}
PAGE_HOST = "http://relay.test/join"


@pytest.fixture(scope="module")
def backend() -> str:
    """A static page: one backend is enough (the relay's other tests run on both)."""
    return "sqlite"


class Tags(HTMLParser):
    """Every start tag with its attributes, and the text inside each <script> and <style>."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.inline: list[str] = []
        self._open: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))
        self._open = tag if tag in ("script", "style") else None

    def handle_endtag(self, tag: str) -> None:
        self._open = None

    def handle_data(self, data: str) -> None:
        if self._open and data.strip():
            self.inline.append(f"<{self._open}>{data.strip()[:40]}")


def parse(html: str) -> Tags:
    tags = Tags()
    tags.feed(html)
    tags.close()
    return tags


def test_page_and_assets_are_served_with_strict_headers(api: Api) -> None:
    page = api.get("/join")
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    types = {"join.css": "text/css", "join.js": "text/javascript", "icon.svg": "image/svg+xml"}
    assert set(types) == set(ASSETS)
    responses = [("/join", page)] + [(f"/join/assets/{name}", api.get(f"/join/assets/{name}"))
                                     for name in types]
    for path, response in responses:
        assert response.status_code == 200, path
        for name, value in EXPECTED_HEADERS.items():
            assert response.headers.get(name) == value, (path, name)
        assert response.headers.get_all("Content-Security-Policy") == [
            EXPECTED_HEADERS["Content-Security-Policy"]], path
        if path != "/join":
            assert response.mimetype == types[path.rsplit("/", 1)[1]], path
            assert response.data


def test_only_the_listed_assets_are_served(api: Api) -> None:
    for path in ("/join/assets/index.html", "/join/assets/nope.js", "/join/assets/..%2findex.html",
                 "/join/assets/../blueprints/join.py", "/join/", "/join/assets/"):
        response = api.get(path)
        assert response.status_code == 404, path
        assert response.get_json()["error"]["code"] == "not_found", path


def test_the_page_loads_nothing_from_another_origin_and_has_no_inline_code(api: Api) -> None:
    html = api.get("/join").get_data(as_text=True)
    tags = parse(html)
    assert tags.inline == []  # the CSP would refuse inline script and style anyway
    referenced = []
    for tag, attrs in tags.tags:
        assert "style" not in attrs, tag
        assert not [name for name in attrs if name.startswith("on")], (tag, attrs)
        for name, value in attrs.items():
            if name not in URL_ATTRIBUTES or value is None:
                continue
            target = urlsplit(urljoin(PAGE_HOST, value))
            assert (target.scheme, target.netloc) == ("http", "relay.test"), (tag, name, value)
            assert not urlsplit(value).scheme and not value.startswith("//"), value  # relative
            referenced.append(target.path)
    # Each thing it references is one the relay serves (relative, so under a path prefix too).
    assert sorted(set(referenced)) == sorted(f"/join/assets/{name}" for name in ASSETS)
    for path in referenced:
        assert api.get(path).status_code == 200, path
    css = api.get("/join/assets/join.css").get_data(as_text=True)
    assert "url(" not in css and "@import" not in css


def test_the_page_is_accessible_on_its_face(api: Api) -> None:
    html = api.get("/join").get_data(as_text=True)
    tags = parse(html)
    by_name: dict[str, list[dict[str, Any]]] = {}
    for tag, attrs in tags.tags:
        by_name.setdefault(tag, []).append(attrs)
    assert by_name["html"][0].get("lang") == "en"
    assert {"name": "viewport", "content": "width=device-width, initial-scale=1"} in by_name["meta"]
    assert len(by_name["h1"]) == 1 and len(by_name["h2"]) >= 2
    field = by_name["textarea"][0]
    assert "readonly" in field
    assert {"for": field["id"]} in by_name["label"]
    assert [b["id"] for b in by_name["button"]] == ["copy"]
    assert "Open in the Vault app on this computer" in html
    assert "pip install '.[app]'" in html and "vault app" in html
    assert "pip install 'vault" not in html  # that name on PyPI is someone else's software
    assert "address bar" in html  # without the script: copy the address itself
    assert all("alt" in img for img in by_name["img"])
    css = api.get("/join/assets/join.css").get_data(as_text=True)
    assert ":focus-visible" in css


def test_the_script_sends_the_fragment_nowhere(api: Api) -> None:
    script = api.get("/join/assets/join.js").get_data(as_text=True)
    assert "location.hash" in script  # it does read the invite (so this test reads the right file)
    for pattern in FORBIDDEN_JS:  # comments included: none needs these words
        assert not re.search(pattern, script), pattern


def test_the_page_is_not_part_of_the_api_document() -> None:
    paths = build_document()["paths"]
    assert paths and all(path.startswith("/v1/") for path in paths)


# --- in a real browser, against a real relay process ---------------------------------------


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    # INFO: the access log is on, so a request carrying the secret would be written.
    process = RelayProcess(tmp_path_factory.mktemp("relay") / "data", log_level="INFO")
    yield process
    process.stop()


@pytest.fixture(scope="module")
def invite(relay: RelayProcess, tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real invite's URI, made by an admin's SDK on the relay."""
    home = tmp_path_factory.mktemp("ann")
    with Client("correct horse battery staple ann", home=home, relay_url=relay.url) as ann:
        gid = ann.create_group("Circle", display_name="Ann").group_id
        return ann.create_invite(gid).uri


def recorder(requests: list[dict[str, Any]]) -> Any:
    def record(request: Request) -> None:
        requests.append({"url": request.url, "method": request.method,
                         "headers": request.all_headers(), "body": request.post_data})
    return record


@pytest.mark.slow
def test_a_scanned_invite_shows_its_link_and_never_reaches_the_relay(
        browser: Browser, relay: RelayProcess, invite: str) -> None:  # noqa: F811
    link = parse_invite_uri(invite)
    secret = b64encode(link.secret)
    fragment = invite.split("#", 1)[1]
    assert invite.startswith(f"{relay.url}/join#") and fragment.endswith(secret)

    context = browser.new_context(permissions=["clipboard-read", "clipboard-write"],
                                  viewport={"width": 412, "height": 900})
    requests: list[dict[str, Any]] = []
    problems: list[str] = []
    context.on("request", recorder(requests))
    try:
        page = context.new_page()
        page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
        page.on("pageerror", lambda error: problems.append(str(error)))
        page.goto(invite)
        field = page.get_by_label("Your invite link")
        expect(field).to_have_value(invite)
        expect(page.locator("#no-invite")).to_be_hidden()
        expect(page.get_by_text("address bar")).to_be_hidden()
        page.get_by_role("button", name="Open in the Vault app on this computer").click()
        expect(page.get_by_role("status")).to_contain_text("Join a group")
        assert page.evaluate("navigator.clipboard.readText()") == invite
        # the invite is out of the address bar and the history entry (a phone someone else
        # may look through), and still in the page
        assert page.url == f"{relay.url}/join"
        expect(field).to_have_value(invite)
        page.wait_for_load_state("networkidle")
        if os.environ.get("VAULT_SCREENSHOTS") == "1":
            SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
            page.screenshot(path=str(SCREENSHOT), full_page=True)
    finally:
        context.close()
    assert problems == []  # no script error, and no CSP violation (Chromium reports those)

    # What the browser sent: the page and its three files from the relay, nothing else.
    sent = {urlsplit(r["url"]).path for r in requests}
    assert sent == {"/join", *(f"/join/assets/{name}" for name in ASSETS)}, sent
    for request in requests:
        assert request["url"].startswith(f"{relay.url}/join"), request["url"]
        assert request["method"] == "GET" and not urlsplit(request["url"]).query
        assert secret not in repr(request), request
        assert "referer" not in request["headers"]

    relay.stop()  # everything it wrote is on disk
    relay.start()
    output = relay.output().decode(errors="replace")
    assert '"path":"/join"' in output  # the access log was on and saw the page load
    assert secret not in output and fragment not in output
    for path in relay.logs.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


@pytest.mark.slow
def test_without_an_invite_or_without_javascript_the_page_still_says_what_to_do(
        browser: Browser, relay: RelayProcess, invite: str) -> None:  # noqa: F811
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(f"{relay.url}/join")
        expect(page.locator("#no-invite")).to_be_visible()
        expect(page.locator("#has-invite")).to_be_hidden()
    finally:
        context.close()
    context = browser.new_context(java_script_enabled=False)
    try:
        page = context.new_page()
        page.goto(invite)
        expect(page.get_by_text("address bar")).to_be_visible()
        expect(page.locator("#has-invite")).to_be_hidden()
        expect(page.get_by_role("heading", name="Getting the Vault app")).to_be_visible()
    finally:
        context.close()
