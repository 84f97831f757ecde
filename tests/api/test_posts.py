"""Posts: idempotent upload, cursor pages, tombstones, expiry and purge, stale epochs."""

from __future__ import annotations

import random
import threading

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.api.conftest import row_counts
from tests.api.helpers import Api, FakeClock, RelayGroup, code
from vault.api.db import db
from vault.api.models import Group
from vault.api.purge import purge_expired
from vault.api.schemas import MAX_POSTS_PAGE
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.limits import MAX_ENVELOPE_SIZE
from vault.crypto.log_entries import Role


def _group(api: Api) -> tuple[RelayGroup, list]:  # type: ignore[type-arg]
    g = RelayGroup(api)
    alice, bob = g.f.add_members(2)
    mod = g.f.add_member(Role.MODERATOR)
    g.sync()
    return g, [alice, bob, mod]


def test_put_is_idempotent(api: Api) -> None:
    g, (alice, _bob, _mod) = _group(api)
    pid, env = g.envelope(alice)
    path = f"{g.base}/posts/{pid}"
    first = api.put(path, json={"envelope": env}, token=g.token(alice))
    assert first.status_code == 201
    again = api.put(path, json={"envelope": env}, token=g.token(alice))
    assert again.status_code == 200 and again.get_json() == first.get_json()
    _other_pid, other = g.envelope(alice, post_id=b64decode(pid))
    response = api.put(path, json={"envelope": other}, token=g.token(alice))
    assert response.status_code == 409 and code(response) == "post_conflict"


def test_header_must_match(api: Api) -> None:
    g, (alice, _bob, _mod) = _group(api)
    pid, env = g.envelope(alice)
    other_pid, _ = g.envelope(alice)
    response = api.put(f"{g.base}/posts/{other_pid}", json={"envelope": env},
                       token=g.token(alice))
    assert response.status_code == 422 and code(response) == "post_rejected"
    h = RelayGroup(api, seed="other")
    response = api.put(f"{h.base}/posts/{pid}", json={"envelope": env}, token=h.token(h.owner))
    assert response.status_code == 422 and code(response) == "post_rejected"
    g.f.epoch_keys[5] = bytes(32)
    pid, env = g.envelope(alice, epoch=5)
    response = api.put(f"{g.base}/posts/{pid}", json={"envelope": env}, token=g.token(alice))
    assert response.status_code == 422 and code(response) == "post_rejected"


def test_envelope_over_the_protocols_largest_is_refused(app: Flask, api: Api) -> None:
    """The relay holds an envelope to the protocol's largest (vault.crypto.limits): one byte
    more is refused for its size; at the size it reaches the decoder (which finds these
    bytes malformed). Neither stores anything."""
    g, (alice, _bob, _mod) = _group(api)
    pid, env = g.envelope(alice)
    real, token = b64decode(env), g.token(alice)
    before = row_counts(app)
    for size, status, expected in ((MAX_ENVELOPE_SIZE + 1, 400, "invalid_request"),
                                   (MAX_ENVELOPE_SIZE, 400, "malformed")):
        padded = real + bytes(size - len(real))
        response = api.put(f"{g.base}/posts/{pid}", json={"envelope": b64encode(padded)},
                           token=token)
        assert (response.status_code, code(response)) == (status, expected), size
    assert row_counts(app) == before


def test_pages_and_newest(api: Api) -> None:
    g, (alice, bob, _mod) = _group(api)
    ids = [g.put_post(alice if i % 2 else bob)[0] for i in range(7)]
    token = g.token(alice)
    seen: list[str] = []
    cursor = None
    while True:
        query = {"limit": 3} if cursor is None else {"limit": 3, "after": cursor}
        page = api.get(f"{g.base}/posts", token=token, query=query).get_json()
        seen += [p["post_id"] for p in page["posts"]]
        cursor = page["cursor"]
        if not page["more"]:
            break
    assert seen == ids
    newest = api.get(f"{g.base}/posts", token=token, query={"newest": 2}).get_json()
    assert [p["post_id"] for p in newest["posts"]] == ids[-2:]
    empty = api.get(f"{g.base}/posts", token=token, query={"after": cursor}).get_json()
    assert empty == {"posts": [], "cursor": cursor, "more": False}
    both = api.get(f"{g.base}/posts", token=token, query={"after": "1", "newest": 2})
    assert both.status_code == 400 and code(both) == "invalid_request"


