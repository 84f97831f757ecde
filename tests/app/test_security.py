"""The app's defences against the rest of the machine (DESIGN §7): the launch secret and
session cookie, Host (DNS rebinding), Origin and CSRF checks, the security headers, and
locking. Flask's test client, no relay: nothing here needs one."""

from __future__ import annotations

import html
import os
import re
import stat
import threading
import time
import webbrowser
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlsplit

import pytest
from vault_app import AppSettings, create_app, serve
from vault_app.security import CONTENT_SECURITY_POLICY, BrowserTicket, PrefixMount
from werkzeug.test import Client as WsgiClient

from tests.app.conftest import ORIGIN, PASSPHRASE, PORT, Browser, open_browser

HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Cache-Control": "no-store",
}


def keystore_exists(settings: AppSettings) -> bool:
    return os.path.exists(os.path.join(settings.home, "keystore.vault"))


# --- the launch secret and the session --------------------------------------------------------


def test_launch_key_becomes_a_strict_httponly_cookie_and_leaves_the_address(
        settings: AppSettings) -> None:
    app = create_app(settings, {"TESTING": True, "SERVER_NAME": f"127.0.0.1:{PORT}"})
    client = app.test_client()
    response = client.get(f"/open?key={settings.launch_token}")
    assert response.status_code == 303
    assert response.headers["Location"] == "/"  # the secret is out of the address bar
    cookie = response.headers["Set-Cookie"]
    name, value = cookie.split(";")[0].split("=", 1)
    assert name == f"vault_app_{PORT}"
    assert value and settings.launch_token not in cookie  # a separate random session id
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert {"httponly", "samesite=strict", "path=/"} <= attributes
    assert client.get("/").status_code != 403  # the cookie opens the app


@pytest.mark.parametrize("key", ["", "wrong", "x" * 43])
def test_a_wrong_launch_key_gets_no_session(settings: AppSettings, key: str) -> None:
    app = create_app(settings, {"TESTING": True, "SERVER_NAME": f"127.0.0.1:{PORT}"})
    client = app.test_client()
    response = client.get(f"/open?key={key}")
    assert response.status_code == 403
    assert "Set-Cookie" not in response.headers
    assert "vault app" in response.get_data(as_text=True)  # tells the person what to use
    assert client.get("/").status_code == 403


def test_the_browser_ticket_works_once(settings: AppSettings) -> None:
    """The address given to the browser (visible on a command line) is good for one use."""
    app = create_app(settings, {"TESTING": True, "SERVER_NAME": f"127.0.0.1:{PORT}"})
    first, second = app.test_client(), app.test_client()
    assert first.get(f"/open?key={settings.browser_ticket}").status_code == 303
    assert second.get(f"/open?key={settings.browser_ticket}").status_code == 403
    # ...while the printed address keeps working for the launch
    assert second.get(f"/open?key={settings.launch_token}").status_code == 303


@pytest.mark.parametrize("path", ["/", "/welcome", "/unlock", "/settings", "/wipe",
                                  "/groups/new", "/groups/abc", "/groups/abc/live"])
def test_every_page_needs_the_session_cookie(settings: AppSettings, path: str) -> None:
    app = create_app(settings, {"TESTING": True, "SERVER_NAME": f"127.0.0.1:{PORT}"})
    response = app.test_client().get(path)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "/open?key=" in page and "vault app" in page


def test_a_write_without_the_session_changes_nothing(unlocked: Browser) -> None:
    stranger = unlocked.app.test_client()  # same app, no cookie
    response = stranger.post("/wipe", data={"csrf_token": unlocked.csrf},
                             headers={"Origin": ORIGIN})
    assert response.status_code == 403
    assert keystore_exists(unlocked.settings)


