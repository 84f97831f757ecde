"""Relay-side abuse: who may call what, the challenge handshake, and bodies just too big.

Every route that needs a session is called by everyone who should be refused: nobody, a
garbage or unknown token, a session of another group, a removed member, a member who left,
an invite holder's read session, an expired session, and a plain member on admin routes. (A
former member may read the log, up to the entry that ended its membership, and nothing else.)
The handshake is attacked with expired, replayed, burned, cross-member and cross-group
challenges. Every route gets a body one byte over its limit (and one just under), and every
schema bound is crossed by one. Each answer must be the documented JSON error with its stable
code (never a 500), and nothing may be written.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from flask import Flask
from hypothesis import given
from hypothesis import strategies as st
from werkzeug.test import TestResponse

from tests.api.conftest import make_app
from tests.api.helpers import Api, FakeClock, RelayGroup, join_request, real_invite
from tests.crypto.logfactory import T0
from tests.fuzz.conftest import ABUSE_CASES, count, fuzz_settings
from tests.fuzz.corpus import json_values
from tests.fuzz.responses import GARBAGE_BODIES
from vault.api.blueprints import (  # noqa: F401 - registering the routes fills REGISTRY
    auth,
    blobs,
    events,
    grants,
    groups,
    health,
    inbox,
    invites,
    posts,
)
from vault.api.db import db
from vault.api.models import ALL_TABLES
from vault.api.registry import DEFAULT_MAX_BODY, RAW, REGISTRY, RouteSpec
from vault.api.schemas import (
    MAX_ENTRY_BYTES,
    MAX_ENVELOPE_BYTES,
    MAX_GRANT_BYTES,
    MAX_GRANTS,
    MAX_JOIN_REQUEST_BYTES,
)
from vault.crypto.auth import sign_member_challenge
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import all_error_classes
from vault.crypto.log_entries import Role, RotateBody

KNOWN_CODES = set(all_error_classes())
MAX_BLOB = 64 * 1024
CASES = ABUSE_CASES


@dataclass
class Relay:
    app: Flask
    api: Api
    clock: FakeClock
    g: RelayGroup
    other: RelayGroup
    tokens: dict[str, str]
    params: dict[str, str]
    entries: dict[str, str]


def _error(response: TestResponse, status: int | tuple[int, ...], code: str | tuple[str, ...],
           case: str, *, record: bool = True) -> None:
    """The answer is a JSON error with the expected status and stable code."""
    if record:
        CASES.append(case)
    statuses = (status,) if isinstance(status, int) else status
    codes = (code,) if isinstance(code, str) else code
    body = response.get_json(silent=True)
    assert response.status_code != 500, (case, response.data[:300])
    assert response.mimetype == "application/json", (case, response.status_code)
    assert isinstance(body, dict) and set(body) == {"error"}, (case, response.data[:300])
    assert set(body["error"]) == {"code", "message"}, (case, body)
    assert body["error"]["code"] in KNOWN_CODES, (case, body)
    assert response.status_code in statuses and body["error"]["code"] in codes, \
        (case, response.status_code, body)


def _counts(app: Flask) -> dict[str, int]:
    with app.app_context():
        counts = {t: int(db.session.execute(sa.text(f"SELECT COUNT(*) FROM {t}")).scalar_one())
                  for t in ALL_TABLES if t not in ("auth_challenges", "sessions")}
        db.session.remove()
        return counts


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Relay]:
    path: Path = tmp_path_factory.mktemp("abuse") / "relay.db"
    clock = FakeClock(T0 + 3_600_000)
    app = make_app(f"sqlite:///{path}", clock, VAULT_AUTO_MIGRATE="1",
                   VAULT_MAX_BLOB_BYTES=MAX_BLOB)
    api = Api(app)
    g = RelayGroup(api, "abuse-a")
    alice, bob, carol = g.f.add_members(3)
    admin = g.f.add_member(Role.ADMIN)
    link, ticket = real_invite(g)
    g.sync()
    other = RelayGroup(api, "abuse-b")
    tokens = {name: g.token(who) for name, who in
              (("owner", g.owner), ("alice", alice), ("bob", bob), ("carol", carol),
               ("admin", admin))}
    tokens["other_group"] = other.token(other.owner)
    tokens["invite"] = g.invite_token(ticket.invite_id, ticket.invite_sk)
    pid, response = g.put_post(alice)
    assert response.status_code == 201
    blob = b64encode(b"\x07" * 16)
    assert api.put(f"{g.base}/blobs/{blob}", data=b"\x01" * 296,
                   content_type="application/octet-stream", token=tokens["alice"],
                   query={"post_id": pid}).status_code == 201
    joiner, request_b64 = join_request(g, link)
    assert api.post(f"{g.base}/join-requests",
                    json={"request": request_b64}).status_code == 201
    # Entries each caller could sign (POST /log authenticates the entry's author).
    entries = {name: b64encode(g.f.make(who, RotateBody(9, bytes(32))).raw) for name, who in
               (("owner", g.owner), ("alice", alice), ("bob", bob), ("carol", carol),
                ("admin", admin))}
    entries["other_group"] = b64encode(other.f.make(other.owner, RotateBody(9, bytes(32))).raw)
    g.f.remove(bob)
    g.f.leave(carol)
    g.sync()
    # An expired session: issued, then its clock runs out (sessions last an hour).
    saved = clock.now
    clock.now = saved - 3_601_000
    tokens["expired"] = g.token(alice, fresh=True)
    clock.now = saved
    g.tokens[alice.sign_pk] = tokens["alice"]
    params = {"gid": g.gid, "post_id": pid, "blob_id": blob,
              "joiner": b64encode(joiner.sign_pk), "iid": b64encode(ticket.invite_id),
              "item": b64encode(b"\x07" * 16)}
    yield Relay(app, api, clock, g, other, tokens, params, entries)
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


def _path(spec: RouteSpec, params: dict[str, str]) -> str:
    return re.sub(r"<(?:\w+:)?(\w+)>", lambda m: params[m.group(1)], spec.rule)


def _query(spec: RouteSpec, relay: Relay) -> dict[str, str] | None:
    """The query a route requires (an attachment names its post)."""
    return {"post_id": relay.params["post_id"]} if spec.body == RAW else None


def _body(spec: RouteSpec, relay: Relay, author: str) -> dict[str, Any]:
    """A body (and query) that would pass validation, so refusals come from authentication."""
    if spec.body == RAW:
        return {"data": b"\x01" * 296, "content_type": "application/octet-stream",
                "query": _query(spec, relay)}
    if spec.body is None:
        return {}
    name = spec.body.__name__
    _pid, env = relay.g.envelope(relay.g.owner)
    bodies: dict[str, Any] = {
        "AppendRequest": {"entry": relay.entries.get(author, relay.entries["alice"])},
        "GrantsUpload": {"epoch": 0, "grants": ["AA"]},
        "PutPostRequest": {"envelope": env},
        "RulesCardBody": {"card": b64encode(bytes(256))},
        "PutInboxRequest": {"envelope": b64encode(bytes(256))},
    }
    return {"json": bodies.get(name, {})}


def _member_routes() -> list[RouteSpec]:
    return [s for s in REGISTRY if s.auth != "none" and s.rule.startswith("/v1/groups/<gid>")]


CALLERS = {
    # caller: (token, status, code) for member-only routes
    "nobody": (None, 401, "unauthenticated"),
    "not_bearer": ("Basic dXNlcjpwYXNz", 401, "unauthenticated"),
    "garbage": ("!!!not-a-token!!!", 401, "unauthenticated"),
    "unknown": (b64encode(b"\x11" * 32), 401, "unauthenticated"),
    "too_long": ("A" * 5000, 401, "unauthenticated"),
    "other_group": ("other_group", 401, "unauthenticated"),
    "removed": ("bob", 403, "not_a_member"),
    "left": ("carol", 403, "not_a_member"),
    "expired": ("expired", 401, "session_expired"),
    "invite": ("invite", 403, "forbidden"),
}


def test_non_members_are_refused_on_every_member_route(relay: Relay) -> None:
    before = _counts(relay.app)
    routes = _member_routes()
    assert len(routes) >= 11
    for spec in routes:
        for caller, (token_name, status, code) in CALLERS.items():
            token = relay.tokens.get(token_name or "", token_name)
            if caller in ("invite", "removed", "left") and spec.auth == "member_or_invite":
                continue  # invite holders and former members may read the log (tested below)
            if caller in ("not_bearer",):
                headers = {"Authorization": token_name or ""}
                token = None
            else:
                headers = {}
            author = {"removed": "bob", "left": "carol", "other_group": "other_group"}.get(
                caller, "alice")
            kwargs = _body(spec, relay, author)
            response = relay.api.call(spec.method, _path(spec, relay.params), token=token,
                                      headers=headers, **kwargs)
            _error(response, status, code, f"{caller} {spec.method} {spec.rule}")
    assert _counts(relay.app) == before


def test_invite_sessions_read_the_log_and_nothing_else(relay: Relay) -> None:
    response = relay.api.get(f"{relay.g.base}/log", token=relay.tokens["invite"])
    CASES.append("invite GET log")
    assert response.status_code == 200 and response.get_json()["entries"]


def test_former_members_read_the_log_only_up_to_their_departure(relay: Relay) -> None:
    """bob was removed, then carol left (in that order, the last two entries of the
    fixture's log): each reads up to its own departure, however far the log has grown
    since."""
    g = relay.g
    g.f.rotate()  # (carol's leave left a rotation pending)
    g.sync()
    full = relay.api.get(f"{g.base}/log", token=relay.tokens["owner"],
                         query={"limit": 1000}).get_json()
    for name in ("bob", "carol"):
        response = relay.api.get(f"{g.base}/log", token=relay.tokens[name],
                                 query={"limit": 1000})
        CASES.append(f"{name} (former member) GET log")
        assert response.status_code == 200, response.get_json()
        body = response.get_json()
        assert body["head_seq"] < full["head_seq"]
        assert body["entries"] == full["entries"][:body["head_seq"] + 1]
    removed = relay.api.get(f"{g.base}/log", token=relay.tokens["bob"]).get_json()
    left = relay.api.get(f"{g.base}/log", token=relay.tokens["carol"]).get_json()
    assert left["head_seq"] == removed["head_seq"] + 1


ADMIN_ROUTES = [("POST", "/grants"), ("GET", "/join-requests"),
                ("DELETE", "/join-requests/<joiner>")]


def test_members_are_refused_on_admin_routes(relay: Relay) -> None:
    before = _counts(relay.app)
    for spec in _member_routes():
        suffix = spec.rule.removeprefix("/v1/groups/<gid>")
        if (spec.method, suffix) not in ADMIN_ROUTES:
            continue
        response = relay.api.call(spec.method, _path(spec, relay.params),
                                  token=relay.tokens["alice"], **_body(spec, relay, "alice"))
        _error(response, 403, "forbidden", f"member {spec.method} {spec.rule}")
    # Signing a log entry with another member's key than the session's.
    response = relay.api.post(f"{relay.g.base}/log", json={"entry": relay.entries["owner"]},
                              token=relay.tokens["alice"])
    _error(response, 403, "forbidden", "entry of another member")
    # A member's entry that the rules refuse (a plain member may not rotate).
    response = relay.api.post(f"{relay.g.base}/log", json={"entry": relay.entries["alice"]},
                              token=relay.tokens["alice"])
    _error(response, (409, 422), ("log_conflict", "log_unauthorized"), "member rotates")
    assert _counts(relay.app) == before


# --- the challenge handshake ------------------------------------------------------------------


def _challenge(relay: Relay, g: RelayGroup, member: bytes) -> bytes:
    response = relay.api.post(f"{g.base}/auth/challenge", json={"member": b64encode(member)})
    assert response.status_code == 201, response.get_json()
    return b64decode(response.get_json()["challenge"])


def _session(relay: Relay, g: RelayGroup, member: bytes, challenge: bytes,
             signature: bytes) -> TestResponse:
    return relay.api.post(f"{g.base}/auth/session", json={
        "member": b64encode(member), "challenge": b64encode(challenge),
        "signature": b64encode(signature)})


def test_challenges_expire_are_single_use_and_bound(relay: Relay) -> None:
    g, clock = relay.g, relay.clock
    owner = g.owner
    alice = next(i for pk, i in g.f.identities.items()
                 if g.tokens.get(pk) == relay.tokens["alice"])
    bob_pk = next(pk for pk, t in g.tokens.items() if t == relay.tokens["bob"])
    outsider = g.f.identity()

    # expired: answered 61 s after it was issued
    challenge = _challenge(relay, g, owner.sign_pk)
    clock.advance(61_000)
    try:
        response = _session(relay, g, owner.sign_pk, challenge,
                            sign_member_challenge(owner, g.f.group_id, challenge))
    finally:
        clock.advance(-61_000)
    _error(response, 401, "challenge_expired", "expired challenge")

    # replayed: the same signed answer twice
    challenge = _challenge(relay, g, owner.sign_pk)
    signature = sign_member_challenge(owner, g.f.group_id, challenge)
    assert _session(relay, g, owner.sign_pk, challenge, signature).status_code == 201
    _error(_session(relay, g, owner.sign_pk, challenge, signature), 401, "challenge_expired",
           "replayed challenge signature")

    # a wrong answer burns the challenge: the right one afterwards is refused
    challenge = _challenge(relay, g, owner.sign_pk)
    bad = sign_member_challenge(alice, g.f.group_id, challenge)
    _error(_session(relay, g, owner.sign_pk, challenge, bad), 401, "unauthenticated",
           "signature by another key")
    _error(_session(relay, g, owner.sign_pk, challenge,
                    sign_member_challenge(owner, g.f.group_id, challenge)),
           401, "challenge_expired", "challenge burned by a wrong answer")

    # a challenge issued to one member, answered (validly) by another
    challenge = _challenge(relay, g, owner.sign_pk)
    _error(_session(relay, g, alice.sign_pk, challenge,
                    sign_member_challenge(alice, g.f.group_id, challenge)),
           401, "challenge_expired", "challenge of another member")

    # signed for another group's id
    challenge = _challenge(relay, g, alice.sign_pk)
    _error(_session(relay, g, alice.sign_pk, challenge,
                    sign_member_challenge(alice, relay.other.f.group_id, challenge)),
           401, "unauthenticated", "signature bound to another group")

    # a challenge of group A presented to group B (alice is not a member there)
    _error(_session(relay, relay.other, alice.sign_pk, challenge,
                    sign_member_challenge(alice, relay.other.f.group_id, challenge)),
           403, "not_a_member", "challenge of another group")
    other_owner = relay.other.owner
    _error(_session(relay, relay.other, other_owner.sign_pk, challenge,
                    sign_member_challenge(other_owner, relay.other.f.group_id, challenge)),
           401, "challenge_expired", "challenge of another group, by its member")

    # a challenge that was never issued
    made_up = b"\x42" * 32
    _error(_session(relay, g, owner.sign_pk, made_up,
                    sign_member_challenge(owner, g.f.group_id, made_up)),
           401, "challenge_expired", "made-up challenge")

    # outsiders and unknown groups get no challenge at all (a former member does: its
    # session reads the log up to its departure, and nothing else)
    response = relay.api.post(f"{g.base}/auth/challenge",
                              json={"member": b64encode(outsider.sign_pk)})
    _error(response, 403, "not_a_member", "challenge for outsider")
    response = relay.api.post(f"{g.base}/auth/challenge", json={"member": b64encode(bob_pk)})
    assert response.status_code == 201, response.get_json()
    unknown_group = b64encode(bytes(32))
    response = relay.api.post(f"/v1/groups/{unknown_group}/auth/challenge",
                              json={"member": b64encode(owner.sign_pk)})
    _error(response, 404, "not_found", "challenge for an unknown group")
    response = relay.api.post(f"{g.base}/auth/challenge",
                              json={"invite_id": b64encode(b"\x00" * 16)})
    _error(response, 404, "invite_unknown", "challenge for an unknown invite")
    response = relay.api.post(f"{g.base}/auth/challenge",
                              json={"invite_id": b64encode(b"\x00" * 16),
                                    "member": b64encode(owner.sign_pk)})
    _error(response, 400, "invalid_request", "challenge for two subjects")


def test_a_member_removed_between_challenge_and_session_reads_only_the_log(
        relay: Relay) -> None:
    g = relay.g
    dave = g.f.add_member()
    g.sync()
    challenge = _challenge(relay, g, dave.sign_pk)
    signature = sign_member_challenge(dave, g.f.group_id, challenge)
    g.f.remove(dave)
    g.sync()
    removal = g.f.state.seq
    response = _session(relay, g, dave.sign_pk, challenge, signature)
    assert response.status_code == 201, response.get_json()
    token = response.get_json()["token"]
    _error(relay.api.get(f"{g.base}/posts", token=token), 403, "not_a_member",
           "removed between challenge and session, then GET posts")
    log = relay.api.get(f"{g.base}/log", token=token, query={"from": removal}).get_json()
    assert log["head_seq"] == removal and len(log["entries"]) == 1


# --- bodies just too big -------------------------------------------------------------------------


def _limit(spec: RouteSpec) -> int:
    return MAX_BLOB if spec.body == RAW else spec.max_body


def _token_for(relay: Relay, spec: RouteSpec) -> str | None:
    return None if spec.auth == "none" else relay.tokens["owner"]


def test_a_body_one_byte_over_each_limit_is_refused(relay: Relay) -> None:
    before = _counts(relay.app)
    for spec in REGISTRY:
        path = _path(spec, relay.params)
        token = _token_for(relay, spec)
        limit = _limit(spec)
        if spec.body is None:
            # No body expected: any body is refused, a huge one without being read.
            for size in (1, DEFAULT_MAX_BODY + 1):
                response = relay.api.call(spec.method, path, token=token, data=b"x" * size,
                                          content_type="application/octet-stream",
                                          query=_query(spec, relay))
                _error(response, (400, 413), ("invalid_request", "payload_too_large"),
                       f"{size}-byte body on {spec.method} {spec.rule}")
            continue
        content_type = "application/octet-stream" if spec.body == RAW else "application/json"
        over = relay.api.call(spec.method, path, token=token, data=b" " * (limit + 1),
                              content_type=content_type, query=_query(spec, relay))
        _error(over, 413, "payload_too_large", f"limit+1 on {spec.method} {spec.rule}")
        if spec.body != RAW:  # at the limit: read, then refused as JSON that is not valid
            at = relay.api.call(spec.method, path, token=token, data=b" " * limit,
                                content_type=content_type)
            _error(at, 400, ("invalid_json", "invalid_request"),
                   f"limit on {spec.method} {spec.rule}")
    assert _counts(relay.app) == before


def _over_b64(size: int) -> str:
    """Canonical base64url text of one byte more than *size*."""
    return b64encode(b"\x00" * (size + 1))


def test_every_field_one_over_its_bound_is_refused(relay: Relay) -> None:
    g, api, owner = relay.g, relay.api, relay.tokens["owner"]
    pid = relay.params["post_id"]
    before = _counts(relay.app)
    cases: list[tuple[str, str, dict[str, Any], int, str | tuple[str, ...]]] = [
        ("POST", "/v1/groups", {"json": {"genesis": _over_b64(MAX_ENTRY_BYTES)}}, 400,
         "invalid_request"),
        ("POST", f"{g.base}/log", {"json": {"entry": _over_b64(MAX_ENTRY_BYTES)},
                                   "token": owner}, 400, "invalid_request"),
        ("PUT", f"{g.base}/posts/{pid}", {"json": {"envelope": _over_b64(MAX_ENVELOPE_BYTES)},
                                          "token": owner}, 400, "invalid_request"),
        ("POST", f"{g.base}/join-requests",
         {"json": {"request": _over_b64(MAX_JOIN_REQUEST_BYTES)}}, 400, "invalid_request"),
        ("POST", f"{g.base}/grants", {"json": {"epoch": 0, "grants": [_over_b64(MAX_GRANT_BYTES)]},
                                      "token": owner}, 400, "invalid_request"),
        ("POST", f"{g.base}/grants", {"json": {"epoch": 0, "grants": ["AA"] * (MAX_GRANTS + 1)},
                                      "token": owner}, 400, "invalid_request"),
        ("POST", f"{g.base}/grants", {"json": {"epoch": 2**62 + 1, "grants": ["AA"]},
                                      "token": owner}, 400, "invalid_request"),
        ("POST", f"{g.base}/auth/challenge", {"json": {"member": _over_b64(32)}}, 400,
         "invalid_request"),
        ("POST", f"{g.base}/auth/session", {"json": {
            "member": b64encode(bytes(32)), "challenge": b64encode(bytes(32)),
            "signature": _over_b64(64)}}, 400, "invalid_request"),
        ("GET", f"{g.base}/log", {"query": {"limit": 1001}, "token": owner}, 400,
         "invalid_request"),
        ("GET", f"{g.base}/log", {"query": {"from": 2**62 + 1}, "token": owner}, 400,
         "invalid_request"),
        ("GET", f"{g.base}/posts", {"query": {"limit": 251}, "token": owner}, 400,
         "invalid_request"),
        ("GET", f"{g.base}/posts", {"query": {"newest": 101}, "token": owner}, 400,
         "invalid_request"),
        ("GET", f"{g.base}/posts", {"query": {"after": "9" * 19}, "token": owner}, 400,
         "invalid_request"),
        ("GET", f"{g.base}/events", {"query": {"timeout": 31}, "token": owner}, 400,
         "invalid_request"),
        ("GET", f"{g.base}/grants", {"query": {"epoch": 2**62 + 1}, "token": owner}, 400,
         "invalid_request"),
        ("GET", f"/v1/groups/{b64encode(bytes(33))}/log", {"token": owner}, 400,
         ("malformed", "invalid_request")),
        ("GET", f"/v1/groups/{'A' * 5000}/log", {"token": owner}, (400, 404),
         ("malformed", "invalid_request", "not_found")),
        ("GET", f"{g.base}/blobs/{b64encode(bytes(17))}", {"token": owner}, 400,
         ("malformed", "invalid_request")),
        ("PUT", f"{g.base}/blobs/{b64encode(bytes(16))}", {
            "data": b"\x01" * (MAX_BLOB + 1), "content_type": "application/octet-stream",
            "token": owner, "query": {"post_id": pid}}, 413, "payload_too_large"),
        ("PUT", f"{g.base}/blobs/{b64encode(bytes(16))}", {
            "data": b"\x01", "content_type": "application/octet-stream", "token": owner,
            "query": {"post_id": _over_b64(16)}}, 400, "invalid_request"),
        ("PUT", f"{g.base}/blobs/{b64encode(bytes(16))}", {
            "data": b"\x01", "content_type": "application/octet-stream", "token": owner},
         400, "invalid_request"),
        ("PATCH", f"{g.base}/posts/{pid}", {"token": owner}, 405, "method_not_allowed"),
        ("GET", "/v1/nothing-here", {}, 404, "not_found"),
    ]
    for method, path, kwargs, status, code in cases:
        response = api.call(method, path, **kwargs)
        status_ok = status if isinstance(status, tuple) else (status,)
        _error(response, status_ok, code, f"bound {method} {path[:60]} {sorted(kwargs)}")
    assert _counts(relay.app) == before


def test_rate_limits_answer_429_with_retry_after(tmp_path: Path) -> None:
    app = make_app(f"sqlite:///{tmp_path / 'relay.db'}", FakeClock(T0),
                   VAULT_AUTO_MIGRATE="1", VAULT_RATE_LIMIT_EXPENSIVE=0.5,
                   VAULT_RATE_BURST_EXPENSIVE=2)
    api = Api(app)
    path = f"/v1/groups/{b64encode(bytes(32))}/auth/challenge"
    answers = [api.post(path, json={"member": b64encode(bytes(32))}) for _ in range(3)]
    assert [r.status_code for r in answers[:2]] == [404, 404]
    _error(answers[2], 429, "rate_limited", "expensive route over its rate")
    assert int(answers[2].headers["Retry-After"]) >= 1
    with app.app_context():
        db.engine.dispose()


# --- regressions: bodies cut short or over the limit, as gunicorn hands them over --------------


def _terminated(relay: Relay, method: str, path: str, data: bytes, *, declared: int | None,
                content_type: str, token: str | None) -> TestResponse:
    """A request whose input the server marks as terminated (as gunicorn does): werkzeug
    then returns whatever arrived, so the relay must check the body's length itself."""
    import io

    overrides: dict[str, Any] = {"wsgi.input_terminated": True, "wsgi.input": io.BytesIO(data)}
    headers = {"Content-Type": content_type}
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    if declared is not None:
        overrides["CONTENT_LENGTH"] = str(declared)
    else:
        headers["Transfer-Encoding"] = "chunked"
    return relay.api.client.open(path, method=method, headers=headers,
                                 environ_overrides=overrides)


def test_a_body_cut_short_is_never_taken_for_a_whole_one(relay: Relay) -> None:
    """Found against gunicorn: a client that disconnected half-way through a blob upload
    left the first half stored as the blob (201), so its retry with the whole blob met
    409 blob_conflict forever (and the post waiting on it never left the outbox)."""
    g = relay.g
    before = _counts(relay.app)
    blob = b64encode(b"\x0c" * 16)
    post = relay.params["post_id"]
    response = _terminated(relay, "PUT", f"{g.base}/blobs/{blob}?post_id={post}", b"\x01" * 500,
                           declared=1000, content_type="application/octet-stream",
                           token=relay.tokens["owner"])
    _error(response, 400, "invalid_request", "blob cut short")
    pid, env = g.envelope(g.owner)
    whole = json.dumps({"envelope": env}).encode()
    response = _terminated(relay, "PUT", f"{g.base}/posts/{pid}", whole[: len(whole) // 2],
                           declared=len(whole), content_type="application/json",
                           token=relay.tokens["owner"])
    _error(response, 400, "invalid_request", "post cut short")
    assert _counts(relay.app) == before
    response = relay.api.put(f"{g.base}/blobs/{blob}", data=b"\x01" * 1000,
                             content_type="application/octet-stream",
                             token=relay.tokens["owner"], query={"post_id": post})
    assert response.status_code == 201  # the retry with the whole blob is stored


def test_a_chunked_body_over_the_limit_is_refused_not_truncated(relay: Relay) -> None:
    """Found against gunicorn: a chunked body longer than the endpoint's limit was read up
    to the limit and the rest ignored (a blob over VAULT_MAX_BLOB_BYTES was stored cut)."""
    g = relay.g
    before = _counts(relay.app)
    blob = b64encode(b"\x0d" * 16)
    path = f"{g.base}/blobs/{blob}?post_id={relay.params['post_id']}"
    response = _terminated(relay, "PUT", path, b"\x01" * (MAX_BLOB + 1),
                           declared=None, content_type="application/octet-stream",
                           token=relay.tokens["owner"])
    _error(response, 413, "payload_too_large", "chunked blob over the limit")
    response = _terminated(relay, "PUT", path, b"\x01" * MAX_BLOB,
                           declared=None, content_type="application/octet-stream",
                           token=relay.tokens["owner"])
    assert response.status_code == 201  # exactly at the limit: whole, and stored
    assert _counts(relay.app)["blobs"] == before["blobs"] + 1


# --- any bytes to any route, as a member -----------------------------------------------------


def _route_bodies(spec: RouteSpec, relay: Relay) -> st.SearchStrategy[tuple[bytes, str]]:
    """Bodies for *spec*: damaged versions of a valid one, random JSON, random bytes."""
    from tests.fuzz.responses import mutated_json

    valid = _body(spec, relay, "owner").get("json", {})
    types = st.sampled_from(["application/json", "application/octet-stream", "text/plain",
                             "application/json; charset=utf-16", ""])
    as_json = st.one_of(mutated_json(valid), json_values).map(
        lambda v: json.dumps(v).encode())
    return st.tuples(st.one_of(as_json, st.binary(max_size=400),
                               st.sampled_from(GARBAGE_BODIES)), types)


# The events long-poll takes no body; the schema tests cover it with timeout=0.
BODY_ROUTES = [spec for spec in REGISTRY if not spec.rule.endswith("/events")]


@pytest.mark.parametrize("spec", BODY_ROUTES, ids=lambda s: f"{s.method} {s.rule}")
def test_any_body_to_any_route_gets_a_typed_answer(relay: Relay, spec: RouteSpec) -> None:
    """As the group's owner (so requests reach the handlers): whatever the body and its
    content type, the answer is a documented JSON error (never a 500) or a success, and a
    refused request writes nothing."""
    path = _path(spec, relay.params)
    token = _token_for(relay, spec)

    @fuzz_settings(20)
    @given(body=_route_bodies(spec, relay))
    def run(body: tuple[bytes, str]) -> None:
        count(f"relay.{spec.method} {spec.rule}")
        data, content_type = body
        before = _counts(relay.app)
        response = relay.api.call(spec.method, path, token=token, data=data,
                                  content_type=content_type or None, query=_query(spec, relay))
        assert response.status_code < 500, (response.status_code, response.data[:300])
        if response.status_code >= 400:
            _error(response, response.status_code, tuple(KNOWN_CODES),
                   f"fuzzed body {spec.method} {spec.rule}", record=False)
            assert _counts(relay.app) == before, "a refused request wrote something"

    run()
