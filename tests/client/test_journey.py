"""The member journey end to end: three people, a real relay process, real Argon2id.

Ann creates a group; Ben joins by the invite's URI; Cleo joins by decoding the PNG of the
QR code Ann's client drew (zxing-cpp on a real file). Ann approves both after comparing
safety numbers; they post, reply, react, edit, delete, warn and attach; Ben is removed
and from then on the relay refuses him (403) and nothing new is readable with his keys.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import pytest
from vault_client import (
    Client,
    EpochStarted,
    KeyReceived,
    MemberJoined,
    MemberLeft,
    NewPost,
    RemovedFromGroup,
    Role,
)
from vault_client._internal.transport import MemberAuth
from vault_client.errors import (
    InviteImageError,
    JoinDeniedError,
    JoinPendingError,
    NotPermittedError,
)

from tests.client.conftest import PASSPHRASE, RelayProcess
from vault.crypto.encoding import b64decode
from vault.crypto.errors import DecryptionError, NotAMemberError
from vault.crypto.posts import PostEnvelope, open_post

pytestmark = pytest.mark.slow  # a real relay process; whole journeys


def open_client(tmp_path: Path, name: str, relay: RelayProcess, **kw: Any) -> Client:
    return Client(PASSPHRASE + name, home=tmp_path / name, relay_url=relay.url, **kw)


@pytest.fixture
def people(tmp_path: Path, relay: RelayProcess) -> Any:
    clients = {n: open_client(tmp_path, n, relay) for n in ("ann", "ben", "cleo")}
    yield clients
    for client in clients.values():
        client.close()


def test_three_members(people: dict[str, Client], tmp_path: Path) -> None:
    ann, ben, cleo = people["ann"], people["ben"], people["cleo"]
    group = ann.create_group("Tuesday grief circle", "A quiet place to talk.",
                             "What is said here stays here.", display_name="Ann")
    assert group.name == "Tuesday grief circle" and group.my_role == Role.OWNER
    gid = group.group_id

    invite = ann.create_invite(group, max_uses=2, expires_in=3600)
    assert invite.requires_approval and invite.uri.startswith(ann.relay_url or "")
    png = tmp_path / "invite.png"
    invite.save_qr(png)
    assert png.read_bytes().startswith(b"\x89PNG")
    assert b"<svg" in bytes(invite.render_qr("svg"))
    assert len(str(invite.render_qr("text")).splitlines()) > 20

    ben_join = ben.join(invite.uri)
    cleo_join = cleo.join_from_image(png)  # a real decode of the PNG Ann's client drew
    assert ben_join.status == cleo_join.status == "pending"
    assert ben.join_status(gid) == "pending"
    with pytest.raises(JoinPendingError):
        ben.post(gid, "too early")

    requests = {r.joiner: r for r in ann.pending_requests(group)}
    assert set(requests) == {ben_join.member_id, cleo_join.member_id}
    # The number each joiner's device shows is the one Ann's device shows for them.
    assert requests[ben_join.member_id].safety_number == ben_join.safety_number
    assert requests[cleo_join.member_id].safety_number == cleo_join.safety_number
    ann.approve(group, requests[ben_join.member_id])
    ann.approve(group, requests[cleo_join.member_id], share_history="current")
    assert ann.pending_requests(group) == []

    for person, name in ((ben, "Ben"), (cleo, "Cleo")):
        info = person.wait_for_approval(gid, timeout=30, interval=0.2)
        assert info.status == "member" and info.name == "Tuesday grief circle"
        person.set_display_name(gid, name)
        assert person.safety_number(gid, group.my_member_id) == (
            ben_join.safety_number if person is ben else cleo_join.safety_number)

    # Posts, replies, reactions, a content warning, an attachment, an edit, a delete.
    first = ann.post(gid, "Welcome, both of you.")
    heavy = ben.post(gid, "It has been a hard month.", content_warning="loss of a parent")
    photo = b"\x89PNG not really, just bytes " * 100
    reply = cleo.reply(gid, heavy, "I am here.", attachments=[(photo, "image/png")])
    cleo.react(gid, heavy, "\U0001f49c")
    ann.react(gid, heavy, "\U0001f49c")
    oops = ben.post(gid, "wrong group, sorry")
    ben.delete(gid, oops)
    ann.edit(gid, first, "Welcome, both of you. Take your time.")
    assert all(p.delivered for p in (first, heavy, reply, oops))

    for person in (ann, ben, cleo):
        reports = person.sync(gid)
        assert not reports[0].warnings, reports[0].warnings
    threads = {t.root.post_id: t for t in cleo.threads(gid)}
    assert set(threads) == {first.post_id, heavy.post_id}
    warned = threads[heavy.post_id].root
    assert warned.content_warning == "loss of a parent" and warned.hidden_by_default
    assert warned.author_name == "Ben"
    assert warned.reaction_counts() == {"\U0001f49c": 2}
    welcome = threads[first.post_id].root
    assert welcome.text.endswith("Take your time.") and welcome.edited_at_ms is not None
    (answer,) = threads[heavy.post_id].replies
    assert answer.author_name == "Cleo" and answer.reply_to == heavy.post_id
    assert ann.attachment(gid, answer.attachments[0]) == photo
    assert next(p for p in ben.posts(gid) if p.post_id == oops.post_id).deleted

    members = {m.display_name: m for m in ann.members(gid)}
    assert {n: m.role for n, m in members.items()} == {
        "Ann": Role.OWNER, "Ben": Role.MEMBER, "Cleo": Role.MEMBER}
    ann.set_role(gid, members["Cleo"], Role.MODERATOR)
    with pytest.raises(NotPermittedError, match="only admins"):  # refused before anything
        ben.set_role(gid, members["Ben"], Role.ADMIN)

    # Ben is removed: a new epoch, granted to Ann and Cleo in one request.
    before = ann.group(gid).epoch
    ann.remove(gid, members["Ben"])
    assert ann.group(gid).epoch == before + 1
    after = ann.post(gid, "Ben has left us; we wish him well.")
    events = cleo.sync(gid)[0].events
    assert any(isinstance(e, MemberLeft) and e.removed for e in events)
    assert any(isinstance(e, KeyReceived) and e.epoch == before + 1 for e in events)
    assert any(isinstance(e, NewPost) and e.post_id == after.post_id for e in events)
    assert any(p.post_id == after.post_id for p in cleo.posts(gid))

    # Ben's device learns it from the verified log (a former member may read it up to the
    # entry that removed him), and says so; writing is refused.
    report = ben.sync(gid)[0]
    assert any(isinstance(e, RemovedFromGroup) and e.removed for e in report.events)
    assert ben.group(gid).status == "removed"
    with pytest.raises(NotAMemberError, match="an admin removed you"):
        ben.post(gid, "still here?")
    transport = ben._device.transport(ben.group(gid).relay_url)
    with pytest.raises(NotAMemberError):
        transport.posts(MemberAuth(b64decode(gid), ben._device.view(gid).me), None)
    # ...and with every key his device holds, the new post does not open.
    ann_view = ann._device.view(gid)
    page = ann._device.transport(ann_view.relay_url).posts(
        MemberAuth(ann_view.group_id, ann_view.me), None)
    raw = next(p.envelope for p in page.posts if p.post_id == b64decode(after.post_id))
    assert raw is not None
    envelope = PostEnvelope.decode(raw)
    ben_view = ben._device.view(gid)
    assert envelope.epoch not in ben_view.keys and ben_view.keys
    for key in ben_view.keys.values():
        with pytest.raises(DecryptionError):
            open_post(envelope, key, ann_view.state)  # type: ignore[arg-type]
    assert all(p.post_id != after.post_id for p in ben.posts(gid))

    # Cleo leaves; Ann's device starts a new epoch by itself on its next sync.
    epoch = ann.group(gid).epoch
    cleo.leave(gid)
    assert [g.group_id for g in cleo.groups()] == []
    report = ann.sync(gid)[0]
    assert any(isinstance(e, EpochStarted) and e.epoch == epoch + 1 for e in report.events)
    assert ann.group(gid).rotation_pending is False and ann.group(gid).member_count == 1


def test_pre_authorised_invite_and_history(people: dict[str, Client]) -> None:
    ann, ben, cleo = people["ann"], people["ben"], people["cleo"]
    group = ann.create_group("Open door")
    ann.set_history_policy(group, "all")
    early = ann.post(group, "Before anyone came.")
    invite = ann.create_invite(group, max_uses=1, require_approval=False)
    joined = ben.join(invite.uri)
    assert joined.status == "joined"
    events = ann.sync(group)[0].events  # Ann's device grants Ben the keys it owes him
    assert any(isinstance(e, MemberJoined) and e.self_joined for e in events)
    ben.sync(group)
    assert [p.post_id for p in ben.posts(group.group_id)] == [early.post_id]
    # A used-up invite admits nobody else, and its secret proves nothing more.
    with pytest.raises(Exception) as caught:
        cleo.join(invite.uri)
    assert getattr(caught.value, "code", "").startswith("invite_")


def test_deny_and_unreadable_images(people: dict[str, Client], tmp_path: Path) -> None:
    ann, ben = people["ann"], people["ben"]
    group = ann.create_group("Closed")
    invite = ann.create_invite(group)
    ben.join(invite.uri)
    (request,) = ann.pending_requests(group)
    ann.deny(group, request)
    assert ben.join_status(group.group_id) == "denied"
    with pytest.raises(JoinDeniedError):
        ben.wait_for_approval(group.group_id, timeout=1)

    import qrcode

    not_vault = tmp_path / "other.png"
    qrcode.make("https://example.org/not-an-invite").save(str(not_vault))
    with pytest.raises(InviteImageError, match="not a Vault invite"):
        ben.join_from_image(not_vault)
    blank = tmp_path / "blank.png"
    blank.write_bytes(base64.b64decode(
        "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="))
    with pytest.raises(InviteImageError, match="no QR code"):
        ben.join_from_image(blank)
    junk = tmp_path / "junk.png"
    junk.write_bytes(b"not an image")
    with pytest.raises(InviteImageError):
        ben.join_from_image(junk)


def test_export_import_and_wipe(people: dict[str, Client], tmp_path: Path,
                                relay: RelayProcess) -> None:
    ann = people["ann"]
    group = ann.create_group("Moving phones")
    ann.post(group, "one")
    exported = ann.export_identity(group, "a long export passphrase")
    with open_client(tmp_path, "ann-new-phone", relay) as phone:
        info = phone.import_identity(exported, "a long export passphrase")
        assert info.my_member_id == group.my_member_id and info.name == "Moving phones"
        assert [p.text for p in phone.posts(info.group_id)] == ["one"]
        second = phone.post(info.group_id, "two, from the new phone")
        ann.sync(group)
        assert [p.post_id for p in ann.posts(group)][-1] == second.post_id
        home = Path(phone.home)
        phone.wipe()
    assert not (home / "keystore.vault").exists() and not (home / "client.db").exists()


def test_wait_returns_when_something_happens(people: dict[str, Client]) -> None:
    import threading

    ann, ben = people["ann"], people["ben"]
    group = ann.create_group("Live", history_policy="current")
    ben.join(ann.create_invite(group, require_approval=False).uri)
    ann.sync(group)
    ben.sync(group.group_id)
    reports: list[Any] = []
    waiter = threading.Thread(target=lambda: reports.append(ben.wait(group.group_id, 20)))
    waiter.start()
    posted = ann.post(group, "are you there?")
    waiter.join(timeout=30)
    assert reports, "wait() did not return"
    # The first wait after a sync waits for what the sync had not seen (audit point 13):
    # it is not woken by what that sync already read.
    events = list(reports[0].events)
    assert any(isinstance(e, NewPost) and e.post_id == posted.post_id for e in events)
    # And a wait with nothing new comes back empty when its time is up.
    assert not ben.wait(group.group_id, 1).events


@pytest.mark.parametrize("flavour", ["sync", "async"])
def test_a_removed_member_waiting_for_news_learns_the_removal(
        tmp_path: Path, relay: RelayProcess, flavour: str) -> None:
    """A member removed while it waits (the member app's live page does exactly this): its
    next long-poll is refused by the relay, and the wait then learns the removal from the
    verified log (status ``removed``, RemovedFromGroup), rather than failing with the
    relay's refusal and leaving the device believing it is still a member."""
    import asyncio

    from vault_client import AsyncClient

    ann = open_client(tmp_path, "ann", relay)
    ben = open_client(tmp_path, "ben", relay)
    try:
        gid = ann.create_group("Circle", display_name="Ann").group_id
        ben.join(ann.create_invite(gid, require_approval=False).uri, display_name="Ben")
        ann.sync(gid)
        ben.sync(gid)
        ann.remove(gid, ben.me(gid).member_id)
        if flavour == "sync":
            report = ben.wait(gid, timeout=5)
            status = ben.group(gid).status
        else:
            ben.close()

            async def wait_async() -> tuple[Any, str]:
                async with AsyncClient(PASSPHRASE + "ben", home=tmp_path / "ben") as client:
                    found = await client.wait(gid, timeout=5)
                    return found, client.sync_client.group(gid).status
            report, status = asyncio.run(wait_async())
        assert any(isinstance(e, RemovedFromGroup) and e.removed for e in report.events)
        assert status == "removed"
    finally:
        ann.close()
        ben.close()