def test_another_launch_cookie_does_not_open_this_one(settings: AppSettings,
                                                      tmp_path: Path) -> None:
    """Sessions belong to one launch: a restart needs the new printed address."""
    old = open_browser(settings)
    cookie = old.client.get_cookie(f"vault_app_{PORT}", domain="127.0.0.1")
    assert cookie is not None
    again = create_app(AppSettings(home=settings.home, port=PORT),
                       {"TESTING": True, "SERVER_NAME": f"127.0.0.1:{PORT}"}).test_client()
    again.set_cookie(f"vault_app_{PORT}", cookie.value, domain="127.0.0.1")
    assert again.get("/").status_code == 403


# --- Host: DNS rebinding -----------------------------------------------------------------------


@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1",
                                  "localhost", f"127.0.0.1:{PORT + 1}", f"127.0.0.2:{PORT}",
                                  f"[::1]:{PORT}", f"127.0.0.1:{PORT}.evil.example"])
def test_a_wrong_host_is_refused_even_with_session_and_key(unlocked: Browser,
                                                           host: str) -> None:
    for path in ("/", f"/open?key={unlocked.settings.launch_token}", "/static/app.js"):
        response = unlocked.client.get(path, headers={"Host": host})
        assert response.status_code == 400, (host, path)
        assert "Set-Cookie" not in response.headers
        # a DNS-rebinding page reads this answer: it must not say "Vault"
        assert "vault" not in response.get_data(as_text=True).lower()
    response = unlocked.post("/lock", headers={"Host": host})
    assert response.status_code == 400
    assert unlocked.app.extensions["vault_device"].unlocked  # nothing happened


def test_localhost_with_the_port_is_accepted(unlocked: Browser) -> None:
    response = unlocked.client.get(f"/open?key={unlocked.settings.launch_token}",
                                   headers={"Host": f"localhost:{PORT}"})
    assert response.status_code == 303 and "Set-Cookie" in response.headers


# --- writes: Origin and CSRF -------------------------------------------------------------------


@pytest.mark.parametrize("headers", [
    {"Origin": "http://evil.example"},
    {"Origin": f"http://127.0.0.1:{PORT + 1}"},
    {"Origin": f"http://evil.example:{PORT}"},
    {"Origin": "null", "Sec-Fetch-Site": "cross-site"},
    {"Origin": "null"},                               # a sandboxed page, no fetch metadata
    {"Sec-Fetch-Site": "same-site"},
    {"Referer": "http://evil.example/page"},
    {},                                               # nothing says where it came from
])
def test_a_cross_origin_write_is_refused_and_changes_nothing(unlocked: Browser,
                                                             headers: dict[str, str]) -> None:
    response = unlocked.post("/wipe", origin=None, headers=headers)  # with the right token
    assert response.status_code == 403
    assert keystore_exists(unlocked.settings)
    response = unlocked.post("/lock", origin=None, headers=headers)
    assert response.status_code == 403
    assert unlocked.app.extensions["vault_device"].unlocked


@pytest.mark.parametrize("headers", [
    {"Origin": ORIGIN},
    {"Origin": f"http://localhost:{PORT}"},
    {"Origin": "null", "Sec-Fetch-Site": "same-origin"},  # our own form under no-referrer
    {"Referer": f"{ORIGIN}/settings"},
])
def test_a_same_origin_write_with_the_token_is_taken(unlocked: Browser,
                                                     headers: dict[str, str]) -> None:
    response = unlocked.post("/lock", origin=None, headers=headers)
    assert response.status_code == 303
    assert not unlocked.app.extensions["vault_device"].unlocked


@pytest.mark.parametrize("token", [None, "", "wrong"])
def test_a_write_without_the_csrf_token_is_refused(unlocked: Browser,
                                                   token: str | None) -> None:
    data = {} if token is None else {"csrf_token": token}
    response = unlocked.post("/wipe", data, csrf=False)
    assert response.status_code == 403
    assert keystore_exists(unlocked.settings)


def test_the_csrf_token_is_per_session(unlocked: Browser) -> None:
    other = open_browser(unlocked.settings)
    other.app = unlocked.app
    other.client = unlocked.app.test_client()
    other.client.get(f"/open?key={unlocked.settings.launch_token}")
    response = other.post("/wipe", {"csrf_token": unlocked.csrf + "x"}, csrf=False)
    assert response.status_code == 403
    other.get("/settings")
    assert other.csrf and other.csrf != unlocked.csrf
    response = other.post("/lock", {"csrf_token": unlocked.csrf}, csrf=False)
    assert response.status_code == 403


