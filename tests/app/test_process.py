"""``vault app`` as a member starts it: a real process serving on 127.0.0.1 (waitress), the
one printed line, the checks over real HTTP, and the live stream pushing a new post from
another member to an open page."""

from __future__ import annotations

import contextlib
import queue
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
from vault_client import Client

from tests.app.appproc import OPEN_LINE, AppProcess
from tests.app.conftest import PASSPHRASE
from tests.relayproc import RelayProcess

_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


@pytest.fixture
def app(relay: RelayProcess, tmp_path: Path) -> Iterator[AppProcess]:
    process = AppProcess(tmp_path / "home", relay.url)
    process.start()
    yield process
    process.stop()


def signed_in(app: AppProcess) -> tuple[httpx.Client, str]:
    """A browser-like session: the printed address opened, the keystore created."""
    http = httpx.Client(base_url=app.base_url, timeout=30)
    response = http.get(app.open_url)
    assert response.status_code == 303
    assert response.headers["location"] == f"/{app.prefix}/"  # the app lives under its prefix
    page = http.get("/welcome").text
    csrf = _CSRF.search(page).group(1)  # type: ignore[union-attr]
    response = http.post("/welcome", data={"passphrase": PASSPHRASE, "confirm": PASSPHRASE,
                                           "csrf_token": csrf},
                         headers={"Origin": app.origin})
    assert response.status_code == 303, response.text
    return http, csrf


def test_prints_one_line_and_listens_on_loopback_only(app: AppProcess) -> None:
    lines = (app.logs / "stdout.1").read_text().splitlines()
    assert len(lines) == 1 and OPEN_LINE.fullmatch(lines[0])
    assert app.port > 0
    assert app.open_url.split("key=")[1] not in " ".join(app.proc.args)  # type: ignore[union-attr]


def test_real_server_refuses_wrong_host_missing_session_and_cross_origin(
        app: AppProcess) -> None:
    key = app.open_url.split("key=")[1]
    rebinding = httpx.get(f"{app.base_url}/open?key={key}",
                          headers={"Host": f"evil.example:{app.port}"})
    assert rebinding.status_code == 400 and "set-cookie" not in rebinding.headers
    assert httpx.get(f"{app.base_url}/").status_code == 403
    http, csrf = signed_in(app)
    cross = http.post("/lock", data={"csrf_token": csrf},
                      headers={"Origin": "http://evil.example"})
    assert cross.status_code == 403
    home = http.get("/")
    assert home.status_code == 200 and "Your groups" in home.text  # still unlocked
    for response in (rebinding, cross, home):
        assert "script-src 'self'" in response.headers["content-security-policy"]
        assert response.headers["referrer-policy"] == "no-referrer"
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["cache-control"] == "no-store"


def test_the_session_cookie_goes_to_no_other_server_on_127_0_0_1(app: AppProcess) -> None:
    """Browsers share cookies between the ports of a host: the cookie's path, the launch's
    secret prefix, is what keeps it from a server on another port."""
    assert app.base_url == f"{app.origin}/{app.prefix}" and len(app.prefix) >= 22
    outside = httpx.get(f"{app.origin}/open?key={app.open_url.split('key=')[1]}")
    assert outside.status_code == 404 and outside.text == "Not Found"
    assert "set-cookie" not in outside.headers
    http, _csrf = signed_in(app)
    [cookie] = list(http.cookies.jar)
    assert cookie.path == f"/{app.prefix}/"
    assert cookie.has_nonstandard_attr("HttpOnly")
    other_port = app.port + 1 if app.port < 65535 else app.port - 1
    for elsewhere in (f"http://127.0.0.1:{other_port}/", f"http://127.0.0.1:{other_port}/steal",
                      f"{app.origin}/", f"{app.origin}/static/app.js"):
        assert "cookie" not in http.build_request("GET", elsewhere).headers, elsewhere
    assert "cookie" in http.build_request("GET", "/settings").headers  # and it works here
    assert http.get("/settings").status_code == 200
    http.close()


def test_stops_on_sigterm(app: AppProcess) -> None:
    proc = app.proc
    app.stop()
    assert proc is not None and proc.returncode == 0


def test_a_post_by_another_member_reaches_the_open_page_live(
        app: AppProcess, relay: RelayProcess, tmp_path: Path) -> None:
    http, csrf = signed_in(app)
    response = http.post("/groups/new", data={"name": "Circle", "display_name": "Ann",
                                              "relay": relay.url, "csrf_token": csrf},
                         headers={"Origin": app.origin})
    assert response.status_code == 303, response.text
    gid = response.headers["location"].rsplit("/", 1)[1]

    # Ben joins with an invite Ann's device makes (through the SDK on Ann's home: several
    # programs may share a home), then the app syncs him in.
    with Client(PASSPHRASE, home=app.home) as ann_sdk:
        invite = ann_sdk.create_invite(gid, require_approval=False)
    ben = Client(PASSPHRASE, home=tmp_path / "ben")
    ben.join(invite.uri, display_name="Ben")
    assert http.get(f"/groups/{gid}").status_code == 200   # Ann's app grants Ben the key
    ben.sync(gid)

    events: queue.Queue[str] = queue.Queue()
    opened = threading.Event()

    def listen() -> None:
        with http.stream("GET", f"/groups/{gid}/live", timeout=60) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            opened.set()
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    events.put(line.removeprefix("event: "))
                    if line == "event: locked":
                        return

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(20)
    time.sleep(0.5)  # the stream's long-poll is in place
    ben.post(gid, "Hello from Ben")
    # The stream's first wait may also report what Ben's own sync did before he posted: an
    # update comes for each, and one of them brings the post.
    for _ in range(5):
        # a bound for a broken stream, not a speed check (benchmarks/app.py)
        assert events.get(timeout=60) == "update", app.output()
        feed = http.get(f"/groups/{gid}/feed?visible=1")
        assert 'id="feed"' in feed.text
        if "Hello from Ben" in feed.text:
            break
    assert "Hello from Ben" in feed.text
    assert "new post" not in http.get("/").text  # seen on the open page
    ben.close()

    # "Lock now" ends the open stream at once (the page then shows the unlock screen), and
    # the app still exits promptly on SIGTERM.
    while not events.empty():  # updates the stream had said before
        assert events.get() == "update"
    http.post("/lock", data={"csrf_token": csrf}, headers={"Origin": app.origin})
    listener.join(10)
    assert not listener.is_alive()
    assert list(events.queue) in (["locked"], ["update", "locked"])
    http.close()
    proc = app.proc
    app.stop()
    assert proc is not None and proc.returncode == 0