def test_a_page_after_a_cursor_holds_up_to_250_posts(api: Api) -> None:
    """A new member's first sync reads the group in pages of 250 (the most one read
    returns); asking for more is refused, and nothing is skipped at a page's edge."""
    g, (alice, _bob, _mod) = _group(api)
    ids = [g.put_post(alice)[0] for _ in range(MAX_POSTS_PAGE + 3)]
    token = g.token(alice)
    first = api.get(f"{g.base}/posts", token=token,
                    query={"limit": MAX_POSTS_PAGE}).get_json()
    assert [p["post_id"] for p in first["posts"]] == ids[:MAX_POSTS_PAGE] and first["more"]
    rest = api.get(f"{g.base}/posts", token=token,
                   query={"limit": MAX_POSTS_PAGE, "after": first["cursor"]}).get_json()
    assert [p["post_id"] for p in rest["posts"]] == ids[MAX_POSTS_PAGE:]
    assert rest["more"] is False
    over = api.get(f"{g.base}/posts", token=token, query={"limit": MAX_POSTS_PAGE + 1})
    assert over.status_code == 400 and code(over) == "invalid_request"


def test_delete_leaves_tombstone(api: Api) -> None:
    g, (alice, bob, mod) = _group(api)
    pid, _ = g.put_post(alice)
    pid2, _ = g.put_post(alice)
    token = g.token(bob)
    before = api.get(f"{g.base}/posts", token=token).get_json()
    response = api.delete(f"{g.base}/posts/{pid}", token=g.token(bob))
    assert response.status_code == 403 and code(response) == "forbidden"
    response = api.delete(f"{g.base}/posts/{pid}", token=g.token(alice))
    assert response.status_code == 200 and response.get_json()["deleted"] is True
    response = api.delete(f"{g.base}/posts/{pid2}", token=g.token(mod))
    assert response.status_code == 200
    after = api.get(f"{g.base}/posts", token=token,
                    query={"after": before["cursor"]}).get_json()["posts"]
    assert [(p["post_id"], p["envelope"], p["deleted"]) for p in after] == [
        (pid, None, True), (pid2, None, True)]
    _, env = g.envelope(alice, post_id=b64decode(pid))
    response = api.put(f"{g.base}/posts/{pid}", json={"envelope": env}, token=g.token(alice))
    assert response.status_code == 410 and code(response) == "post_deleted"
    missing = b64encode(bytes(16))
    response = api.delete(f"{g.base}/posts/{missing}", token=g.token(alice))
    assert response.status_code == 404 and code(response) == "not_found"


def test_expired_posts_not_served_and_purged(api: Api, clock: FakeClock) -> None:
    g, (alice, _bob, _mod) = _group(api)
    short, _ = g.put_post(alice, expires_at_ms=clock.now + 10_000)
    keep, _ = g.put_post(alice)
    # written a minute ago (by the author's clock), already expired by the relay's
    _pid, response = g.put_post(alice, expires_at_ms=clock.now - 1,
                                timestamp_ms=clock.now - 60_000)
    assert response.status_code == 422 and code(response) == "post_expired"
    token = g.token(alice)
    listed = [p["post_id"] for p in api.get(f"{g.base}/posts", token=token).get_json()["posts"]]
    assert listed == [short, keep]
    clock.advance(10_001)
    g.tokens.clear()
    listed = [p["post_id"] for p in api.get(f"{g.base}/posts",
                                            token=g.token(alice)).get_json()["posts"]]
    assert listed == [keep]
    assert row_counts(api.app)["posts"] == 2
    with api.app.app_context():
        counts = purge_expired(clock.now)
    assert counts["posts"] == 1
    assert row_counts(api.app)["posts"] == 1


def test_fifty_concurrent_uploads_with_retries(api: Api, app: Flask) -> None:
    g, members = _group(api)
    authors = [*members, g.owner]
    tokens = {a.sign_pk: g.token(a) for a in authors}
    posts = [(a, *g.envelope(a, text=f"post {i}")) for i, a in
             enumerate(authors[i % len(authors)] for i in range(50))]
    barrier = threading.Barrier(10)
    outcomes: list[tuple[str, int, str]] = []
    lock = threading.Lock()

    def worker(chunk: list) -> None:  # type: ignore[type-arg]
        client = app.test_client()
        rng = random.Random(len(chunk))
        barrier.wait()
        for author, pid, env in chunk:
            for _attempt in range(1 + rng.randrange(3)):  # a lost response: send again
                response = client.put(f"{g.base}/posts/{pid}", json={"envelope": env},
                                      headers={"Authorization": f"Bearer {tokens[author.sign_pk]}"})
                with lock:
                    outcomes.append((pid, response.status_code,
                                     response.get_json().get("cursor", "")))

    chunks = [posts[i::10] for i in range(10)]
    # the same posts are also retried by a second thread, racing the first
    chunks = [c + posts[(i * 5) % 50:(i * 5) % 50 + 2] for i, c in enumerate(chunks)]
    threads = [threading.Thread(target=worker, args=(c,)) for c in chunks]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert {status for _pid, status, _c in outcomes} <= {200, 201}, outcomes
    created = [pid for pid, status, _c in outcomes if status == 201]
    assert sorted(created) == sorted(pid for _a, pid, _e in posts)  # each created once
    cursors: dict[str, set[str]] = {}
    for pid, _status, cursor in outcomes:
        cursors.setdefault(pid, set()).add(cursor)
    assert all(len(c) == 1 for c in cursors.values())  # a retry gets the same cursor
    page = api.get(f"{g.base}/posts", token=g.token(g.owner), query={"limit": 100}).get_json()
    served = [p["post_id"] for p in page["posts"]]
    assert sorted(served) == sorted(pid for _a, pid, _e in posts)
    assert len(served) == len(set(served)) == 50
    assert row_counts(app)["posts"] == 50