def test_the_htmx_header_carries_the_token(browser: Browser) -> None:
    response = browser.post("/passphrase-strength", {"passphrase": "abc"}, csrf=False,
                            headers={"X-CSRF-Token": browser.csrf, "HX-Request": "true"})
    assert response.status_code == 200
    assert "Too easy to guess" in response.get_data(as_text=True)


# --- headers -----------------------------------------------------------------------------------


def test_security_headers_on_every_kind_of_response(unlocked: Browser,
                                                    settings: AppSettings) -> None:
    stranger = create_app(settings, {"TESTING": True, "SERVER_NAME": f"127.0.0.1:{PORT}"}
                          ).test_client()
    responses = [
        unlocked.client.get("/"),                                 # a page
        unlocked.client.get("/static/app.js"),                    # a static file
        unlocked.client.get("/static/vendor/htmx-2.0.4.min.js"),
        unlocked.client.get("/groups/nothing-here"),              # a 404
        unlocked.client.get("/", headers={"Host": "evil.example"}),  # a 400
        stranger.get("/"),                                        # a 403
        stranger.get(f"/open?key={settings.launch_token}"),       # the redirect
        unlocked.post("/lock", csrf=False),                       # a refused write
    ]
    for response in responses:
        for name, value in HEADERS.items():
            assert response.headers.get(name) == value, (response.request.path, name)


def test_pages_have_no_inline_script_or_style(unlocked: Browser) -> None:
    """The CSP forbids them; a page that had one would break, so none may."""
    import re

    for path in ("/", "/settings", "/wipe", "/groups/new"):
        page = unlocked.get(path).get_data(as_text=True)
        for tag in re.findall(r"<script\b[^>]*>", page):
            assert "src=" in tag, (path, tag)
        assert "<style" not in page and " style=" not in page
        assert not re.search(r"\son[a-z]+=", page), path


# --- the keystore: creating, unlocking, locking ------------------------------------------------


def test_first_run_refuses_different_passphrases(browser: Browser) -> None:
    response = browser.post("/welcome", {"passphrase": PASSPHRASE, "confirm": PASSPHRASE + "x"})
    assert response.status_code == 422
    assert "not the same" in response.get_data(as_text=True)
    assert not keystore_exists(browser.settings)


