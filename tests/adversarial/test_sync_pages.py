"""A cold sync over many pages, fetched one ahead while the page before is opened
(issue 14): exactly the posts in order, none twice, every post checked once per arrival,
posts without a key still held (and retried once when the key comes), and a page the relay
fails to serve stops the sync without losing what came before it."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from types import SimpleNamespace

import httpx
import pytest
from vault_client._internal import sync as engine
from vault_client._internal import sync_io

from tests.adversarial.conftest import stored_post_ids, texts
from tests.adversarial.hostile import HostileRelay
from vault.crypto import posts
from vault.crypto.encoding import b64decode
from vault.crypto.errors import RelayUnavailableError
from vault.crypto.posts import OpenedPost, PostEnvelope

PAGE = 7  # posts per page in these tests: many pages from a few dozen posts


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sync_io, "POST_PAGE", PAGE)
    monkeypatch.setattr(sync_io, "COMMIT_POSTS", 3 * PAGE)


@pytest.fixture
def opened(monkeypatch: pytest.MonkeyPatch) -> Counter[bytes]:
    """How many times each post id was opened (decrypted and checked) by the sync engine:
    ahead of a page, on every core (``posts.open_posts``), or one at a time."""
    counts: Counter[bytes] = Counter()
    real = engine.open_post
    lock = threading.Lock()

    def counting(envelope: PostEnvelope, key: bytes, state: object) -> OpenedPost:
        with lock:  # (called from the threads that open a page ahead)
            counts[envelope.post_id] += 1
        return real(envelope, key, state)  # type: ignore[arg-type]

    monkeypatch.setattr(engine, "open_post", counting)
    monkeypatch.setattr(posts, "open_post", counting)
    return counts


def _held_ids(client: object, gid: str) -> set[bytes]:
    return set(client._device.view(gid).held)  # type: ignore[attr-defined]


def test_cold_sync_over_many_pages_in_order_once_with_held_posts(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str],
        small_pages: None, opened: Counter[bytes]) -> None:
    ann, dan = people.ann, people.dan
    group = ann.create_group(canary("group name"))
    gid = group.group_id
    old = [canary(f"epoch 0 post {i}") for i in range(24)]
    for text in old:
        ann.post(gid, text)
    ann.rotate(gid)
    new = [canary(f"epoch 1 post {i}") for i in range(31)]
    new_ids = [ann.post(gid, text).post_id for text in new]
    # Dan is given every epoch's key, but the relay keeps epoch 0's from him for now.
    view = hostile.view("dan")
    view.grants = lambda _g, items: [(e, g) for e, g in items if e != 0]
    ann.approve(gid, dan.join(ann.create_invite(gid).uri).member_id, share_history="all")
    requests: list[httpx.Request] = []
    view.intercept = lambda request: requests.append(request) or None  # type: ignore[func-returns-value]
    opened.clear()

    (report,) = dan.sync(gid)
    assert texts(dan, gid) == new  # exactly the readable posts, in order, none twice
    assert report.new_posts == len(new)
    assert sorted(opened.values()) == [1] * len(new)  # each opened (and checked) once
    assert {b64decode(i) for i in new_ids} == set(opened)
    held = _held_ids(dan, gid)
    assert len(held) == len(old)  # the posts it holds no key for: held, not dropped
    assert stored_post_ids(dan, gid) == set(new_ids)
    pages = [r for r in requests if r.method == "GET" and r.url.path.endswith("/posts")]
    total = len(old) + len(new)
    assert len(pages) == -(-total // PAGE) + (total % PAGE == 0)  # each page asked for once
    cursors = [r.url.params.get("after") for r in pages]
    assert len(set(cursors)) == len(cursors)

    # The key comes: every held post is opened once, placed, and no longer held.
    view.reset()
    opened.clear()
    dan.sync(gid)
    assert texts(dan, gid) == old + new
    assert set(opened) == held and set(opened.values()) == {1}
    assert _held_ids(dan, gid) == set()
    assert len(stored_post_ids(dan, gid)) == total


def test_a_page_that_fails_keeps_the_pages_before_it(
        people: SimpleNamespace, hostile: HostileRelay, canary: Callable[[str], str],
        small_pages: None) -> None:
    """The relay answers the fourth page with an error: the sync fails, the three pages
    before it are stored (with their cursor), and the next sync reads on from there."""
    ann, ben = people.ann, people.ben
    group = ann.create_group(canary("group name"))
    gid = group.group_id
    written = [canary(f"post {i}") for i in range(5 * PAGE)]
    for text in written:
        ann.post(gid, text)
    ann.approve(gid, ben.join(ann.create_invite(gid).uri).member_id, share_history="all")
    view = hostile.view("ben")
    seen: list[httpx.Request] = []

    def fourth_page_fails(request: httpx.Request) -> httpx.Response | None:
        if request.method != "GET" or not request.url.path.endswith("/posts"):
            return None
        seen.append(request)
        if len(seen) == 4:
            return httpx.Response(503, json={"error": {"code": "unavailable",
                                                       "message": "down"}})
        return None

    view.intercept = fourth_page_fails
    with pytest.raises(RelayUnavailableError):
        ben.sync(gid)
    assert len(seen) == 4  # nothing was asked for after the page that failed
    assert texts(ben, gid) == written[:3 * PAGE]
    assert len(stored_post_ids(ben, gid)) == 3 * PAGE
    view.reset()
    ben.sync(gid)
    assert texts(ben, gid) == written
    reopened_texts = texts(ben, gid)
    assert len(reopened_texts) == len(set(reopened_texts))