def test_sigterm_with_a_page_open_ends_its_stream_first_and_exits(
        app: AppProcess, relay: RelayProcess) -> None:
    """Closing the app (SIGTERM, Ctrl-C) while a group's page is open: the page's stream is
    told the keystore locks, and the server's threads come free at once (the server waits
    for them, up to 5 s, before the keystore locks)."""
    http, csrf = signed_in(app)
    response = http.post("/groups/new", data={"name": "Circle", "display_name": "Ann",
                                              "relay": relay.url, "csrf_token": csrf},
                         headers={"Origin": app.origin})
    gid = response.headers["location"].rsplit("/", 1)[1]
    said: list[str] = []
    opened = threading.Event()

    def listen() -> None:
        with contextlib.suppress(httpx.HTTPError), \
                http.stream("GET", f"/groups/{gid}/live", timeout=60) as stream:
            opened.set()
            said.extend(line.removeprefix("event: ") for line in stream.iter_lines()
                        if line.startswith("event: "))

    listener = threading.Thread(target=listen, daemon=True)
    listener.start()
    assert opened.wait(20)
    time.sleep(0.5)  # the stream's wait is out at the relay
    proc = app.proc
    app.stop()
    listener.join(30)
    assert said[-1:] == ["locked"]
    assert proc is not None and proc.returncode == 0
    assert "still running" not in app.output()  # waitress: "N thread(s) still running"


def test_a_body_larger_than_the_app_takes_is_refused_before_it_is_read(
        app: AppProcess) -> None:
    """A web page can make the browser send anything to 127.0.0.1: a body bigger than any
    the app accepts is refused from its length alone, not read (into memory or a
    temporary file) first."""
    import socket

    from vault_app.files import UPLOAD_LIMIT

    with socket.create_connection(("127.0.0.1", app.port), timeout=30) as conn:
        conn.sendall(f"POST /welcome HTTP/1.1\r\nHost: 127.0.0.1:{app.port}\r\n"
                     f"Content-Length: {UPLOAD_LIMIT + 1}\r\n"
                     "Content-Type: application/octet-stream\r\n\r\n".encode())
        conn.sendall(b"x" * 1024)  # a start, never the rest
        status = conn.recv(200).split(b"\r\n", 1)[0]
    assert status.startswith(b"HTTP/1.1 413"), status


def test_a_reloaded_page_still_gets_the_post_its_old_stream_was_waiting_for(
        app: AppProcess, relay: RelayProcess, tmp_path: Path) -> None:
    """A page reloaded (or left and opened again) while its old stream's wait is still out
    at the relay: the post that wait brings reaches the new page's stream."""
    http, csrf = signed_in(app)
    response = http.post("/groups/new", data={"name": "Circle", "display_name": "Ann",
                                              "relay": relay.url, "csrf_token": csrf},
                         headers={"Origin": app.origin})
    gid = response.headers["location"].rsplit("/", 1)[1]
    with Client(PASSPHRASE, home=app.home) as ann_sdk:
        invite = ann_sdk.create_invite(gid, require_approval=False)
    ben = Client(PASSPHRASE, home=tmp_path / "ben")
    ben.join(invite.uri, display_name="Ben")
    http.get(f"/groups/{gid}")  # Ann's app grants Ben the key
    ben.sync(gid)

    def live_url() -> str:
        found = re.search(r'data-live-url="([^"]+)"', http.get(f"/groups/{gid}").text)
        assert found
        return found.group(1).replace("&amp;", "&").removeprefix(
            urlsplit(app.base_url).path)

    # The first page's stream opens, its wait goes out to the relay, and the page goes.
    with http.stream("GET", live_url(), timeout=60) as first:
        next(first.iter_lines())
        time.sleep(1.0)
    # The page is drawn again and opens its stream; then Ben posts.
    events: queue.Queue[str] = queue.Queue()
    opened = threading.Event()
    url = live_url()

    def listen() -> None:
        # (until the app stops at the end of the test, which cuts the stream)
        with contextlib.suppress(httpx.HTTPError), \
                http.stream("GET", url, timeout=90) as stream:
            opened.set()
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    events.put(line.removeprefix("event: "))

    threading.Thread(target=listen, daemon=True).start()
    assert opened.wait(20)
    ben.post(gid, "Hello after the reload")
    ben.close()
    for _ in range(5):
        assert events.get(timeout=60) == "update", app.output()  # a bound, not a speed check
        if "Hello after the reload" in http.get(f"/groups/{gid}/feed").text:
            break
    assert "Hello after the reload" in http.get(f"/groups/{gid}/feed").text
