"""Faults: the relay is SIGKILLed mid-sync and restarted; answers get lost.

Nothing a client was told is stored may be lost or duplicated; a post whose upload failed
goes out once on the next sync; an appended log entry whose answer was lost is found by
re-reading the log, not sent blindly again.
"""

from __future__ import annotations

import threading
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from vault_client import Client, UndeliverablePost
from vault_client._internal import sync_io
from vault_client._internal.transport import AmbiguousAppend, MemberAuth, Transport

from tests.client.conftest import PASSPHRASE, RelayProcess
from vault.crypto.encoding import b64decode
from vault.crypto.errors import PostExpiredError
from vault.crypto.primitives import default_clock

pytestmark = pytest.mark.slow  # a real relay process, killed and restarted


def member_pair(tmp_path: Path, relay: RelayProcess) -> tuple[Client, Client, str]:
    ann = Client(PASSPHRASE, home=tmp_path / "ann", relay_url=relay.url, retry_for=1.0)
    ben = Client(PASSPHRASE, home=tmp_path / "ben", retry_for=30.0)
    group = ann.create_group("Night owls")
    invite = ann.create_invite(group, require_approval=False)
    ben.join(invite.uri)
    ann.sync(group)
    return ann, ben, group.group_id


def relay_post_ids(client: Client, gid: str) -> list[bytes]:
    view = client._device.view(gid)
    transport = client._device.transport(view.relay_url)
    auth = MemberAuth(view.group_id, view.me)
    ids: list[bytes] = []
    cursor = None
    while True:
        page = transport.posts(auth, cursor, 100)
        ids += [p.post_id for p in page.posts]
        cursor = page.cursor
        if not page.more:
            return ids


def test_relay_killed_mid_sync(tmp_path: Path, relay: RelayProcess,
                               monkeypatch: pytest.MonkeyPatch) -> None:
    ann, ben, gid = member_pair(tmp_path, relay)
    try:
        acknowledged = [ann.post(gid, f"check-in {i}") for i in range(230)]
        assert all(p.delivered for p in acknowledged)

        # Ben's cold sync: after its first page of posts the relay is SIGKILLed, and it
        # comes back a second later on the same port. Ben's reads are retried. (Pages of
        # 100 here, so that 230 posts take three.)
        monkeypatch.setattr(sync_io, "POST_PAGE", 100)
        original = Transport.posts
        calls = {"n": 0}
        restarted = threading.Event()

        def posts(self: Transport, *args: Any, **kw: Any) -> Any:
            calls["n"] += 1
            if calls["n"] == 2:
                relay.kill()
                timer = threading.Timer(1.0, lambda: (relay.start(), restarted.set()))
                timer.start()
            return original(self, *args, **kw)

        monkeypatch.setattr(Transport, "posts", posts)
        report = ben.sync(gid)[0]
        monkeypatch.setattr(Transport, "posts", original)
        assert restarted.is_set() and calls["n"] >= 3
        assert not report.warnings

        # Ann posts while the relay is down: kept on her device, not delivered yet.
        relay.kill()
        interrupted = ann.post(gid, "written while the relay was down")
        assert not interrupted.delivered and ann.group(gid).unsent_posts == 1
        relay.start()
        assert ann.sync(gid)[0].unsent_posts == 0
        ann.sync(gid)  # a second flush sends nothing again

        ben.sync(gid)
        seen = Counter(p.post_id for p in ben.posts(gid))
        expected = [p.post_id for p in acknowledged] + [interrupted.post_id]
        assert set(seen) == set(expected) and max(seen.values()) == 1
        on_relay = Counter(relay_post_ids(ann, gid))
        assert len(on_relay) == len(expected) and max(on_relay.values()) == 1
        assert ann.warnings() == [] and ben.warnings() == []
    finally:
        ann.close()
        ben.close()


def test_lost_append_answer_is_resolved_by_reading_the_log(
        tmp_path: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    ann, ben, gid = member_pair(tmp_path, relay)
    try:
        original = Transport.append
        mode = {"send": True, "calls": 0}

        def append(self: Transport, *args: Any, **kw: Any) -> None:
            mode["calls"] += 1
            if mode["calls"] == 1:
                if mode["send"]:
                    original(self, *args, **kw)  # it lands, but the answer is "lost"
                raise AmbiguousAppend()
            original(self, *args, **kw)

        monkeypatch.setattr(Transport, "append", append)
        seq = ann.group(gid).log_seq
        ann.set_display_name(gid, "Ann")  # landed on the first try: found, not resent
        assert mode["calls"] == 1 and ann.group(gid).log_seq == seq + 1
        mode.update(send=False, calls=0)
        ann.set_display_name(gid, "Ann B.")  # never arrived: sent again, lands once
        assert mode["calls"] == 2 and ann.group(gid).log_seq == seq + 2
        ben.sync(gid)
        assert {m.display_name for m in ben.members(gid)} == {"Ann B.", None}
        assert ben.group(gid).log_seq == seq + 2
    finally:
        ann.close()
        ben.close()


def test_a_post_the_relay_refuses_is_not_delivered(tmp_path: Path, relay: RelayProcess) -> None:
    """Posted.delivered is True only when the relay accepted the post. Ann's clock is a
    minute behind the relay's, so a post that disappears after a second has expired by the
    time it arrives: the relay refuses it (post_expired). post() says it was not delivered
    (it used to say it was, with only a warning telling otherwise), the warning says why,
    and the post is not kept to be sent again."""
    ann = Client(PASSPHRASE, home=tmp_path / "ann", relay_url=relay.url, retry_for=1.0,
                 clock=lambda: default_clock() - 60_000)
    try:
        gid = ann.create_group("Slow clocks").group_id
        refused = ann.post(gid, "gone before it arrives", expires_in=1)
        assert not refused.delivered
        (warning,) = ann.warnings()
        assert isinstance(warning, UndeliverablePost)
        assert warning.post_id == refused.post_id and warning.code == PostExpiredError.code
        assert ann.group(gid).unsent_posts == 0  # refused for good: not sent again
        report = ann.sync(gid)[0]
        assert report.unsent_posts == 0 and not report.warnings

        kept = ann.post(gid, "this one stays")  # a refusal says nothing about the next post
        assert kept.delivered
        assert relay_post_ids(ann, gid) == [b64decode(kept.post_id)]
    finally:
        ann.close()
