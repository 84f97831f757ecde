"""How the SDK reads a group's posts from relays that serve pages of different sizes."""

from __future__ import annotations

import httpx
import pytest
from vault_client._internal.transport import OLD_POSTS_PAGE, POSTS_PAGE, MemberAuth, Transport

from tests.fuzz.corpus import corpus
from vault.crypto.encoding import b64encode
from vault.crypto.errors import InvalidRequestError

URL = "http://127.0.0.1:9"


def _relay(asked: list[int], *, refuse_all: bool = False) -> Transport:
    """A relay from before pages of 250: it refuses a read of more than 100 posts, as the
    relay's schema did (400 invalid_request), and answers one post otherwise."""
    c = corpus()

    def handler(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/auth/challenge"):
            return httpx.Response(201, json={"challenge": b64encode(bytes(32)),
                                             "expires_at_ms": 1})
        if path.endswith("/auth/session"):
            return httpx.Response(201, json={"token": b64encode(bytes(32)), "expires_at_ms": 1})
        limit = int(request.url.params["limit"])
        asked.append(limit)
        if limit > OLD_POSTS_PAGE or refuse_all:
            return httpx.Response(400, json={"error": {
                "code": "invalid_request", "message": "limit: at most 100"}})
        return httpx.Response(200, json={
            "posts": [{"post_id": b64encode(c.opened.post_id), "cursor": "7",
                       "envelope": b64encode(c.envelope), "deleted": False,
                       "created_at_ms": 1, "expires_at_ms": None}],
            "cursor": "7", "more": False})

    http = httpx.Client(base_url=URL, transport=httpx.MockTransport(handler))
    return Transport(URL, http=http, retry_for=0.0)


def test_an_older_relay_that_refuses_pages_of_250_is_asked_for_100_from_then_on() -> None:
    c = corpus()
    member = MemberAuth(c.state.group_id, c.group.alice)
    asked: list[int] = []
    transport = _relay(asked)
    first = transport.posts(member, None, POSTS_PAGE)
    second = transport.posts(member, "7", POSTS_PAGE)
    assert [p.post_id for p in first.posts] == [c.opened.post_id] == \
        [p.post_id for p in second.posts]
    assert asked == [POSTS_PAGE, OLD_POSTS_PAGE, OLD_POSTS_PAGE]


def test_a_refusal_for_another_reason_is_raised_not_retried_again_and_again() -> None:
    c = corpus()
    member = MemberAuth(c.state.group_id, c.group.alice)
    asked: list[int] = []
    transport = _relay(asked, refuse_all=True)
    with pytest.raises(InvalidRequestError):
        transport.posts(member, None, POSTS_PAGE)
    assert asked == [POSTS_PAGE, OLD_POSTS_PAGE]
