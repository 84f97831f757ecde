"""Server-sent events (GET /v1/groups/<gid>/events/stream): framing, resuming, wake-up,
heartbeats, the bounded lifetime and the end of a removed member's stream."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from flask import Flask

from tests.api.conftest import make_app
from tests.api.helpers import Api, FakeClock, RelayGroup, code
from tests.api.sse_reader import StreamReader, in_background
from vault.api.db import db
from vault.api.services import services_of

MakeApi = Callable[..., Api]


@pytest.fixture
def make_api(database_url: str, clock: FakeClock) -> Iterator[MakeApi]:
    apps: list[Flask] = []

    def build(**overrides: Any) -> Api:
        app = make_app(database_url, clock, **overrides)
        apps.append(app)
        return Api(app)

    yield build
    for app in apps:
        services_of(app).wakeup.close()
        with app.app_context():
            db.session.remove()


def open_stream(api: Api, g: RelayGroup, token: str, *, after: str | None = None,
                last_event_id: str | None = None) -> StreamReader:
    headers = {"Authorization": f"Bearer {token}", "Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = last_event_id
    response = api.client.get(f"{g.base}/events/stream", headers=headers, buffered=False,
                              query_string={} if after is None else {"after": after})
    assert response.status_code == 200, response.get_data()
    assert response.mimetype == "text/event-stream"
    assert response.headers["Cache-Control"] == "no-store"
    return StreamReader(response.response)


def test_sends_what_is_there_then_wakes_on_a_post(make_api: MakeApi) -> None:
    api = make_api(VAULT_EVENTS_STREAM_S=30)
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    first, _ = g.put_post(g.owner)
    reader = open_stream(api, g, g.token(alice))
    opened = reader.next()
    assert opened is not None and opened.comments == ["stream open"]
    frame = reader.next_data()
    assert frame is not None and frame.fields.get("event") is None
    body = frame.data
    assert [(e["type"], (e["post"] or {}).get("post_id")) for e in body["events"]] == [
        ("log", None), ("log", None), ("post", first)]
    assert frame.fields["id"] == body["cursor"] and body["more"] is False

    upload = in_background(lambda: g.put_post(g.owner))  # the stream waits: this wakes it
    frame = reader.next_data()
    second, response = upload.result()
    assert response.status_code == 201
    assert frame is not None
    assert [e["post"]["post_id"] for e in frame.data["events"]] == [second]
    assert frame.fields["id"] == response.get_json()["cursor"]


def test_last_event_id_resumes_after_its_cursor(make_api: MakeApi) -> None:
    api = make_api(VAULT_EVENTS_STREAM_S=0)  # 0: what is there, then the end
    g = RelayGroup(api)
    _first, response = g.put_post(g.owner)
    cursor = response.get_json()["cursor"]
    second, _ = g.put_post(g.owner)
    frames = open_stream(api, g, g.token(g.owner), after="0", last_event_id=cursor).rest()
    data = [f for f in frames if not f.is_comment]
    assert len(data) == 1
    assert [e["post"]["post_id"] for e in data[0].data["events"]] == [second]
    assert frames[-1].comments == ["lifetime reached; reconnect with Last-Event-ID"]


def test_the_stream_ends_after_its_lifetime(make_api: MakeApi) -> None:
    api = make_api(VAULT_EVENTS_STREAM_S=0)
    g = RelayGroup(api)
    token = g.token(g.owner)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    frames = open_stream(api, g, token, after=cursor).rest()
    assert [f.comments for f in frames] == [
        ["stream open"], ["lifetime reached; reconnect with Last-Event-ID"]]


def test_a_quiet_stream_sends_heartbeats(make_api: MakeApi) -> None:
    api = make_api(VAULT_EVENTS_STREAM_S=30, VAULT_EVENTS_HEARTBEAT_S=0.5)
    g = RelayGroup(api)
    token = g.token(g.owner)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    reader = open_stream(api, g, token, after=cursor)
    assert reader.next().comments == ["stream open"]  # type: ignore[union-attr]
    assert reader.next().comments == ["heartbeat"]  # type: ignore[union-attr]


def test_a_removed_member_s_stream_ends_with_an_error_event(make_api: MakeApi) -> None:
    api = make_api(VAULT_EVENTS_STREAM_S=30)
    g = RelayGroup(api)
    alice = g.f.add_member()
    g.sync()
    token = g.token(alice)
    cursor = api.get(f"{g.base}/events", token=token, query={"timeout": 0}).get_json()["cursor"]
    reader = open_stream(api, g, token, after=cursor)
    assert reader.next().comments == ["stream open"]  # type: ignore[union-attr]
    g.f.remove(alice)
    removal = in_background(g.sync)
    frames = reader.rest()
    removal.result()
    assert [f.fields.get("event") for f in frames] == ["error"]
    assert frames[0].data["error"]["code"] == "not_a_member"


def test_refusals_before_the_stream_are_json_errors(make_api: MakeApi) -> None:
    api = make_api()
    g = RelayGroup(api)
    token = g.token(g.owner)
    path = f"{g.base}/events/stream"
    assert code(api.get(path)) == "unauthenticated"
    assert api.get(path, token="x" * 43).status_code == 401
    bad_id = api.get(path, token=token, headers={"Last-Event-ID": "not-a-cursor"})
    assert bad_id.status_code == 400 and code(bad_id) == "invalid_request"
    bad_query = api.get(path, token=token, query={"after": "-1"})
    assert bad_query.status_code == 400 and code(bad_query) == "invalid_request"
    other = RelayGroup(api, seed="another group")
    assert code(api.get(f"{other.base}/events/stream", token=token)) == "unauthenticated"
