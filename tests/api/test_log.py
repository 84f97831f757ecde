"""Groups and the membership log: create, read, append as compare-and-swap."""

from __future__ import annotations

import threading

from flask import Flask

from tests.api.conftest import make_app, row_counts
from tests.api.helpers import Api, FakeClock, RelayGroup, code
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import AddBody, HistoryBody, HistoryPolicy, JoinBody, Role
from vault.crypto.log_verify import apply_entry, verify_log


def _accept(g: RelayGroup, entry: LogEntry) -> None:
    """Record on the factory that the relay accepted *entry* (built with f.make)."""
    g.f._builder.apply(entry, None)
    g.f.entries.append(entry)
    g.f._state = None
    g.pushed += 1


def test_create_is_idempotent(api: Api) -> None:
    g = RelayGroup(api)
    again = api.post("/v1/groups", json={"genesis": b64encode(g.f.genesis.raw)})
    assert again.status_code == 200
    assert again.get_json() == {"group_id": g.gid, "head_seq": 0}


def test_create_rejects_non_genesis(api: Api) -> None:
    g = RelayGroup(api)
    entry = g.f.append(g.owner, AddBody(g.f.identity().public, Role.MEMBER))
    response = api.post("/v1/groups", json={"genesis": b64encode(entry.raw)})
    assert response.status_code == 422 and code(response).startswith("log_")


def test_read_log_pages(api: Api) -> None:
    g = RelayGroup(api)
    g.f.add_members(5)
    g.sync()
    token = g.token(g.owner)
    body = api.get(f"{g.base}/log", token=token, query={"from": 2, "limit": 3}).get_json()
    assert body["head_seq"] == 5
    assert [b64decode(e) for e in body["entries"]] == g.f.raw[2:5]
    whole = api.get(f"{g.base}/log", token=token).get_json()["entries"]
    state = verify_log(g.f.group_id, [b64decode(e) for e in whole])
    assert state.head == g.f.state.head


def test_log_needs_a_session(api: Api) -> None:
    g = RelayGroup(api)
    response = api.get(f"{g.base}/log")
    assert response.status_code == 401 and code(response) == "unauthenticated"


def test_append_and_rules(api: Api) -> None:
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    # a plain member may not add anyone: the core's rule, as a 422 with its code
    entry = g.f.make(alice, AddBody(g.f.identity().public, Role.MEMBER))
    response = g.push_entry(entry, g.token(alice))
    assert response.status_code == 422 and code(response) == "log_unauthorized"
    # an entry must be sent by its author's session
    entry = g.f.make(g.owner, AddBody(g.f.identity().public, Role.MEMBER))
    response = g.push_entry(entry, g.token(alice))
    assert response.status_code == 403 and code(response) == "forbidden"
    # no session at all
    response = g.push_entry(entry)
    assert response.status_code == 401
    response = g.push_entry(entry, g.token(g.owner))
    assert response.status_code == 201
    body = response.get_json()
    assert body["seq"] == 2 and b64decode(body["head"]) == entry.hash


def test_the_history_setting_is_an_admins_entry(api: Api) -> None:
    """HISTORY (the group's history policy): an admin's entry is stored and served; a
    member's is refused with the core's code, and nothing is stored."""
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    refused = g.f.make(alice, HistoryBody(HistoryPolicy.ALL))
    response = g.push_entry(refused, g.token(alice))
    assert response.status_code == 422 and code(response) == "log_unauthorized"
    entry = g.f.make(g.owner, HistoryBody(HistoryPolicy.FROM_EPOCH, 0))
    response = g.push_entry(entry, g.token(g.owner))
    assert response.status_code == 201 and response.get_json()["seq"] == 2
    whole = api.get(f"{g.base}/log", token=g.token(alice)).get_json()["entries"]
    state = verify_log(g.f.group_id, [b64decode(e) for e in whole])
    assert state.history == HistoryBody(HistoryPolicy.FROM_EPOCH, 0)
    assert state.head == entry.hash


def test_stale_entry_is_a_conflict(api: Api) -> None:
    g = RelayGroup(api)
    stale = g.f.make(g.owner, AddBody(g.f.identity().public, Role.MEMBER))
    g.f.add_member()
    g.sync()
    response = g.push_entry(stale, g.token(g.owner))
    assert response.status_code == 409 and code(response) == "log_conflict"
    message = response.get_json()["error"]["message"]
    assert "entry 1" in message and b64encode(g.f.state.head) in message


def test_entry_of_another_group(api: Api) -> None:
    g = RelayGroup(api)
    h = RelayGroup(api, seed="other")
    entry = h.f.make(h.owner, AddBody(h.f.identity().public, Role.MEMBER))
    response = api.post(f"{g.base}/log", json={"entry": b64encode(entry.raw)},
                        token=g.token(g.owner))
    assert response.status_code in (403, 422)


