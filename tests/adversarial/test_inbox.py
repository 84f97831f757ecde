"""The moderators' inbox through a hostile relay (protocol §8.8): a relay that shows a report
to a non-moderator shows them nothing they can read (InvalidInboxItem, inbox_not_for_you); one
that strips a recipient, moves an item under another id or alters it gets it refused by every
moderator; a member who seals a report to a non-moderator has it refused by every moderator.
The relay never reads a report (the canary fixture scans its traffic and database)."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from types import SimpleNamespace

import httpx
from vault_client import Client, InvalidInboxItem, Role

from tests.adversarial.conftest import circle
from tests.adversarial.hostile import HostileRelay
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.inbox import InboxEnvelope, InboxKind, InboxMessage, recipients_digest, seal_to


def stored_items(hostile: HostileRelay, gid: str) -> list[tuple[bytes, bytes]]:
    """(item id, envelope) of every inbox item the relay holds for the group."""
    with hostile._db() as conn:
        rows = conn.execute("SELECT item_id, envelope FROM inbox_items WHERE group_id=? "
                            "ORDER BY cursor", (b64decode(gid),)).fetchall()
    return [(bytes(r[0]), bytes(r[1])) for r in rows]


def serve_inbox(hostile: HostileRelay, name: str,
                items: Callable[[list[dict[str, object]]], list[dict[str, object]]]) -> None:
    """The relay answers *name*'s inbox reads with ``items(the real items)``."""
    def respond(request: httpx.Request, real: httpx.Response) -> httpx.Response:
        if request.method != "GET" or not request.url.path.endswith("/inbox"):
            return real
        body = json.loads(real.read())
        body["items"] = items(body["items"])
        return httpx.Response(200, json=body)

    hostile.view(name).respond = respond


def item_json(item_id: bytes, envelope: bytes, cursor: int) -> dict[str, object]:
    return {"item_id": b64encode(item_id), "cursor": str(cursor), "sender": b64encode(bytes(32)),
            "envelope": b64encode(envelope), "created_at_ms": 0}


def invalid(client: Client) -> list[InvalidInboxItem]:
    return [w for w in client.warnings() if isinstance(w, InvalidInboxItem)]


def test_relay_shows_a_report_to_a_non_moderator(people: SimpleNamespace, hostile: HostileRelay,
                                                 canary: Callable[[str], str]) -> None:
    """Cleo (a member) is served Ben's report about Dan: her device cannot open it and says
    so; Dan, the member it is about, is served it too: the same."""
    ann, ben, cleo, dan = people.ann, people.ben, people.cleo, people.dan
    gid = circle(canary, ann, ben, cleo, dan)
    post = dan.post(gid, canary("post")).post_id
    ben.sync(gid)
    ben.report(gid, post, canary("reason"))
    [(item_id, envelope)] = stored_items(hostile, gid)
    for name, member in (("cleo", cleo), ("dan", dan)):
        serve_inbox(hostile, name, lambda items: [item_json(item_id, envelope, 1)])
        assert member.inbox(gid) == []
        [warning] = [w for w in invalid(member) if w.item_id == b64encode(item_id)]
        assert warning.code == "inbox_not_for_you"
    assert [t.items[0].sender for t in ann.inbox(gid)] == [ben.me(gid).member_id]


def test_relay_strips_moves_or_alters_an_item(people: SimpleNamespace, hostile: HostileRelay,
                                              canary: Callable[[str], str]) -> None:
    ann, ben, cleo = people.ann, people.ben, people.cleo
    gid = circle(canary, ann, ben, cleo)
    ann.set_role(gid, cleo.me(gid).member_id, Role.MODERATOR)
    ben.sync(gid)
    ben.ask_moderators(gid, canary("request"))
    [(item_id, raw)] = stored_items(hostile, gid)
    envelope = InboxEnvelope.decode(raw)
    cleo_pk = b64decode(cleo.me(gid).member_id)
    stripped = replace(envelope, recipients=tuple(r for r in envelope.recipients
                                                  if r[0] != cleo_pk)).encode()
    other_id = bytes(16)
    moved = replace(envelope, item_id=other_id).encode()
    altered = raw[:-1] + bytes([raw[-1] ^ 1])
    serve_inbox(hostile, "ann", lambda items: [item_json(item_id, stripped, 1),
                                               item_json(other_id, moved, 2),
                                               item_json(b"\1" * 16, altered, 3)])
    assert ann.inbox(gid) == []
    wanted = {b64encode(item_id), b64encode(other_id), b64encode(b"\1" * 16)}
    codes = sorted((w.item_id, w.code) for w in invalid(ann) if w.item_id in wanted)
    assert codes == sorted([(b64encode(item_id), "inbox_invalid"),
                            (b64encode(other_id), "inbox_invalid"),
                            (b64encode(b"\1" * 16), "inbox_invalid")])
    hostile.reset()
    assert [len(t.items) for t in cleo.inbox(gid)] == [1]  # served honestly, it opens


def test_a_member_seals_a_report_to_a_non_moderator(people: SimpleNamespace,
                                                    hostile: HostileRelay,
                                                    canary: Callable[[str], str]) -> None:
    """Ben's modified client also seals his report to Cleo, a member (the relay stores it:
    every recipient is a member). Every moderator refuses it, and so does Cleo's device."""
    ann, ben, cleo, dan = people.ann, people.ben, people.cleo, people.dan
    gid = circle(canary, ann, ben, cleo, dan)
    post = dan.post(gid, canary("post")).post_id
    ben.sync(gid)
    view = ben._device.member_view(gid)
    state = view.state
    assert state is not None
    chosen = [state.member_record(b64decode(p.me(gid).member_id)).identity  # type: ignore[union-attr]
              for p in (ann, ben, cleo)]
    message = InboxMessage(state.group_id, b"\5" * 16, view.me.sign_pk, state.seq, state.head,
                           1, InboxKind.REPORT, post=b64decode(post),
                           subject=b64decode(dan.me(gid).member_id), text=canary("reason"),
                           recipients_digest=recipients_digest([i.sign_pk for i in chosen]))
    envelope = seal_to(view.me, message, chosen)
    ben._device.transport(view.relay_url).put_inbox_item(ben._device.auth(view),
                                                         envelope.item_id, envelope.encode())
    for member in (ann, cleo):
        assert member.inbox(gid) == []
        [warning] = [w for w in invalid(member) if w.item_id == b64encode(envelope.item_id)]
        assert warning.code == "inbox_invalid" and "not sealed to exactly" in warning.message
