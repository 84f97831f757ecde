"""What must be let go of without waiting for anything: a live stream's slot and thread when
its body is never sent (HEAD, a client gone before the first byte), and the invite secrets
kept for the page that shows them once, at the moment the keystore locks. Flask's test
client, against the real relay process (a group is needed)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from vault_app.views import live
from vault_app.views.invites import NEW_INVITES
from werkzeug.test import EnvironBuilder

from tests.app.conftest import ORIGIN, PASSPHRASE, PORT, Browser, make_settings, open_browser
from tests.relayproc import RelayProcess


@pytest.fixture
def ann(relay: RelayProcess, tmp_path: Path) -> Iterator[Browser]:
    """A member with a new device, unlocked, on the test relay."""
    browser = open_browser(make_settings(tmp_path / "ann", relay.url))
    browser.get("/welcome")
    response = browser.post("/welcome", {"passphrase": PASSPHRASE, "confirm": PASSPHRASE})
    assert response.status_code == 303, response.get_data(as_text=True)
    browser.get("/")
    yield browser
    browser.app.extensions["vault_device"].shutdown()


def create_group(owner: Browser) -> str:
    owner.get("/groups/new")
    response = owner.post("/groups/new", {"name": "Tuesday circle", "display_name": "Ann",
                                          "relay": owner.settings.relay_url or ""})
    assert response.status_code == 303, response.get_data(as_text=True)
    return str(response.headers["Location"]).rstrip("/").rsplit("/", 1)[-1]


def live_threads() -> set[threading.Thread]:
    return {t for t in threading.enumerate() if t.name == "vault-live"}


def free_slots() -> int:
    return live._open_streams._value  # type: ignore[attr-defined] # white box


def test_head_and_unsent_streams_hold_no_slot_and_start_no_thread(ann: Browser) -> None:
    gid = create_group(ann)
    url = f"/groups/{gid}/live"
    slots, threads = free_slots(), live_threads()
    for _ in range(live.MAX_STREAMS + 2):
        response = ann.client.head(url)
        assert response.status_code == 405 and response.headers["Allow"] == "GET"
    # A response made and closed without its body ever being sent (the client went away).
    # Straight through WSGI: the test client would read the first piece of the body.
    environ = EnvironBuilder(path=url, base_url=ORIGIN).get_environ()
    cookie = ann.client.get_cookie(f"vault_app_{PORT}", domain="127.0.0.1")
    assert cookie is not None
    environ["HTTP_COOKIE"] = f"{cookie.key}={cookie.value}"
    started: list[str] = []
    body = ann.app(environ, lambda status, headers, exc_info=None: started.append(status))
    assert started == ["200 OK"]
    body.close()  # type: ignore[attr-defined]
    assert free_slots() == slots
    assert live_threads() == threads

    # ...and a real stream still gets a slot: it says how soon to come back, then waits
    response = ann.client.get(url, buffered=False)
    body = iter(response.response)
    first = next(body)
    assert (first.decode() if isinstance(first, bytes) else first) == "retry: 5000\n\n"
    assert free_slots() == slots - 1
    assert len(live_threads() - threads) == 1
    response.close()
    assert free_slots() == slots  # given back when the browser goes away


def test_lock_now_forgets_the_invite_secrets_at_once(ann: Browser) -> None:
    gid = create_group(ann)
    ann.get(f"/groups/{gid}/invites")
    response = ann.post(f"/groups/{gid}/invites", {"max_uses": "3", "expires": "7d",
                                                   "approval": "on", "history": "current"})
    assert response.status_code == 303, response.get_data(as_text=True)
    store = ann.app.extensions["vault_shown_once"][NEW_INVITES]
    assert store._by_session  # white box: the new invite, kept for the page that shows it
    ann.get("/settings")
    assert ann.post("/lock").status_code == 303
    assert store._by_session == {}  # without waiting for another request