def test_join_entry_needs_no_session(api: Api) -> None:
    g = RelayGroup(api)
    ticket = g.f.invite(max_uses=1)
    g.sync()
    joiner = g.f.join(ticket)
    response = g.push_entry(g.f.entries[-1])
    assert response.status_code == 201
    g.pushed += 1
    assert api.get(f"{g.base}/posts", token=g.token(joiner)).status_code == 200
    # a second use of a one-use invite is refused by the core's rule
    entry = g.f.make(g.f.identity(), AddBody(g.f.identity().public, Role.MEMBER))
    assert entry  # (only to show the factory moved on)


def test_concurrent_appends_have_one_winner(api: Api, app: Flask) -> None:
    g = RelayGroup(api)
    admins = [g.owner, *g.f.add_members(3, Role.ADMIN)]
    g.sync()
    tokens = [g.token(a) for a in admins]
    for _round in range(4):
        entries = [g.f.make(a, AddBody(g.f.identity().public, Role.MEMBER)) for a in admins]
        barrier = threading.Barrier(len(entries))
        results: list[tuple[int, LogEntry, str]] = []

        def send(entry: LogEntry, token: str, barrier: threading.Barrier = barrier,
                 results: list[tuple[int, LogEntry, str]] = results) -> None:
            client = app.test_client()
            barrier.wait()
            response = client.post(f"{g.base}/log", json={"entry": b64encode(entry.raw)},
                                   headers={"Authorization": f"Bearer {token}"})
            results.append((response.status_code, entry, code(response)
                            if response.status_code != 201 else ""))

        pairs = zip(entries, tokens, strict=True)
        threads = [threading.Thread(target=send, args=pair) for pair in pairs]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        statuses = sorted(status for status, _e, _c in results)
        assert statuses == [201] + [409] * (len(entries) - 1), results
        assert {c for s, _e, c in results if s == 409} == {"log_conflict"}
        _accept(g, next(e for s, e, _c in results if s == 201))
    served = api.get(f"{g.base}/log", token=tokens[0]).get_json()["entries"]
    assert [b64decode(e) for e in served] == g.f.raw
    verify_log(g.f.group_id, g.f.raw)


def test_state_rebuilt_from_database(database_url: str, clock: FakeClock) -> None:
    """A second relay process (a fresh app, empty cache) validates against the stored log."""
    first = make_app(database_url, clock)
    g = RelayGroup(Api(first))
    g.f.add_members(3)
    g.sync()
    second = make_app(database_url, clock)
    g.api = Api(second)
    g.tokens.clear()
    g.f.add_member()
    g.sync()
    g.api = Api(first)  # the first process's cache is now stale: it must extend it
    g.tokens.clear()
    g.f.add_member()
    g.sync()
    assert row_counts(first)["log_entries"] == len(g.f.entries)


def test_entries_dated_far_from_the_relay_clock(api: Api, clock: FakeClock) -> None:
    """The relay bounds entry timestamps with its own clock: at most 5 minutes behind
    (log_entry_stale, the relay's rule) or ahead (log_entry_invalid, the core's rule)."""
    g = RelayGroup(api)
    clock.advance(10 * 60_000)  # so "5 minutes ago" is still after the genesis (rule C4)
    token = g.token(g.owner)
    before = row_counts(api.app)
    for offset, status, error in ((-300_001, 422, "log_entry_stale"),
                                  (300_001, 422, "log_entry_invalid")):
        entry = g.f.make(g.owner, AddBody(g.f.identity().public, Role.MEMBER),
                         now_ms=clock.now + offset)
        response = g.push_entry(entry, token)
        assert response.status_code == status and code(response) == error, response.get_json()
        assert row_counts(api.app) == before
    for offset in (-299_000, 299_000):  # within the window on either side: accepted
        entry = g.f.make(g.owner, AddBody(g.f.identity().public, Role.MEMBER),
                         now_ms=clock.now + offset)
        response = g.push_entry(entry, token)
        assert response.status_code == 201, response.get_json()
        _accept(g, entry)


def test_backdated_join_cannot_use_an_expired_invite(api: Api, clock: FakeClock) -> None:
    """A JOIN dated before the invite's expiry, sent after it: the core alone would accept it
    (its invite rule reads the entry's own timestamp); the relay's clock refuses it."""
    g = RelayGroup(api)
    ticket = g.f.invite(max_uses=5, expires_in_ms=10 * 60_000)  # no approval needed
    g.sync()
    invited_at = g.f.now_ms
    clock.advance(20 * 60_000)  # the invite expired 10 minutes ago
    joiner = g.f.identity()
    body = JoinBody(ticket.invite_id, joiner.public, ticket.proof(joiner.public))
    backdated = g.f.make(joiner, body, now_ms=invited_at + 60_000)
    apply_entry(g.f.state, backdated)  # the core, without a clock, has no objection
    before = row_counts(api.app)
    response = g.push_entry(backdated)
    assert response.status_code == 422 and code(response) == "log_entry_stale"
    honest = g.f.make(joiner, body)  # dated now: past the expiry
    response = g.push_entry(honest)
    assert response.status_code == 410 and code(response) == "invite_expired"
    assert row_counts(api.app) == before
