"""The two hot write paths (issue 14, items 3 and 5), pinned by what a member depends on:
a log append and a post upload either store everything they should or nothing at all, a
retry never takes a second cursor, and the derived rows follow the log (a removed member's
row says when it left, and its session can store nothing more)."""

from __future__ import annotations

import sqlite3
import threading

import pytest
import sqlalchemy as sa
from flask import Flask

from tests.api.conftest import make_app, row_counts
from tests.api.helpers import Api, FakeClock, RelayGroup, code
from vault.api.db import db
from vault.api.models import Group, MemberRow
from vault.api.services import services_of
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.log_entries import AddBody, Role
from vault.crypto.log_verify import verify_log


def _event_seq(app: Flask, g: RelayGroup) -> int:
    with app.app_context():
        value = db.session.scalar(sa.select(Group.event_seq)
                                  .where(Group.group_id == g.f.group_id))
        db.session.remove()
    assert value is not None
    return int(value)


def _member_row(app: Flask, g: RelayGroup, sign_pk: bytes) -> tuple[int, int, int | None]:
    with app.app_context():
        row = db.session.execute(
            sa.select(MemberRow.role, MemberRow.joined_seq, MemberRow.removed_seq)
            .where(MemberRow.group_id == g.f.group_id, MemberRow.sign_pk == sign_pk)).one()
        db.session.remove()
    return int(row.role), int(row.joined_seq), row.removed_seq


def test_retried_uploads_take_no_cursor(api: Api, app: Flask) -> None:
    """A retry is answered from the stored row (same cursor, 200) and the failed insert it
    cost is rolled back whole: the next new post takes the very next cursor."""
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    pid, env = g.envelope(alice)
    path = f"{g.base}/posts/{pid}"
    first = api.put(path, json={"envelope": env}, token=g.token(alice))
    assert first.status_code == 201
    cursor = int(first.get_json()["cursor"])
    for _retry in range(3):
        again = api.put(path, json={"envelope": env}, token=g.token(alice))
        assert again.status_code == 200 and again.get_json() == first.get_json()
    assert _event_seq(app, g) == cursor
    _pid, second = g.put_post(alice)
    assert second.status_code == 201
    assert int(second.get_json()["cursor"]) == cursor + 1
    page = api.get(f"{g.base}/posts", token=g.token(alice)).get_json()
    assert [p["post_id"] for p in page["posts"]][-2:] == [pid, second.get_json()["post_id"]]
    assert row_counts(app)["posts"] == 2


def test_refused_appends_change_nothing(api: Api, app: Flask) -> None:
    """An append the core refuses, or one built on an old head, leaves the log, the derived
    rows and the event counter as they were; the next good entry goes on at that seq."""
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    owner_token, alice_token = g.token(g.owner), g.token(alice)  # (sessions are rows too)
    before, events = row_counts(app), _event_seq(app, g)
    stale = g.f.make(g.owner, AddBody(g.f.identity().public, Role.MEMBER))
    refused = g.f.make(alice, AddBody(g.f.identity().public, Role.MEMBER))
    response = g.push_entry(refused, alice_token)
    assert response.status_code == 422 and code(response) == "log_unauthorized"
    assert row_counts(app) == before and _event_seq(app, g) == events
    g.f.add_member()  # the factory moves on: *stale* is now built on an old head
    g.sync()
    after_one = row_counts(app)
    assert after_one["log_entries"] == before["log_entries"] + 1
    assert after_one["members"] == before["members"] + 1
    response = g.push_entry(stale, owner_token)
    assert response.status_code == 409 and code(response) == "log_conflict"
    assert row_counts(app) == after_one
    served = api.get(f"{g.base}/log", token=owner_token).get_json()
    assert served["head_seq"] == g.f.state.seq
    assert verify_log(g.f.group_id, [b64decode(e) for e in served["entries"]]).head \
        == g.f.state.head


def test_an_append_answers_its_seq_head_and_cursor(api: Api, app: Flask) -> None:
    """Log entries and posts share the group's event numbers: an append's cursor is the
    next one after the last post's."""
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    _pid, post = g.put_post(alice)
    entry = g.f.make(g.owner, AddBody(g.f.identity().public, Role.MEMBER))
    response = g.push_entry(entry, g.token(g.owner))
    assert response.status_code == 201
    body = response.get_json()
    assert body == {"seq": entry.seq, "head": b64encode(entry.hash),
                    "cursor": str(int(post.get_json()["cursor"]) + 1)}
    assert _event_seq(app, g) == int(body["cursor"])


def test_a_removed_members_row_and_session(api: Api, app: Flask) -> None:
    """An add writes the member's row; a remove marks it with the removing entry's seq (the
    row stays, so a former member can still read the log up to it), and from then on the
    member's session stores nothing."""
    g = RelayGroup(api)
    bob = g.f.add_member(Role.MODERATOR)
    g.sync()
    added_at = g.f.state.seq
    assert _member_row(app, g, bob.sign_pk) == (int(Role.MODERATOR), added_at, None)
    token = g.token(bob)
    g.f.remove(bob)
    g.sync()
    removed_at = g.f.state.seq
    assert _member_row(app, g, bob.sign_pk) == (int(Role.MODERATOR), added_at, removed_at)
    posts = row_counts(app)["posts"]
    pid, env = g.envelope(bob)
    response = api.put(f"{g.base}/posts/{pid}", json={"envelope": env}, token=token)
    assert response.status_code == 403 and code(response) == "not_a_member"
    assert row_counts(app)["posts"] == posts
    served = api.get(f"{g.base}/log", token=token).get_json()
    assert served["head_seq"] == removed_at


def test_a_write_waits_for_the_sqlite_lock_then_stores_or_says_so(
        backend: str, database_url: str, clock: FakeClock) -> None:
    """SQLite: a write that finds the lock held by another connection waits for it (up to
    VAULT_DB_BUSY_TIMEOUT_MS) and then stores; held longer, the upload is refused with 503
    unavailable, nothing is stored, and the same upload later stores."""
    if backend != "sqlite":
        pytest.skip("the write lock is SQLite's")
    app = make_app(database_url, clock, VAULT_DB_BUSY_TIMEOUT_MS=400)
    try:
        api = Api(app)
        g = RelayGroup(api)
        alice = g.f.add_member()
        g.sync()
        token = g.token(alice)
        holder = sqlite3.connect(database_url.removeprefix("sqlite:///"), isolation_level=None,
                                 check_same_thread=False)
        holder.execute("BEGIN IMMEDIATE")
        release = threading.Timer(0.1, holder.rollback)
        release.start()
        pid, env = g.envelope(alice)
        response = api.put(f"{g.base}/posts/{pid}", json={"envelope": env}, token=token)
        release.join()
        assert response.status_code == 201, response.get_json()
        holder.execute("BEGIN IMMEDIATE")
        pid, env = g.envelope(alice)
        response = api.put(f"{g.base}/posts/{pid}", json={"envelope": env}, token=token)
        holder.rollback()
        holder.close()
        assert response.status_code == 503 and code(response) == "unavailable"
        assert row_counts(app)["posts"] == 1
        response = api.put(f"{g.base}/posts/{pid}", json={"envelope": env}, token=token)
        assert response.status_code == 201
        assert row_counts(app)["posts"] == 2
    finally:
        services_of(app).wakeup.close()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
