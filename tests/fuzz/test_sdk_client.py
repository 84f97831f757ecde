"""The SDK's whole sync path against a relay that answers one kind of request with anything.

Real clients talk to a real relay app in this process (``httpx.WSGITransport``); between
them a proxy replaces the relay's answers to one route (the log, grants, posts, events, join
requests, blobs, the auth handshake...) with fuzzed ones. The group is fully synced first and
nobody writes while fuzzing, so every genuine answer brings nothing new: whatever changes on
the device can only come from the fuzzed answers.

For every example:

* only typed :class:`VaultError` comes out of the public API;
* the verified state in the local store (log entries and checkpoint, epoch keys, posts, the
  outbox, issued grants, the group's status) is unchanged: nothing a relay can say without
  signatures and keys may change it;
* when the call raised (the answer was refused), nothing at all in the local store changed,
  and the client's in-memory view of the group matches what a fresh load from the store gives;
* no retry or paging loop spins on a bad answer (the proxy counts requests).

Afterwards the proxy steps aside and the clients still sync, read and post normally.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from vault_client import Client

from tests.fuzz.conftest import count, fuzz_settings
from tests.fuzz.responses import Answer, answers
from vault.api import create_app, upgrade_database
from vault.api.db import db
from vault.crypto.errors import VaultError

URL = "http://127.0.0.1:9"
PASSPHRASE = "fuzz passphrase"
EXAMPLES = 30
MAX_REQUESTS = 60  # per public call: a bad answer must not make the client loop
VERIFIED = ("log_entries", "epoch_keys", "posts", "outbox", "outbox_blobs", "grants_issued")
GROUP_VERIFIED = ("group_id", "relay_url", "status", "checkpoint", "next_author_seq",
                  "history_policy", "pending")


class LoopDetected(BaseException):
    """The client kept sending requests for one public call."""


def route_of(request: httpx.Request) -> str:
    path = request.url.path
    parts = path.split("/")
    if path.endswith("/auth/challenge"):
        return "challenge"
    if path.endswith("/auth/session"):
        return "session"
    if len(parts) >= 5 and parts[1:3] == ["v1", "groups"]:
        return f"{request.method} {parts[4]}"
    return f"{request.method} {path}"


class FuzzProxy(httpx.BaseTransport):
    """Passes requests to the in-process relay, except one route, answered with a fuzzed
    answer (the same for every request to that route)."""

    def __init__(self, inner: httpx.BaseTransport) -> None:
        self.inner = inner
        self.target: str | None = None
        self.answer: Answer | None = None
        self.requests = 0
        self.fuzzed = 0
        self.forward = False  # let the relay handle the request, then lose its answer

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        if self.requests > MAX_REQUESTS:
            raise LoopDetected(f"{self.requests} requests in one call (last: {route_of(request)})")
        if self.target is not None and route_of(request) == self.target:
            assert self.answer is not None
            self.fuzzed += 1
            request.read()
            if self.forward:
                self.inner.handle_request(request).read()
            return httpx.Response(self.answer.status, content=self.answer.body,
                                  headers=self.answer.headers)
        return self.inner.handle_request(request)


@dataclass
class World:
    app: Any
    alice: Client
    carol: Client
    proxy_alice: FuzzProxy
    proxy_carol: FuzzProxy
    proxy_joiner: FuzzProxy
    root: Path
    join_uri: str
    gid: str
    attachment: Any
    genuine: dict[str, tuple[Any, int]]


def _open(home: Path, transport: httpx.BaseTransport) -> Client:
    return Client(PASSPHRASE, home=home, relay_url=URL, transport=transport, retry_for=0.0)


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    from tests.fuzz.conftest import cheap_kdf
    from vault.crypto import keystore

    saved = keystore._kdf
    keystore._kdf = cheap_kdf
    root = tmp_path_factory.mktemp("sdk-fuzz")
    config = {"VAULT_DATABASE_URL": f"sqlite:///{root / 'relay.db'}",
              "VAULT_RATE_LIMIT": 0, "VAULT_RATE_LIMIT_EXPENSIVE": 0,
              "VAULT_LOG_LEVEL": "ERROR", "VAULT_EVENTS_POLL_MS": 50}
    upgrade_database(config)
    app = create_app(config)
    wsgi = httpx.WSGITransport(app=app)
    proxy_alice, proxy_carol, proxy_joiner = FuzzProxy(wsgi), FuzzProxy(wsgi), FuzzProxy(wsgi)
    alice = _open(root / "alice", proxy_alice)
    bob = _open(root / "bob", wsgi)
    carol = _open(root / "carol", proxy_carol)
    try:
        group = alice.create_group("Fuzz circle", "about", "rules", display_name="Alice")
        gid = group.group_id
        bob.join(alice.create_invite(gid, max_uses=3, require_approval=False).uri)
        alice.sync(gid)  # her device rotates for the newcomer and grants the key
        bob.sync(gid)
        bob.set_display_name(gid, "Bob")
        first = bob.post(gid, "hello from bob", attachments=[(b"a picture", "image/png")])
        bob.reply(gid, first, "and a reply", content_warning="cw")
        bob.react(gid, first, "+1")
        carol.join(alice.create_invite(gid, require_approval=True).uri)
        alice.sync(gid)
        alice.post(gid, "hello from alice")
        alice.sync(gid)
        (attachment,) = alice.get_post(gid, first).attachments
        join_uri = alice.create_invite(gid, max_uses=10_000).uri
        genuine = _capture(wsgi, alice, gid)
        yield World(app, alice, carol, proxy_alice, proxy_carol, proxy_joiner, root, join_uri,
                    gid, attachment, genuine)
    finally:
        for client in (alice, bob, carol):
            client.close()
        with app.app_context():
            db.engine.dispose()
        keystore._kdf = saved


def _capture(wsgi: httpx.BaseTransport, alice: Client, gid: str) -> dict[str, tuple[Any, int]]:
    """The genuine answer of every route the fuzzed calls use (to damage them)."""
    seen: dict[str, tuple[Any, int]] = {}

    class Recorder(httpx.BaseTransport):
        def handle_request(self, request: httpx.Request) -> httpx.Response:
            response = wsgi.handle_request(request)
            response.read()
            route = route_of(request)
            if route not in seen:
                try:
                    body: Any = response.json()
                except ValueError:
                    body = response.content
                seen[route] = (body, response.status_code)
            return response

    transport = alice._device.transport(alice._device.view(gid).relay_url)
    original = transport._http
    transport._http = httpx.Client(base_url=URL, transport=Recorder())
    transport.forget_sessions()
    try:
        view = alice._device.view(gid)
        view.keys.pop(max(view.keys))  # so that sync fetches this device's grants
        alice.sync(gid)
        alice.pending_requests(gid)
        alice.wait(gid, timeout=0)
        alice.attachment(gid, _first_attachment(alice, gid))
    finally:
        transport._http = original
        transport.forget_sessions()
        alice._device.views.clear()
    return seen


def _first_attachment(alice: Client, gid: str) -> Any:
    for post in alice.posts(gid):
        if post.attachments:
            return post.attachments[0]
    raise AssertionError("no attachment")


# --- the local store, read and restored ------------------------------------------------------


def _dump(client: Client) -> dict[str, list[tuple[Any, ...]]]:
    db_path = client._device.store.path
    with sqlite3.connect(f"file:{db_path}?mode=ro", uri=True) as conn:
        tables = [r[0] for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}"), key=repr)
                for t in tables}


def _verified(dump: dict[str, list[tuple[Any, ...]]], client: Client) -> dict[str, Any]:
    with sqlite3.connect(f"file:{client._device.store.path}?mode=ro", uri=True) as conn:
        columns = [r[1] for r in conn.execute("PRAGMA table_info(groups)")]
    keep = [columns.index(name) for name in GROUP_VERIFIED]
    out: dict[str, Any] = {t: dump[t] for t in VERIFIED}
    # A key sealed again (after a genuine grant) has a fresh nonce: compare which keys.
    out["epoch_keys"] = sorted(row[:2] for row in dump["epoch_keys"])
    out["groups"] = [tuple(row[i] for i in keep) for row in dump["groups"]]
    return out


def _restore(client: Client, dump: dict[str, list[tuple[Any, ...]]]) -> None:
    """Put the local store back as *dump* and drop everything held in memory."""
    with client._device.store.tx() as conn:
        for table, rows in dump.items():
            conn.execute(f"DELETE FROM {table}")
            if rows:
                marks = ", ".join("?" * len(rows[0]))
                conn.executemany(f"INSERT INTO {table} VALUES ({marks})", rows)
    client._device.views.clear()
    client._device.warnings.clear()
    for transport in client._device.transports.values():
        transport.forget_sessions()


def _changed(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    out = []
    for table in sorted(set(before) | set(after)):
        old, new = before.get(table, []), after.get(table, [])
        if old != new:
            out.append(f"{table}: -{[r for r in old if r not in new]!r:.300} "
                       f"+{[r for r in new if r not in old]!r:.300}")
    return out


def _memory(client: Client, gid: str) -> dict[str, Any]:
    """What the in-memory view of the group holds (comparable with a fresh load)."""
    view = client._device.view(gid)
    state = view.state
    return {
        "status": view.status,
        "seq": None if state is None else state.seq,
        "head": None if state is None else state.head,
        "entries": list(view.entries),
        "keys": dict(view.keys),
        "posts": sorted(p.post_id for p in view.timeline.ordered()),
        "held": sorted(view.held),
        "rejected": sorted(view.rejected),
        "tombstones": sorted(view.tombstones),
        "issued": sorted(view.issued),
        "post_cursor": view.post_cursor,
        "event_cursor": view.event_cursor,
    }


# --- the calls ---------------------------------------------------------------------------------

Call = Callable[[World], Any]
CALLS: dict[str, Call] = {
    "sync": lambda w: w.alice.sync(w.gid),
    "sync_all": lambda w: w.alice.sync(),
    "pending_requests": lambda w: w.alice.pending_requests(w.gid),
    "wait": lambda w: w.alice.wait(w.gid, timeout=0),
    "attachment": lambda w: w.alice.attachment(w.gid, w.attachment),
    "join_status": lambda w: w.carol.join_status(w.gid),
    "join": lambda w: _join(w),
}


def _join(world: World) -> None:
    """A new device uses an invite: it reads (and verifies) the log through an invite
    session before it asks to join."""
    import shutil

    home = world.root / "joiner"
    joiner = _open(home, world.proxy_joiner)
    try:
        joiner.join(world.join_uri)
    finally:
        joiner.close()
        shutil.rmtree(home)
# route fuzzed -> the calls that reach it
ROUTES: dict[str, list[str]] = {
    "challenge": ["sync", "pending_requests", "join_status", "join"],
    "session": ["sync", "pending_requests", "join_status", "join"],
    "GET log": ["sync", "sync_all", "pending_requests", "wait", "join"],
    "GET grants": ["sync"],
    "GET posts": ["sync", "sync_all", "wait"],
    "GET events": ["wait"],
    "GET join-requests": ["pending_requests"],
    "GET blobs": ["attachment"],
    "POST join-requests": ["join_status"],
}


def _genuine_for(world: World, route: str) -> tuple[Any, int]:
    if route in world.genuine:
        return world.genuine[route]
    if route == "POST join-requests":
        return {"joiner": "A" * 43, "invite_id": "A" * 22, "status": "pending"}, 200
    raise KeyError(route)


@pytest.mark.slow  # fuzzing: EXAMPLES answers per route
@pytest.mark.parametrize("route", sorted(ROUTES))
def test_client_survives_any_answer(world: World, route: str) -> None:
    genuine, ok = _genuine_for(world, route)

    @fuzz_settings(EXAMPLES)
    @given(answer=answers(genuine, ok), call=st.sampled_from(ROUTES[route]),
           force_grants=st.booleans())
    def run(answer: Answer, call: str, force_grants: bool) -> None:
        count(f"sdk.client.{route}")
        client = world.carol if call == "join_status" else world.alice
        proxy = {"join_status": world.proxy_carol, "join": world.proxy_joiner}.get(
            call, world.proxy_alice)
        base = before = _dump(client)
        if route == "GET grants" and force_grants:
            # Without its current key the device fetches its grants when it syncs (and may
            # legitimately get that key back from a genuine grant left in a damaged answer).
            view = client._device.view(world.gid)
            client._device.store.delete_epoch_key(view.group_id, max(view.keys))
            client._device.views.clear()
            before = _dump(client)
        proxy.target, proxy.answer, proxy.requests, proxy.fuzzed = route, answer, 0, 0
        raised: BaseException | None = None
        try:
            CALLS[call](world)
        except VaultError as error:
            raised = error
        finally:
            proxy.target = proxy.answer = None
        try:
            after = _dump(client)
            now = _verified(after, client)
            assert now in (_verified(before, client), _verified(base, client)), \
                f"a relay answer changed verified state: {_changed(_verified(before, client), now)}"
            if raised is not None:
                assert after == before, \
                    f"a refused answer ({raised.code}) changed the store: {_changed(before, after)}"
                memory = _memory(client, world.gid)
                client._device.views.clear()
                assert memory == _memory(client, world.gid), \
                    "the in-memory view drifted from the store"
        finally:
            _restore(client, base)

    run()


def test_clients_still_work_afterwards(world: World) -> None:
    alice = world.alice
    report = alice.sync(world.gid)[0]
    assert not report.warnings
    texts = {p.text for p in alice.posts(world.gid)}
    assert {"hello from bob", "and a reply", "hello from alice"} <= texts
    assert alice.attachment(world.gid, world.attachment) == b"a picture"
    assert alice.post(world.gid, "still here").delivered
    assert [r.joiner for r in alice.pending_requests(world.gid)]
    assert world.carol.join_status(world.gid) == "pending"


# --- regressions found by the fuzzing above -----------------------------------------------------


def _answer_once(world: World, client: Client, route: str, answer: Answer,
                 call: Callable[[], Any]) -> tuple[BaseException | None, dict[str, Any],
                                                   dict[str, Any]]:
    proxy = world.proxy_carol if client is world.carol else world.proxy_alice
    before = _dump(client)
    proxy.target, proxy.answer, proxy.requests = route, answer, 0
    raised: BaseException | None = None
    try:
        call()
    except VaultError as error:
        raised = error
    finally:
        proxy.target = proxy.answer = None
    return raised, before, _dump(client)


@pytest.mark.parametrize("answer", [
    Answer(409, b'{"error": {"code": "already_member", "message": "approved, honest"}}'),
    Answer(200, b'{"joiner": "x", "invite_id": "y", "status": "approved"}'),
])
def test_a_relay_cannot_make_a_pending_joiner_believe_it_was_approved(
        world: World, answer: Answer) -> None:
    """Found by fuzzing: a relay answering the join request with "approved" (or
    already_member) made the device mark itself a member and forget its pending request,
    although no admin had added it; every call then failed with NotAMemberError."""
    carol = world.carol
    try:
        raised, before, after = _answer_once(world, carol, "POST join-requests", answer,
                                             lambda: carol.join_status(world.gid))
        assert raised is None
        assert after == before
        assert carol.join_status(world.gid) == "pending"
        assert carol.group(world.gid).status == "pending"
    finally:
        _restore(carol, before)


def test_a_posts_page_that_never_ends_does_not_hang_the_client(world: World) -> None:
    """A relay that serves the same page of posts over and over, always saying there is
    more, must not keep the client paging forever."""
    import json

    from vault_client._internal.transport import MemberAuth

    alice = world.alice
    view = alice._device.view(world.gid)
    transport = alice._device.transport(view.relay_url)
    first = transport._authed(MemberAuth(view.group_id, view.me), "GET",
                              f"/v1/groups/{world.gid}/posts", params={"limit": 2},
                              idempotent=True).json()
    assert first["posts"]
    endless = dict(first, more=True)
    raised, before, after = _answer_once(
        world, alice, "GET posts", Answer(200, json.dumps(endless).encode()),
        lambda: alice.sync(world.gid))
    _restore(alice, before)
    assert isinstance(raised, VaultError) and raised.code == "malformed"
    assert _verified(after, alice) == _verified(before, alice)


@pytest.mark.parametrize("call", ["sync", "join"])
def test_a_log_that_never_ends_does_not_hang_the_client(world: World, call: str,
                                                         tmp_path: Path) -> None:
    """A relay that serves the same page of log entries over and over, claiming a head far
    beyond, must not keep the client fetching (and holding) entries forever."""
    import json

    from vault.crypto.encoding import b64encode

    alice = world.alice
    view = alice._device.view(world.gid)
    page = {"entries": [b64encode(raw) for raw in view.entries[-3:]], "head_seq": 10**12}
    answer = Answer(200, json.dumps(page).encode())
    if call == "sync":
        raised, before, after = _answer_once(world, alice, "GET log", answer,
                                             lambda: alice.sync(world.gid))
        _restore(alice, before)
        assert raised is not None and after == before
        return
    proxy = FuzzProxy(world.proxy_alice.inner)
    joiner = _open(tmp_path / "joiner", proxy)
    try:
        uri = alice.create_invite(world.gid, require_approval=True).uri
        proxy.target, proxy.answer = "GET log", answer
        with pytest.raises(VaultError):
            joiner.join(uri)
    finally:
        joiner.close()


@pytest.mark.parametrize("stored", [False, True])
def test_an_unreadable_answer_to_a_post_upload_keeps_the_post(world: World, stored: bool) -> None:
    """Found by fuzzing: a success status with a body that is not the relay's answer (a
    proxy's error page) made the SDK drop the post from its outbox as "undeliverable", and
    post() said delivered=True, whether or not the relay had stored it. The post now stays
    on the device and goes out (exactly once) with the next sync."""
    alice, gid = world.alice, world.gid
    proxy = world.proxy_alice
    proxy.target, proxy.answer, proxy.requests = "PUT posts", Answer(
        200, b"<html><body>502 Bad Gateway</body></html>"), 0
    proxy.forward = stored
    try:
        posted = alice.post(gid, f"kept on the device ({stored})")
    finally:
        proxy.target = proxy.answer = None
        proxy.forward = False
    assert not posted.delivered
    assert alice.group(gid).unsent_posts == 1
    assert not [w for w in alice.warnings() if type(w).__name__ == "UndeliverablePost"]
    alice.sync(gid)
    assert alice.group(gid).unsent_posts == 0
    from tests.faults.common import relay_post_ids
    from vault.crypto.encoding import b64decode

    assert relay_post_ids(alice, gid)[b64decode(posted.post_id)] == 1
