"""Member app benchmark (not a test; issue 11): how fast the app shows a big group, and how
fast a post on one member's app reaches another member's open page.

Run: ``python benchmarks/app.py [--posts N] [--rounds R]`` (defaults 1,000 and 15; about
2 minutes on 2 CPUs). Needs Debian's ``chromium`` (``/usr/bin/chromium``).

One relay (``vault relay serve`` with its defaults, embedded SQLite: ``benchmarks/ingest.py``'s
``DefaultRelay``). Alice makes a group (newcomers read its history) and N posts through
the SDK; Bob joins with a pre-authorised invite and syncs them. Then:

1. **First render of the group**: Bob's ``vault app`` process, unlocked, serves the group's
   page as a member opens it (the newest ``FEED_PAGE`` conversations; "Show older posts"
   for more) over HTTP: the first request after unlocking and then R more, p50. The same
   page in headless Chromium: navigation to the load event and first contentful paint, R
   times, p50. Then the page with all N posts shown (``?show=N``), the same way. **Floor**:
   the SDK call the page is built on, ``Client.threads(group)`` (all N posts) on Bob's
   device (same store, same machine, in this process), drawn afresh (the device's kept
   drawing dropped first), R times, p50; beside it the same call with nothing changed,
   which the device answers from its kept drawing (as the app's later requests are).
2. **Post to another's open page**: Alice's app and Bob's app, each in its own process;
   Bob's group page open in Chromium (its live stream waiting). Alice's app posts (the form
   POST); the time until the text is in Bob's page (Playwright polls on each animation
   frame), R times, p50 and max. **Floor**: the SDK alone: Bob's client waiting
   (``Client.wait``) in a thread, Alice's client posts; the time until Bob's wait returns
   the post, R times.

The last line is one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))

from ingest import DefaultRelay  # noqa: E402
from playwright.sync_api import Page, sync_playwright  # noqa: E402
from vault_app.views.groups import FEED_PAGE  # noqa: E402
from vault_client import Client  # noqa: E402

from tests.app.appproc import AppProcess  # noqa: E402
from tests.browser import ARGS, CHROMIUM  # noqa: E402

PASSPHRASE = "correct horse battery staple"
_CSRF = re.compile(r'<meta name="csrf-token" content="([^"]+)">')


def p50(values: list[float]) -> float:
    return round(statistics.median(values), 2)


def ms(seconds: float) -> float:
    return seconds * 1000


def seed(relay_url: str, alice_home: Path, bob_home: Path, posts: int) -> str:
    with Client(PASSPHRASE, home=alice_home, relay_url=relay_url) as alice:
        group = alice.create_group("Tuesday circle", rules="Be kind.")
        alice.set_history_policy(group.group_id, "all")  # Bob reads what came before him
        for index in range(posts):
            alice.post(group.group_id, f"Post {index}: how the week went, in a few lines of "
                                       "ordinary text, as members write them.")
        invite = alice.create_invite(group.group_id, require_approval=False)
        with Client(PASSPHRASE, home=bob_home) as bob:
            bob.join(invite.uri, display_name="Bob")
            alice.sync(group.group_id)  # Alice's device grants Bob the group's keys
            bob.sync(group.group_id)
            shown = len(bob.posts(group.group_id))
    if shown < posts:
        raise SystemExit(f"Bob's device shows {shown} of {posts} posts after syncing")
    return group.group_id


def open_session(app: AppProcess) -> httpx.Client:
    """An HTTP session on *app*, unlocked (as a browser would: cookie, CSRF token)."""
    http = httpx.Client(base_url=app.base_url, follow_redirects=True, timeout=60)
    page = http.get(app.open_url)
    token = _CSRF.search(page.text)
    assert token, "no CSRF token on the app's page"
    unlocked = http.post("/unlock", data={"passphrase": PASSPHRASE, "csrf_token": token.group(1)},
                         headers={"Origin": app.origin, "Sec-Fetch-Site": "same-origin"})
    unlocked.raise_for_status()
    return http


def unlock_page(page: Page, app: AppProcess) -> None:
    """Open the app in *page* (its session cookie); unlock the device if it is locked."""
    page.goto(app.open_url, wait_until="load")
    field = page.locator("input[name=passphrase]")
    if field.count():
        field.fill(PASSPHRASE)
        field.press("Enter")
        page.wait_for_load_state("load")


def timed_pages(app: AppProcess, http: httpx.Client, browser: Any, url: str,
                rounds: int) -> dict[str, Any]:
    """*url* served over HTTP (p50) and drawn in Chromium (load event, first paint: p50)."""
    server = []
    for _ in range(rounds):
        start = time.perf_counter()
        http.get(url).raise_for_status()
        server.append(ms(time.perf_counter() - start))
    context = browser.new_context()
    page = context.new_page()
    unlock_page(page, app)
    load, paint = [], []
    for _ in range(rounds):
        page.goto(f"{app.base_url}{url}", wait_until="load")
        timing = page.evaluate(
            "() => { const n = performance.getEntriesByType('navigation')[0];"
            " const p = performance.getEntriesByName('first-contentful-paint')[0];"
            " return [n.loadEventEnd - n.startTime, p ? p.startTime : null]; }")
        load.append(timing[0])
        if timing[1] is not None:
            paint.append(timing[1])
    context.close()
    return {"server_p50_ms": p50(server), "chromium_load_p50_ms": p50(load),
            "chromium_first_paint_p50_ms": p50(paint) if paint else None}


def first_render(app: AppProcess, bob_home: Path, group_id: str, rounds: int,
                 browser: Any, posts: int) -> dict[str, Any]:
    http = open_session(app)
    start = time.perf_counter()
    first = http.get(f"/groups/{group_id}")
    first_ms = ms(time.perf_counter() - start)
    first.raise_for_status()
    shown = len(set(re.findall(r"Post (\d+):", first.text)))
    assert shown == min(posts, FEED_PAGE), f"the page shows {shown} posts"
    newest = timed_pages(app, http, browser, f"/groups/{group_id}", rounds)
    everything = f"/groups/{group_id}?show={posts}"
    assert len(set(re.findall(r"Post (\d+):", http.get(everything).text))) == posts
    whole = timed_pages(app, http, browser, everything, max(3, rounds // 3))
    http.close()

    app.stop()  # the floor opens the same device
    floor, kept = [], []
    with Client(PASSPHRASE, home=bob_home) as bob:
        view = bob._device.view(group_id)
        for _ in range(rounds):
            view.drawn = None  # drawn afresh: the work of drawing the group
            start = time.perf_counter()
            threads = bob.threads(group_id)
            floor.append(ms(time.perf_counter() - start))
            start = time.perf_counter()
            bob.threads(group_id)  # again, nothing changed: the drawing kept (as the app has)
            kept.append(ms(time.perf_counter() - start))
        assert sum(1 + len(t.replies) for t in threads) >= posts
    floor_p50 = p50(floor)
    return {"first_request_ms": round(first_ms, 2), "newest": newest, "all_posts": whole,
            "floor_sdk_threads_p50_ms": floor_p50, "sdk_threads_kept_p50_ms": p50(kept),
            "newest_server_vs_floor": round(newest["server_p50_ms"] / floor_p50, 2),
            "newest_chromium_load_vs_floor": round(newest["chromium_load_p50_ms"] / floor_p50, 2),
            "all_server_vs_floor": round(whole["server_p50_ms"] / floor_p50, 2)}


def post_to_open_page(alice_app: AppProcess, bob_app: AppProcess, group_id: str, rounds: int,
                      browser: Any) -> list[float]:
    alice = open_session(alice_app)
    token = _CSRF.search(alice.get(f"/groups/{group_id}").text)
    assert token
    context = browser.new_context()
    page = context.new_page()
    unlock_page(page, bob_app)
    page.goto(f"{bob_app.base_url}/groups/{group_id}", wait_until="load")
    page.wait_for_timeout(1500)  # the live stream opens and its first wait reaches the relay
    delays = []
    for index in range(rounds):
        text = f"live-{index}-{os.urandom(4).hex()}"
        start = time.perf_counter()
        sent = alice.post(f"/groups/{group_id}/posts",
                          data={"text": text, "csrf_token": token.group(1)},
                          headers={"Origin": alice_app.origin, "Sec-Fetch-Site": "same-origin"})
        sent.raise_for_status()
        page.wait_for_function("t => document.body.innerText.includes(t)", arg=text,
                               polling="raf", timeout=30_000)
        delays.append(ms(time.perf_counter() - start))
        page.wait_for_timeout(300)  # the next wait is back at the relay
    context.close()
    alice.close()
    return delays


def sdk_floor(relay_url: str, alice_home: Path, bob_home: Path, group_id: str,
              rounds: int) -> list[float]:
    delays = []
    with Client(PASSPHRASE, home=alice_home, relay_url=relay_url) as alice, \
            Client(PASSPHRASE, home=bob_home) as bob:
        bob.sync(group_id)
        for index in range(rounds):
            text = f"floor-{index}-{os.urandom(4).hex()}"
            arrived = threading.Event()
            took: list[float] = []

            def wait(text: str = text, arrived: threading.Event = arrived,
                     took: list[float] = took) -> None:
                while not arrived.is_set():
                    bob.wait(group_id, timeout=20)
                    if any(p.text == text for p in bob.posts(group_id)[-5:]):
                        took.append(time.perf_counter())
                        arrived.set()

            waiter = threading.Thread(target=wait, daemon=True)
            waiter.start()
            time.sleep(0.3)  # Bob's long-poll is at the relay
            start = time.perf_counter()
            alice.post(group_id, text)
            if not arrived.wait(30):
                raise SystemExit("Bob's SDK wait never returned the post")
            delays.append(ms(took[0] - start))
            waiter.join(5)
    return delays


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--posts", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=15)
    args = parser.parse_args()
    if not CHROMIUM.is_file():
        raise SystemExit(f"{CHROMIUM} is missing: apt-get install chromium")
    print(f"member app benchmark: a group of {args.posts:,} posts, {args.rounds} rounds; "
          f"Python {platform.python_version()}; {os.cpu_count()} CPUs; "
          f"load {os.getloadavg()[0]:.2f}", flush=True)
    with tempfile.TemporaryDirectory(prefix="vault-app-bench-") as tmp_name:
        tmp = Path(tmp_name)
        (tmp / "relay-data").mkdir()
        relay = DefaultRelay(tmp / "relay-data")
        alice_home, bob_home = tmp / "alice", tmp / "bob"
        try:
            started = time.perf_counter()
            group_id = seed(relay.url, alice_home, bob_home, args.posts)
            print(f"seeded in {time.perf_counter() - started:.1f} s", flush=True)
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                bob_app = AppProcess(bob_home, relay.url)
                bob_app.start()
                render = first_render(bob_app, bob_home, group_id, args.rounds, browser,
                                      args.posts)
                newest, whole = render["newest"], render["all_posts"]
                print(f"group of {args.posts:,} posts, page as drawn (newest {FEED_PAGE} "
                      f"conversations): first request {render['first_request_ms']:.1f} ms; then "
                      f"p50 {newest['server_p50_ms']:.1f} ms (HTTP), "
                      f"{newest['chromium_load_p50_ms']:.1f} ms to Chromium's load event; all "
                      f"{args.posts:,} shown: {whole['server_p50_ms']:.1f} ms (HTTP), "
                      f"{whole['chromium_load_p50_ms']:.1f} ms (Chromium) vs floor (SDK "
                      f"threads(), all posts, drawn afresh) "
                      f"{render['floor_sdk_threads_p50_ms']:.1f} ms (kept: "
                      f"{render['sdk_threads_kept_p50_ms']:.1f} ms): "
                      f"{render['newest_server_vs_floor']}x / "
                      f"{render['newest_chromium_load_vs_floor']}x / "
                      f"{render['all_server_vs_floor']}x", flush=True)
                alice_app = AppProcess(alice_home, relay.url)
                alice_app.start()
                bob_app.start()
                live = post_to_open_page(alice_app, bob_app, group_id, args.rounds, browser)
                alice_app.stop()
                bob_app.stop()
                browser.close()
            floor = sdk_floor(relay.url, alice_home, bob_home, group_id, args.rounds)
            live_figures = {"app_p50_ms": p50(live), "app_max_ms": round(max(live), 2),
                            "floor_sdk_p50_ms": p50(floor),
                            "floor_sdk_max_ms": round(max(floor), 2)}
            live_figures["vs_floor"] = round(live_figures["app_p50_ms"]
                                             / live_figures["floor_sdk_p50_ms"], 2)
            print(f"post on Alice's app -> on Bob's open page: p50 {live_figures['app_p50_ms']:.1f}"
                  f" ms, max {live_figures['app_max_ms']:.1f} vs floor (SDK post -> SDK wait) "
                  f"p50 {live_figures['floor_sdk_p50_ms']:.1f} ms, max "
                  f"{live_figures['floor_sdk_max_ms']:.1f}: {live_figures['vs_floor']}x",
                  flush=True)
        finally:
            relay.stop()
    print(json.dumps({"benchmark": "app", "posts": args.posts, "rounds": args.rounds,
                      "cpus": os.cpu_count(), "first_render": render, "post_to_page": live_figures},
                     separators=(",", ":")))


if __name__ == "__main__":
    main()
