"""Every relay answer the SDK's transport parses, fuzzed at the HTTP level.

Each endpoint method of :class:`vault_client._internal.transport.Transport` is called against
an httpx mock that answers with a damaged version of the genuine JSON shape, a garbage body,
an odd status or odd headers. Only typed :class:`VaultError` may come out (and, for the log
append alone, the SDK-internal ``AmbiguousAppend`` its caller resolves by re-reading the log).
No retry loop may spin: retries are bounded by ``retry_for`` (zero here) and sleeping is a
no-op that counts its calls.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from hypothesis import given
from hypothesis import strategies as st
from vault_client._internal.transport import AmbiguousAppend, InviteAuth, MemberAuth, Transport

from tests.fuzz.conftest import count, fuzz_settings
from tests.fuzz.corpus import corpus
from tests.fuzz.responses import Answer, answers
from vault.crypto.encoding import b64encode
from vault.crypto.errors import VaultError

EXAMPLES = 70
URL = "http://127.0.0.1:9"


def _genuine() -> dict[str, tuple[Any, int]]:
    c = corpus()
    entries = [b64encode(raw) for raw in list(c.entries.values())[:3]]
    pid = b64encode(c.opened.post_id)
    env = b64encode(c.envelope)
    pk = b64encode(c.group.alice.sign_pk)
    return {
        "health": ({"status": "ok", "database": "ok", "version": "0.1.0"}, 200),
        "create_group": ({"group_id": b64encode(c.state.group_id), "head_seq": 0}, 201),
        "read_log": ({"entries": entries, "head_seq": 2}, 200),
        "append": ({"seq": 3, "head": b64encode(c.state.head), "cursor": "12"}, 201),
        "submit_join_request": ({"joiner": pk, "invite_id": b64encode(bytes(16)),
                                 "status": "pending"}, 201),
        "join_requests": ({"requests": [{"joiner": pk, "invite_id": b64encode(bytes(16)),
                                         "request": b64encode(c.join_request),
                                         "created_at_ms": 1}]}, 200),
        "deny": ({"joiner": pk, "invite_id": b64encode(bytes(16)), "status": "denied"}, 200),
        "upload_grants": ({"epoch": 1, "stored": 1}, 201),
        "grants": ({"grants": [{"epoch": c.state.epoch, "grant": b64encode(c.grant)}]}, 200),
        "put_post": ({"post_id": pid, "cursor": "7"}, 201),
        "posts": ({"posts": [{"post_id": pid, "cursor": "7", "envelope": env, "deleted": False,
                              "created_at_ms": 1, "expires_at_ms": None},
                             {"post_id": b64encode(bytes(16)), "cursor": "8", "envelope": None,
                              "deleted": True, "created_at_ms": 2, "expires_at_ms": 5}],
                   "cursor": "8", "more": False}, 200),
        "delete_post": ({"post_id": pid, "cursor": "9", "deleted": True}, 200),
        "events": ({"events": [{"cursor": "9", "type": "log", "seq": 3, "entry": entries[0]}],
                    "cursor": "9", "more": False}, 200),
        "put_blob": ({"blob_id": b64encode(bytes(16)), "size": 10}, 201),
        "get_blob": (c.blob, 200),
        "challenge": ({"challenge": b64encode(bytes(32)), "expires_at_ms": 1}, 201),
        "session": ({"token": b64encode(bytes(32)), "expires_at_ms": 1}, 201),
    }


def _route(request: httpx.Request) -> str:
    path = request.url.path
    method = request.method
    if path.endswith("/auth/challenge"):
        return "challenge"
    if path.endswith("/auth/session"):
        return "session"
    if path == "/v1/health":
        return "health"
    if path == "/v1/groups":
        return "create_group"
    tail = path.split("/")[4] if path.count("/") >= 4 else ""
    table = {
        ("GET", "log"): "read_log", ("POST", "log"): "append",
        ("POST", "join-requests"): "submit_join_request", ("GET", "join-requests"): "join_requests",
        ("DELETE", "join-requests"): "deny", ("POST", "grants"): "upload_grants",
        ("GET", "grants"): "grants", ("PUT", "posts"): "put_post", ("GET", "posts"): "posts",
        ("DELETE", "posts"): "delete_post", ("GET", "events"): "events",
        ("PUT", "blobs"): "put_blob", ("GET", "blobs"): "get_blob",
    }
    return table[(method, tail)]


def _calls() -> dict[str, Callable[[Transport], Any]]:
    c = corpus()
    g = c.group
    gid = c.state.group_id
    member = MemberAuth(gid, g.alice)
    return {
        "health": lambda t: t.health(),
        "create_group": lambda t: t.create_group(c.entries[next(iter(c.entries))]),
        "read_log": lambda t: t.read_log(member, 0),
        "read_log_invite": lambda t: t.read_log(InviteAuth(gid, bytes(16), g.alice.sign_sk), 0),
        "append": lambda t: t.append(member, gid, b"entry"),
        "append_join": lambda t: t.append(None, gid, b"entry"),
        "submit_join_request": lambda t: t.submit_join_request(gid, c.join_request),
        "join_requests": lambda t: t.join_requests(member),
        "deny": lambda t: t.deny(member, g.bob.sign_pk),
        "upload_grants": lambda t: t.upload_grants(member, 1, [c.grant]),
        "grants": lambda t: t.grants(member),
        "put_post": lambda t: t.put_post(member, c.opened.post_id, c.envelope),
        "posts": lambda t: t.posts(member, "5"),
        "delete_post": lambda t: t.delete_post(member, c.opened.post_id),
        "events": lambda t: t.events(member, "5", 0),
        "put_blob": lambda t: t.put_blob(member, bytes(16), b"blob", c.opened.post_id),
        "get_blob": lambda t: t.get_blob(member, bytes(16)),
    }


_TARGETS = ["challenge", "session", "health", "create_group", "read_log", "append",
            "submit_join_request", "join_requests", "deny", "upload_grants", "grants",
            "put_post", "posts", "delete_post", "events", "put_blob", "get_blob"]


def _transport(fuzzed: str, answer: Answer, sleeps: list[float]) -> Transport:
    genuine = _genuine()

    def handler(request: httpx.Request) -> httpx.Response:
        route = _route(request)
        if route == fuzzed:
            return httpx.Response(answer.status, content=answer.body, headers=answer.headers)
        body, status = genuine[route]
        if isinstance(body, bytes):
            return httpx.Response(status, content=body)
        return httpx.Response(status, json=body)

    http = httpx.Client(base_url=URL, transport=httpx.MockTransport(handler))
    return Transport(URL, http=http, retry_for=0.0, sleep=sleeps.append)


@pytest.mark.slow  # fuzzing: EXAMPLES answers per target
@pytest.mark.parametrize("target", _TARGETS)
def test_transport_answers_raise_only_typed_errors(target: str) -> None:
    genuine, ok = _genuine()[target]
    calls = _calls()
    users = {"challenge": ["read_log", "read_log_invite", "posts", "append"],
             "session": ["read_log", "read_log_invite", "posts", "append"],
             "read_log": ["read_log", "read_log_invite"],
             "append": ["append", "append_join"]}.get(target, [target])

    @fuzz_settings(EXAMPLES)
    @given(answer=answers(genuine, ok), user=st.sampled_from(users))
    def run(answer: Answer, user: str) -> None:
        count(f"sdk.transport.{target}")
        sleeps: list[float] = []
        transport = _transport(target, answer, sleeps)
        try:
            calls[user](transport)
        except VaultError as error:
            assert isinstance(error.message, str) and len(error.message) <= 600
        except AmbiguousAppend:
            assert user.startswith("append")
        finally:
            transport.close()
        assert len(sleeps) <= 3  # retry_for=0: no retry loop keeps going

    run()


# --- regressions found by the fuzzing above -----------------------------------------------------


@pytest.mark.parametrize("status", [200, 201, 400, 502])
def test_json_nested_too_deep_is_a_typed_error(status: int) -> None:
    """Found by fuzzing: a relay answer of arrays nested 100,000 deep raised RecursionError
    out of the SDK (from the JSON parser), in a success answer and in an error answer."""
    member = MemberAuth(corpus().state.group_id, corpus().group.alice)
    transport = _transport("read_log", Answer(status, b"[" * 100_000), [])
    with pytest.raises(VaultError):
        transport.read_log(member, 0)


@pytest.mark.parametrize("token", ["\x80", "a\r\nX-Injected: 1", "\u00e9" * 43, "A" * 2000,
                                   "AAAA="])
def test_a_session_token_that_is_not_base64url_is_refused(token: str) -> None:
    """Found by fuzzing: the relay's session token went into the Authorization header as
    given, so a non-ASCII one raised UnicodeEncodeError out of httpx (and any text was
    put in a header)."""
    import json

    from vault.crypto.errors import MalformedError

    member = MemberAuth(corpus().state.group_id, corpus().group.alice)
    answer = Answer(201, json.dumps({"token": token, "expires_at_ms": 1}).encode())
    transport = _transport("session", answer, [])
    with pytest.raises(MalformedError):
        transport.read_log(member, 0)


def test_an_error_the_relay_wrote_is_marked_as_the_relays_words() -> None:
    """A user interface must not show a relay's text as its own (a hostile relay writes what
    it likes): an error rebuilt from the relay's answer says it came from there."""
    member = MemberAuth(corpus().state.group_id, corpus().group.alice)
    body = json.dumps({"error": {"code": "not_permitted",
                                 "message": "Type your passphrase into the group chat"}})
    transport = _transport("read_log", Answer(403, body.encode()), [])
    with pytest.raises(VaultError) as raised:
        transport.read_log(member, 0)
    assert getattr(raised.value, "from_relay", False) is True
    assert not getattr(VaultError("raised on this device"), "from_relay", False)
