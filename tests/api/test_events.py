"""Long-poll events: return at once when there is something, wake on new posts, time out."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from tests.api.conftest import make_app
from tests.api.helpers import Api, FakeClock, RelayGroup, code, real_invite, statements_sent
from tests.api.sse_reader import in_background
from vault.api.news import Watch
from vault.api.passes import Pass, Passes
from vault.api.services import services_of
from vault.crypto.auth import session_token_hash
from vault.crypto.encoding import b64decode


def test_returns_existing_events_at_once(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    pid, _ = g.put_post(alice)
    body = api.get(f"{g.base}/events", token=g.token(alice), query={"after": "0"}).get_json()
    kinds = [(e["type"], e.get("seq"), (e.get("post") or {}).get("post_id"))
             for e in body["events"]]
    assert kinds == [("log", 0, None), ("log", 1, None), ("post", None, pid)]
    assert body["more"] is False
    again = api.get(f"{g.base}/events", token=g.token(alice),
                    query={"after": body["cursor"], "timeout": 0}).get_json()
    assert again == {"events": [], "cursor": body["cursor"], "more": False}


def _wait_for_post(api: Api, g: RelayGroup, token: str, cursor: str,
                   results: list) -> None:  # type: ignore[type-arg]
    started = time.monotonic()
    response = api.get(f"{g.base}/events", token=token, query={"after": cursor, "timeout": 10})
    results.append((time.monotonic() - started, response.get_json()))


def test_long_poll_wakes_on_new_post(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    token = g.token(alice)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    results: list = []  # type: ignore[type-arg]
    waiter = threading.Thread(target=_wait_for_post,
                              args=(Api(api.app), g, token, cursor, results))
    waiter.start()
    time.sleep(0.3)
    pid, response = g.put_post(g.owner)
    assert response.status_code == 201
    waiter.join(15)
    elapsed, body = results[0]
    assert 0.2 < elapsed < 5
    assert [e["post"]["post_id"] for e in body["events"]] == [pid]


def test_another_process_wakes_the_poll(database_url: str, clock: FakeClock) -> None:
    """Two app instances (two relay processes) sharing one database."""
    first = Api(make_app(database_url, clock))
    second = Api(make_app(database_url, clock))
    g = RelayGroup(first)
    alice = g.f.add_member()
    g.sync()
    token = g.token(alice)
    cursor = first.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    results: list = []  # type: ignore[type-arg]
    waiter = threading.Thread(target=_wait_for_post, args=(first, g, token, cursor, results))
    waiter.start()
    time.sleep(0.3)
    g.api = second
    g.tokens.clear()
    pid, response = g.put_post(g.owner)
    assert response.status_code == 201
    waiter.join(15)
    elapsed, body = results[0]
    assert elapsed < 5
    assert [e["post"]["post_id"] for e in body["events"]] == [pid]


def test_times_out_empty(api: Api) -> None:
    g = RelayGroup(api)
    token = g.token(g.owner)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    started = time.monotonic()
    body = api.get(f"{g.base}/events", token=token, query={"after": cursor, "timeout": 1})
    assert 0.9 < time.monotonic() - started < 3
    assert body.get_json() == {"events": [], "cursor": cursor, "more": False}


def test_many_events_page(api: Api) -> None:
    g = RelayGroup(api)
    g.f.add_members(120)
    g.sync()
    token = g.token(g.owner)
    first = api.get(f"{g.base}/events", token=token).get_json()
    assert len(first["events"]) == 100 and first["more"] is True
    rest = api.get(f"{g.base}/events", token=token, query={"after": first["cursor"]}).get_json()
    assert [e["seq"] for e in first["events"] + rest["events"]] == list(range(121))


def test_a_member_removed_while_waiting_is_refused_not_answered(api: Api) -> None:
    """The wake that the removal itself rings is answered with not_a_member, no events: the
    membership is read again after waiting, with the counter."""
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    token = g.token(alice)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    poll = in_background(lambda: Api(api.app).get(
        f"{g.base}/events", token=token, query={"after": cursor, "timeout": 20}))
    time.sleep(0.3)
    g.f.remove(alice)
    g.sync()
    response = poll.result()
    assert response.status_code == 403 and code(response) == "not_a_member"
    assert "events" not in response.get_json()


def test_a_poll_answered_at_once_reads_the_session_once(api: Api) -> None:
    g = RelayGroup(api)
    token = g.token(g.owner)
    with statements_sent(api.app) as sent:
        body = api.get(f"{g.base}/events", token=token, query={"timeout": 5}).get_json()
    sessions = [statement for statement in sent if "FROM sessions" in statement]
    assert [e["seq"] for e in body["events"]] == [0] and len(sessions) == 1


@contextmanager
def _confirmed(api: Api, g: RelayGroup) -> Iterator[Watch]:
    """A watch held on the group, its counter confirmed by the safety re-read (due every
    2 s): this process is then sure nothing is new (the condition for using a pass)."""
    wakeup = services_of(api.app).wakeup
    with wakeup.watch(g.f.group_id) as held:
        wakeup.reread()
        yield held


def test_a_pass_lets_a_long_poll_asked_again_wait_without_a_read_until_the_log_changes(
        api: Api) -> None:
    """Alice's long-poll left a pass; asked again while nothing came since, it waits with no
    read. Once she is removed (a log entry: an event past the pass), her next ask reads
    her session and membership again and is refused, whatever cursor it sends."""
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    token = g.token(alice)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    with _confirmed(api, g) as held:
        assert services_of(api.app).wakeup.nothing_beyond(held, int(cursor))
        with statements_sent(api.app) as sent:
            quiet = api.get(f"{g.base}/events", token=token,
                            query={"after": cursor, "timeout": 1})
        assert quiet.get_json() == {"events": [], "cursor": cursor, "more": False}
        # (the process's own safety re-reads of watched counters go on meanwhile)
        assert [statement for statement in sent if "FROM sessions" in statement] == []
        g.f.remove(alice)
        g.sync()
        for after in (cursor, str(int(cursor) + 1000)):
            with statements_sent(api.app) as sent:
                response = api.get(f"{g.base}/events", token=token,
                                   query={"after": after, "timeout": 1})
            assert response.status_code == 403 and code(response) == "not_a_member"
            assert len([statement for statement in sent if "FROM sessions" in statement]) == 1


def test_a_lone_waiter_asking_again_reads_nothing(api: Api) -> None:
    """The usual small group: one member waiting on this process. Her long-poll times out
    and she asks again at once, as the SDK does: the group's news, kept a while after its
    last waiter left, still vouches for the counter, so her pass is used and nothing read."""
    g = RelayGroup(api)
    token = g.token(g.owner)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    wakeup = services_of(api.app).wakeup
    first = in_background(lambda: Api(api.app).get(
        f"{g.base}/events", token=token, query={"after": cursor, "timeout": 2}))
    deadline = time.monotonic() + 30
    while wakeup.news.waiting() == 0 and time.monotonic() < deadline:
        time.sleep(0.01)
    wakeup.reread()  # (the safety re-read, due every 2 s while she waits)
    assert first.result().get_json() == {"events": [], "cursor": cursor, "more": False}
    assert wakeup.news.waiting() == 0  # nobody waits for the group now...
    wakeup.reread()  # ...when the next re-read comes: the group's news is still kept
    with statements_sent(api.app) as sent:
        again = api.get(f"{g.base}/events", token=token, query={"after": cursor, "timeout": 1})
    assert again.get_json() == {"events": [], "cursor": cursor, "more": False}
    # No session read, no counter read (the safety re-reads, of every kept group at once,
    # may run meanwhile: those are the process's, not this request's).
    assert [statement for statement in sent if "FROM sessions" in statement
            or ("FROM groups" in statement and " IN " not in statement)] == []


def test_a_pass_that_cannot_vouch_costs_one_read(api: Api) -> None:
    """A session with a pass whose group this process keeps no news of (or cannot vouch
    for): one statement, session, membership and counter, as a first long-poll costs."""
    # The wake-up's listener runs before the group exists: a listener started by the poll
    # itself re-reads every watched group as it starts, which may vouch for this one before
    # the poll asks (then it reads nothing at all, rightly: not what this test is about).
    wakeup = services_of(api.app).wakeup
    with wakeup.watch(bytes(32)):
        deadline = time.monotonic() + 5  # (a bound: it listens within ms, if it can)
        while wakeup.listening() < 0 and time.monotonic() < deadline:
            time.sleep(0.01)
    g = RelayGroup(api)
    token = g.token(g.owner)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    with statements_sent(api.app) as sent:
        quiet = api.get(f"{g.base}/events", token=token, query={"after": cursor, "timeout": 1})
    assert quiet.get_json() == {"events": [], "cursor": cursor, "more": False}
    mine = [statement for statement in sent if "FROM sessions" in statement
            or ("FROM groups" in statement and " IN " not in statement)]
    assert len(mine) == 1 and "groups.event_seq" in mine[0]


def test_refused_sessions_never_enter_the_waiting_room(
        api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """An invite session, a session of another group, a removed member: each refused before
    the group is watched in this process (no entry made for them, no background work
    started, no wait for the listener). (A removed member still holding a pass is refused
    by the one read the pass then costs: see the next test.)"""
    g = RelayGroup(api)
    other = RelayGroup(api, seed="another group")
    alice = g.f.add_member()
    g.sync()
    _link, ticket = real_invite(g)
    alice_token = g.token(alice)
    cursor = api.get(f"{g.base}/events", token=g.token(g.owner),
                     query={"timeout": 0}).get_json()["cursor"]
    g.f.remove(alice)
    g.sync()
    wakeup = services_of(api.app).wakeup
    entered: list[bytes] = []
    watch = wakeup.watch

    def recording(group_id: bytes) -> Any:
        entered.append(group_id)
        return watch(group_id)

    monkeypatch.setattr(wakeup, "watch", recording)
    refused = [(g.invite_token(ticket.invite_id, ticket.invite_sk), 403, "forbidden"),
               (other.token(other.owner), 401, "unauthenticated"),
               (alice_token, 403, "not_a_member")]
    for token, status, expected in refused:
        response = api.get(f"{g.base}/events", token=token,
                           query={"after": cursor, "timeout": 5})
        assert (response.status_code, code(response)) == (status, expected)
    assert entered == []


def test_a_pass_starts_a_wait_only_at_its_own_cursor_and_goes_when_refused(api: Api) -> None:
    """A cursor beyond the pass's counter (no honest client sends one) is read as usual; a
    session refused for the group loses its pass, so its next ask is read and refused."""
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    token = g.token(alice)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    passes = services_of(api.app).passes
    with _confirmed(api, g):
        with statements_sent(api.app) as sent:
            far = api.get(f"{g.base}/events", token=token,
                          query={"after": str(int(cursor) + 1000), "timeout": 1})
        assert far.status_code == 200
        assert len([statement for statement in sent if "FROM sessions" in statement]) == 1
        g.f.remove(alice)
        g.sync()
        token_hash = session_token_hash(b64decode(token))
        assert passes.live(token_hash, services_of(api.app).clock())
        refused = api.get(f"{g.base}/events", token=token, query={"after": cursor, "timeout": 1})
        assert refused.status_code == 403 and code(refused) == "not_a_member"
        assert not passes.live(token_hash, services_of(api.app).clock())


def test_a_pass_is_not_used_past_its_session_s_expiry(api: Api, clock: FakeClock) -> None:
    g = RelayGroup(api)
    token = g.token(g.owner)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    with _confirmed(api, g) as held:
        assert services_of(api.app).wakeup.nothing_beyond(held, int(cursor))
        clock.advance(services_of(api.app).settings.session_ttl_s * 1000 + 1)
        response = api.get(f"{g.base}/events", token=token,
                           query={"after": cursor, "timeout": 1})
        assert response.status_code == 401 and code(response) == "session_expired"


def test_passes_are_per_session_and_group_and_bounded() -> None:
    passes = Passes(limit=2)
    passes.issue(b"a", Pass(b"g1", expires_at_ms=100, seq=5), now_ms=0)
    assert passes.get(b"a", b"g1", now_ms=99) == Pass(b"g1", 100, 5)
    assert passes.get(b"a", b"g2", now_ms=99) is None  # another group
    assert passes.get(b"a", b"g1", now_ms=100) is None  # expired
    assert passes.get(b"b", b"g1", now_ms=0) is None  # another session
    passes.issue(b"b", Pass(b"g1", 200, 5), now_ms=0)
    passes.issue(b"c", Pass(b"g1", 200, 5), now_ms=0)
    assert len(passes) == 2 and passes.get(b"a", b"g1", now_ms=0) is None  # oldest dropped
    passes.issue(b"d", Pass(b"g1", 300, 5), now_ms=250)  # b and c expired: gone
    assert len(passes) == 1 and passes.live(b"d", now_ms=250)
