"""The moderators' inbox at the relay (SQLite and PostgreSQL): a member stores an item sealed to
its recipients; each recipient, and nobody else, reads it back; the same bytes again are
stored once, other bytes under the same id are refused; an item naming another group or
item, not sealed to its sender, or sealed to someone who is not a current member is refused
with nothing stored."""

from __future__ import annotations

import threading

from flask import Flask
from sqlalchemy import select

from tests.api.helpers import Api, RelayGroup, code
from vault.crypto.encoding import b64encode
from vault.crypto.identity import Identity
from vault.crypto.inbox import InboxEnvelope, InboxKind, seal_item
from vault.crypto.log_entries import Role


def report(g: RelayGroup, by: Identity, about: Identity) -> InboxEnvelope:
    return seal_item(by, g.f.state, InboxKind.REPORT, "unkind", post=bytes(16),
                     subject=about.sign_pk, now_ms=g.f.now_ms)


def put(api: Api, g: RelayGroup, by: Identity, envelope: InboxEnvelope,
        raw: bytes | None = None) -> object:
    return api.put(f"{g.base}/inbox/{b64encode(envelope.item_id)}",
                   json={"envelope": b64encode(envelope.encode() if raw is None else raw)},
                   token=g.token(by))


def listed(api: Api, g: RelayGroup, reader: Identity, after: str | None = None) -> list[str]:
    query = "" if after is None else f"?after={after}"
    response = api.get(f"{g.base}/inbox{query}", token=g.token(reader))
    assert response.status_code == 200, response.get_json()
    return [item["item_id"] for item in response.get_json()["items"]]


def test_an_item_is_stored_once_and_read_by_its_recipients_only(api: Api) -> None:
    g = RelayGroup(api)
    mod = g.f.add_member(Role.MODERATOR)
    ann, ben = g.f.add_member(), g.f.add_member()
    g.sync()
    item = report(g, ann, ben)
    first = put(api, g, ann, item)
    assert first.status_code == 201  # type: ignore[attr-defined]
    again = put(api, g, ann, item)
    assert again.status_code == 200  # type: ignore[attr-defined]
    assert again.get_json()["cursor"] == first.get_json()["cursor"]  # type: ignore[attr-defined]
    item_id = b64encode(item.item_id)
    for reader in (g.owner, mod, ann):
        assert listed(api, g, reader) == [item_id]
    assert listed(api, g, ben) == []  # the member it is about
    second = report(g, ann, ben)
    put(api, g, ann, second)
    cursor = first.get_json()["cursor"]  # type: ignore[attr-defined]
    assert listed(api, g, mod, cursor) == [b64encode(second.item_id)]
    other = report(g, ann, ben)
    clash = put(api, g, ann, item, other.encode()[:18] + item.item_id + other.encode()[34:])
    assert clash.status_code in (400, 409)  # type: ignore[attr-defined]


def test_what_the_relay_refuses_stores_nothing(api: Api) -> None:
    g = RelayGroup(api)
    g.f.add_member(Role.MODERATOR)
    ann, ben, gone = g.f.add_member(), g.f.add_member(), g.f.add_member()
    g.sync()
    item = report(g, ann, ben)
    # Under another item's id, or uploaded by someone it is not sealed to.
    moved = api.put(f"{g.base}/inbox/{b64encode(bytes(16))}",
                    json={"envelope": b64encode(item.encode())}, token=g.token(ann))
    assert moved.status_code == 400 and code(moved) == "invalid_request"
    by_other = put(api, g, ben, item)
    assert by_other.status_code == 400  # type: ignore[attr-defined]
    # Sealed to someone who has left since.
    stale = report(g, gone, ben)
    g.f.remove(gone)
    g.sync()
    late = report(g, ann, ben)
    shared = InboxEnvelope(late.group_id, late.item_id, late.log_seq,
                           tuple(sorted((*late.recipients,
                                         *(r for r in stale.recipients
                                           if r[0] == gone.sign_pk)))),
                           late.nonce, late.ciphertext)
    refused = put(api, g, ann, shared)
    assert refused.status_code == 400  # type: ignore[attr-defined]
    assert code(refused) == "invalid_request"  # type: ignore[arg-type]
    malformed = put(api, g, ann, item, item.encode()[:-1])
    assert malformed.status_code == 400  # type: ignore[attr-defined]
    assert listed(api, g, g.owner) == []
    outsider = api.get(f"{g.base}/inbox", token="not-a-token")
    assert outsider.status_code == 401


def test_concurrent_uploads_and_retries_are_each_stored_once(api: Api, app: Flask) -> None:
    """Review finding: on PostgreSQL two writers took the same cursor (a shared lock) and a
    retry racing its first try hit the primary key: 500s. Now: 200 or 201, every item once,
    cursors distinct."""
    g = RelayGroup(api)
    g.f.add_member(Role.MODERATOR)
    members = [g.f.add_member() for _ in range(4)]
    ben = g.f.add_member()
    g.sync()
    tokens = {m.sign_pk: g.token(m) for m in members}
    items = [(m, report(g, m, ben)) for m in members for _ in range(3)]
    barrier = threading.Barrier(8)
    statuses: list[int] = []
    lock = threading.Lock()

    def upload(chunk: list[tuple[Identity, InboxEnvelope]]) -> None:
        client = app.test_client()
        barrier.wait()
        for member, envelope in chunk:
            answer = client.put(f"{g.base}/inbox/{b64encode(envelope.item_id)}",
                                json={"envelope": b64encode(envelope.encode())},
                                headers={"Authorization": f"Bearer {tokens[member.sign_pk]}"})
            with lock:
                statuses.append(answer.status_code)

    chunks = [items[i::4] for i in range(4)] * 2  # each item sent by two threads at once
    threads = [threading.Thread(target=upload, args=(chunk,)) for chunk in chunks]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(set(statuses)) == [200, 201] and statuses.count(201) == len(items)
    with app.app_context():
        from vault.api.db import db
        from vault.api.models import InboxItemRow

        cursors = list(db.session.scalars(select(InboxItemRow.cursor)))
    assert sorted(cursors) == list(range(1, len(items) + 1))