def test_a_refused_post_takes_no_cursor(api: Api) -> None:
    """An envelope ahead of the group (a later epoch, a log entry the relay has not got) is
    refused, and the cursor it would have taken is not used up: cursors stay gap-free."""
    g, (alice, _bob, _mod) = _group(api)
    _pid, first = g.put_post(alice)
    g.f.epoch_keys[3] = bytes(32)
    for kwargs in ({"epoch": 3}, {"log_seq": g.f.state.seq + 1}):
        pid, env = g.envelope(alice, **kwargs)
        response = api.put(f"{g.base}/posts/{pid}", json={"envelope": env}, token=g.token(alice))
        assert response.status_code == 422 and code(response) == "post_rejected", kwargs
    _pid, second = g.put_post(alice)
    assert int(second.get_json()["cursor"]) == int(first.get_json()["cursor"]) + 1


def _event_seq(app: Flask, g: RelayGroup) -> int:
    with app.app_context():
        value = db.session.scalar(sa.select(Group.event_seq)
                                  .where(Group.group_id == g.f.group_id))
        db.session.remove()
    assert value is not None
    return int(value)


@pytest.mark.parametrize("change", ["rotate", "remove"])
def test_a_new_post_in_an_epoch_the_group_left_is_refused(api: Api, app: Flask,
                                                          change: str) -> None:
    """Defence in depth for a member kept on a stale view: once the log starts a new epoch
    (ROTATE, REMOVE), a new post sealed under an older one is refused (409 epoch_stale),
    stores nothing and takes no cursor."""
    g, (alice, bob, _mod) = _group(api)
    _pid, first = g.put_post(alice)
    assert first.status_code == 201
    before_seq = g.f.state.seq
    if change == "rotate":
        g.f.rotate()
    else:
        g.f.remove(bob)
    g.sync()
    assert g.f.state.epoch == 1
    counts, cursor = row_counts(app), _event_seq(app, g)
    for kwargs in ({"epoch": 0, "log_seq": before_seq}, {"epoch": 0}):
        pid, env = g.envelope(alice, **kwargs)
        response = api.put(f"{g.base}/posts/{pid}", json={"envelope": env},
                           token=g.token(alice))
        assert response.status_code == 409 and code(response) == "epoch_stale", kwargs
        assert "epoch 1" in response.get_json()["error"]["message"]
    assert row_counts(app) == counts and _event_seq(app, g) == cursor
    _pid, current = g.put_post(alice)  # the current epoch: stored, at the next cursor
    assert current.status_code == 201
    assert int(current.get_json()["cursor"]) == cursor + 1


def test_a_post_stored_before_a_rotation_is_still_answered(api: Api, app: Flask) -> None:
    """Idempotency holds across a rotation: a retry of a post stored under the old epoch
    gets 200 and its cursor; other bytes under its id stay a conflict, a deleted one 410."""
    g, (alice, _bob, mod) = _group(api)
    pid, env = g.envelope(alice)
    path = f"{g.base}/posts/{pid}"
    first = api.put(path, json={"envelope": env}, token=g.token(alice))
    assert first.status_code == 201
    gone, gone_env = g.envelope(alice)
    assert api.put(f"{g.base}/posts/{gone}", json={"envelope": gone_env},
                   token=g.token(alice)).status_code == 201
    assert api.delete(f"{g.base}/posts/{gone}", token=g.token(mod)).status_code == 200
    g.f.rotate()
    g.sync()
    counts, cursor = row_counts(app), _event_seq(app, g)
    again = api.put(path, json={"envelope": env}, token=g.token(alice))
    assert again.status_code == 200 and again.get_json() == first.get_json()
    _same, other = g.envelope(alice, post_id=b64decode(pid), epoch=0)
    response = api.put(path, json={"envelope": other}, token=g.token(alice))
    assert response.status_code == 409 and code(response) == "post_conflict"
    response = api.put(f"{g.base}/posts/{gone}", json={"envelope": gone_env},
                       token=g.token(alice))
    assert response.status_code == 410 and code(response) == "post_deleted"
    assert row_counts(app) == counts and _event_seq(app, g) == cursor