def test_first_run_refuses_a_guessable_passphrase_in_the_sdk_words(browser: Browser) -> None:
    response = browser.post("/welcome", {"passphrase": "password1", "confirm": "password1"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "too easy to guess" in page             # the SDK's sentence...
    assert "Too easy to guess." in page            # ...and the strength shown
    assert "PassphraseRejectedError" not in page
    assert not keystore_exists(browser.settings)


def test_first_run_creates_the_keystore_then_unlocking_needs_the_passphrase(
        unlocked: Browser) -> None:
    assert keystore_exists(unlocked.settings)
    unlocked.post("/lock")
    response = unlocked.client.get("/")
    assert response.status_code == 303 and response.headers["Location"].startswith("/unlock")
    unlocked.get("/unlock")
    response = unlocked.post("/unlock", {"passphrase": "not the passphrase at all"})
    page = response.get_data(as_text=True)
    assert response.status_code == 422
    assert "does not open Vault" in page and "KeystoreLockedError" not in page
    response = unlocked.post("/unlock", {"passphrase": PASSPHRASE, "next": "//evil.example/"})
    assert response.status_code == 303 and response.headers["Location"] == "/"
    assert unlocked.client.get("/").status_code == 200


@pytest.mark.parametrize("target", ["//evil.example/", "/\t/evil.example/x", "/\n/evil.example",
                                    "/ /evil.example", "/\\evil.example", "https://evil.example/",
                                    "/x\x7f"])
def test_unlocking_never_sends_the_person_to_another_site(unlocked: Browser,
                                                          target: str) -> None:
    unlocked.post("/lock")
    unlocked.get("/unlock")
    response = unlocked.post("/unlock", {"passphrase": PASSPHRASE, "next": target})
    assert response.status_code == 303 and response.headers["Location"] == "/"


def test_lock_now_closes_the_client(unlocked: Browser) -> None:
    client = unlocked.device_client()
    assert unlocked.post("/lock").status_code == 303
    assert not unlocked.app.extensions["vault_device"].unlocked
    from vault_client.errors import VaultError

    with pytest.raises(VaultError):
        client.groups()  # the keys are gone from the client the app held


def test_idle_time_locks_and_the_live_feed_does_not_count_as_activity(
        unlocked: Browser) -> None:
    device = unlocked.app.extensions["vault_device"]
    now = [1000.0]
    device._clock = lambda: now[0]
    device.touch()
    now[0] += 14 * 60
    unlocked.client.get("/groups/x/feed")  # a passive request (the live feed)
    now[0] += 2 * 60                      # 16 minutes since the person did anything
    response = unlocked.client.get("/settings")
    assert not device.unlocked
    assert response.status_code == 200
    assert unlocked.client.get("/").status_code == 303  # to the unlock page


def test_panic_wipe_asks_once_then_destroys_everything(unlocked: Browser) -> None:
    home = Path(unlocked.settings.home)
    (home / "app-seen.json").write_text('{"version": 1, "groups": {}}')
    page = unlocked.get("/wipe")
    assert page.status_code == 200 and keystore_exists(unlocked.settings)  # only asks
    response = unlocked.post("/wipe")
    assert response.status_code == 200
    assert "Everything on this device is gone" in response.get_data(as_text=True)
    assert not home.exists() or not any(home.iterdir())
    assert not unlocked.app.extensions["vault_device"].unlocked
    # what comes next is a first run
    assert unlocked.client.get("/").headers["Location"].endswith("/welcome")


def test_panic_wipe_works_while_locked(unlocked: Browser) -> None:
    unlocked.post("/lock")
    assert unlocked.get("/settings").status_code == 200
    assert unlocked.post("/wipe").status_code == 200
    assert not keystore_exists(unlocked.settings)


# --- the secret path prefix: the cookie goes to no other server on 127.0.0.1 -------------------

_URLS = re.compile(r'\s(?:href|src|action|data-[a-z-]*url)="([^"]*)"')
_STATUS_META = re.compile(r'<meta name="vault-status" content="([^"]+)">')


def served(settings: AppSettings) -> tuple[WsgiClient, str]:
    """The app as serve.py mounts it (under the launch's prefix), and that prefix's path."""
    app = create_app(settings, {"TESTING": True})
    return WsgiClient(PrefixMount(app, settings.url_prefix)), f"/{settings.url_prefix}"


def get(client: WsgiClient, path: str):  # type: ignore[no-untyped-def]
    return client.get(path, base_url=ORIGIN)


def post(client: WsgiClient, path: str, page: str, data: dict[str, str]):  # type: ignore[no-untyped-def]
    token = re.search(r'<meta name="csrf-token" content="([^"]+)">', page)
    assert token, page
    return client.post(path, base_url=ORIGIN, headers={"Origin": ORIGIN},
                       data={**data, "csrf_token": token.group(1)})


@pytest.mark.parametrize("path", ["/", "/open?key={key}", "/static/app.js", "/welcome",
                                  "/groups/abc", "/{prefix}x/open?key={key}",
                                  "/x/{prefix}/open?key={key}"])
def test_outside_the_secret_prefix_there_is_only_a_bare_404(settings: AppSettings,
                                                            path: str) -> None:
    client, _ = served(settings)
    response = get(client, path.format(key=settings.launch_token, prefix=settings.url_prefix))
    assert response.status_code == 404
    assert response.get_data() == b"Not Found"  # no page, no name: nothing says "Vault"
    assert "Set-Cookie" not in response.headers
    assert response.headers["Content-Type"].startswith("text/plain")


def test_the_session_cookie_is_scoped_to_the_secret_prefix_and_every_link_keeps_it(
        settings: AppSettings) -> None:
    assert len(settings.url_prefix) >= 22  # 16 random bytes
    assert AppSettings(home=settings.home).url_prefix != settings.url_prefix  # per launch
    client, prefix = served(settings)
    assert settings.open_url == f"{ORIGIN}{prefix}/open?key={settings.launch_token}"
    response = get(client, f"{prefix}/open?key={settings.launch_token}")
    assert response.status_code == 303
    assert response.headers["Location"] == f"{prefix}/"
    cookie = response.headers["Set-Cookie"]
    attributes = {part.strip().lower() for part in cookie.split(";")[1:]}
    assert f"path={prefix.lower()}/" in attributes
    assert {"httponly", "samesite=strict"} <= attributes
    assert get(client, prefix).headers["Location"] == f"{prefix}/"  # the cookie's own path

    # first run, through the mounted app
    page = get(client, f"{prefix}/welcome").get_data(as_text=True)
    response = post(client, f"{prefix}/welcome", page,
                    {"passphrase": PASSPHRASE, "confirm": PASSPHRASE})
    assert response.status_code == 303 and response.headers["Location"] == f"{prefix}/"
    for path in ("/", "/settings", "/wipe", "/join", "/groups/new"):
        response = get(client, prefix + path)
        assert response.status_code == 200, path
        page = response.get_data(as_text=True)
        urls = [html.unescape(url) for url in _URLS.findall(page)]
        assert urls and any("static/app.js" in url for url in urls)
        for url in urls:
            assert url.startswith(f"{prefix}/") or url.startswith("#"), (path, url)
        assert _STATUS_META.search(page).group(1) == f"{prefix}/status"  # type: ignore[union-attr]

    # locked, a page sends to the unlock page and back to itself, under the prefix
    page = get(client, f"{prefix}/settings").get_data(as_text=True)
    assert post(client, f"{prefix}/lock", page, {}).status_code == 303
    response = get(client, f"{prefix}/groups/new")
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{prefix}/unlock?next=")
    page = get(client, response.headers["Location"]).get_data(as_text=True)
    next_field = re.search(r'name="next" value="([^"]*)"', page)
    assert next_field and html.unescape(next_field.group(1)).startswith(f"{prefix}/groups/new")
    response = post(client, f"{prefix}/unlock", page,
                    {"passphrase": PASSPHRASE, "next": html.unescape(next_field.group(1))})
    assert response.status_code == 303
    assert response.headers["Location"].startswith(f"{prefix}/groups/new")


# --- the browser's one-use ticket, through a private file ---------------------------------------


def test_the_browser_opens_a_private_file_whose_ticket_works_once_even_in_a_race(
        settings: AppSettings, monkeypatch: pytest.MonkeyPatch) -> None:
    opened: list[str] = []
    called = threading.Event()

    def fake_open(url: str, *args: object, **kwargs: object) -> bool:
        opened.append(url)
        called.set()
        return True

    monkeypatch.setattr(webbrowser, "open", fake_open)
    app = create_app(settings, {"TESTING": True, "SERVER_NAME": f"127.0.0.1:{PORT}"})
    page = serve.open_browser_on(settings, app.extensions["vault_browser_ticket"])
    try:
        assert called.wait(30)
        [url] = opened
        # What a command line shows (xdg-open's, the browser's): no secret at all.
        assert url.startswith("file://") and "key" not in url
        assert settings.browser_ticket not in url and settings.launch_token not in url
        path = Path(unquote(urlsplit(url).path))
        assert path.is_file()
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
        refresh = re.search(r'http-equiv="refresh" content="0;url=([^"]+)"', path.read_text())
        assert refresh
        target = html.unescape(refresh.group(1))
        assert target == settings.browser_url
        key = parse_qs(urlsplit(target).query)["key"][0]

        # Two requests race with the ticket: exactly one gets a session.
        start = threading.Barrier(2)
        statuses: list[int] = []

        def redeem() -> None:
            client = app.test_client()
            start.wait()
            statuses.append(client.get(f"/open?key={key}").status_code)

        racers = [threading.Thread(target=redeem) for _ in range(2)]
        for racer in racers:
            racer.start()
        for racer in racers:
            racer.join()
        assert sorted(statuses) == [303, 403]
        assert not path.exists() and not path.parent.exists()  # gone once used
        assert app.test_client().get(f"/open?key={key}").status_code == 403
    finally:
        page.remove()


def test_the_ticket_is_spent_atomically_and_expires() -> None:
    now = [0.0]

    def slow_clock() -> float:
        # Reading the clock hands the processor to the other racers (inside the check):
        # without the lock, several would see the ticket unused.
        time.sleep(0.01)
        return now[0]

    ticket = BrowserTicket("secret", seconds=300, clock=slow_clock)
    spent: list[str] = []
    ticket.on_spent(lambda: spent.append("file removed"))
    assert not ticket.redeem("wrong") and not spent
    results: list[bool] = []
    start = threading.Barrier(8)

    def redeem() -> None:
        start.wait()
        results.append(ticket.redeem("secret"))

    racers = [threading.Thread(target=redeem) for _ in range(8)]
    for racer in racers:
        racer.start()
    for racer in racers:
        racer.join()
    assert sorted(results) == [False] * 7 + [True]
    assert spent == ["file removed"]
    late = BrowserTicket("secret", seconds=300, clock=lambda: now[0])
    now[0] += 300
    assert not late.redeem("secret")  # past its life


def test_the_browser_file_is_removed_at_the_end_of_its_life(settings: AppSettings) -> None:
    page = serve.BrowserFile(settings)
    assert page.path.is_file() and settings.browser_ticket in page.path.read_text()
    page.remove()  # what the ticket's timer (and the server's exit) do
    page.remove()  # idempotent
    assert not page.folder.exists()


# --- a lock leaves every page ----------------------------------------------------------------


def test_status_tells_locked_from_unlocked_and_is_not_activity(unlocked: Browser) -> None:
    device = unlocked.app.extensions["vault_device"]
    now = [1000.0]
    device._clock = lambda: now[0]
    device.touch()
    response = unlocked.client.get("/status")
    assert response.status_code == 204 and not response.get_data()
    assert response.headers["Cache-Control"] == "no-store"
    now[0] += 14 * 60
    assert unlocked.client.get("/status").status_code == 204  # does not count as activity...
    now[0] += 2 * 60
    response = unlocked.client.get("/status")                 # ...so 16 minutes lock it
    assert response.status_code == 200
    assert response.get_json() == {"locked": True, "location": "/unlock"}
    assert not device.unlocked
    unlocked.get("/unlock")
    unlocked.post("/unlock", {"passphrase": PASSPHRASE})
    assert unlocked.client.get("/status").status_code == 204
    unlocked.get("/settings")
    unlocked.post("/lock")                                    # Lock now (in any tab)
    assert unlocked.client.get("/status").get_json()["locked"] is True
    assert unlocked.app.test_client().get("/status").status_code == 403  # needs the session


def test_every_page_shown_unlocked_watches_for_the_lock(unlocked: Browser) -> None:
    for path in ("/", "/settings", "/wipe", "/join", "/groups/new"):
        page = unlocked.get(path).get_data(as_text=True)
        assert '<script src="/static/app.js" defer></script>' in page, path
        assert _STATUS_META.search(page).group(1) == "/status", path  # type: ignore[union-attr]
    unlocked.post("/lock")
    page = unlocked.get("/unlock").get_data(as_text=True)
    assert '<script src="/static/app.js"' in page
    assert not _STATUS_META.search(page)  # the unlock page itself does not leave
    script = unlocked.client.get("/static/app.js").get_data(as_text=True)
    for piece in ('meta[name="vault-status"]', "visibilitychange", "STATUS_EVERY_MS = 15000",
                  "window.location.replace(", 'BroadcastChannel("vault")', "event.persisted"):
        assert piece in script, piece
