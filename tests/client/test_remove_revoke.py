"""Removing a member and revoking every open invite at once (``remove(...,
revoke_invites=True)``), against a real relay process: invites that could still admit
someone are revoked first, spent ones are left as they are, and nobody joins with a revoked
one; without the flag the invites stay open."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_client.errors import VaultError

from tests.client.conftest import RelayProcess
from tests.client.test_newcomers import circle, open_client


def test_removing_with_revoke_invites_closes_every_open_invite(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben, \
            open_client(tmp_path, "cat", relay_up) as cat, \
            open_client(tmp_path, "dan", relay_up) as dan, \
            open_client(tmp_path, "eve", relay_up) as eve:
        gid = circle(ann, ben, cat)
        kept = ann.create_invite(gid, max_uses=5)  # a QR code Ben may have seen
        self_join = ann.create_invite(gid, require_approval=False)
        spent = ann.create_invite(gid, max_uses=1, require_approval=False)
        dan.join(spent.uri, display_name="Dan")  # the invite's one use
        ann.sync(gid)
        assert ann.remove(gid, "Cat") == 0  # without the flag: nothing revoked
        assert {i.invite_id for i in ann.invites(gid) if i.usable} >= {
            kept.invite_id, self_join.invite_id}

        open_before = {i.invite_id for i in ann.invites(gid) if i.usable}
        assert ann.remove(gid, "Ben", revoke_invites=True) == len(open_before)
        after = {i.invite_id: i for i in ann.invites(gid)}
        assert all(after[iid].revoked and not after[iid].usable for iid in open_before)
        assert not any(i.usable for i in after.values())
        for invite in (kept, self_join):
            with pytest.raises(VaultError, match="revoked"):
                eve.join(invite.uri)
        assert spent.invite_id not in open_before and not after[spent.invite_id].revoked
        assert {m.member_id for m in ann.members(gid)} == {ann.me(gid).member_id,
                                                          dan.me(gid).member_id}
        ann.sync(gid)
        assert ann.warnings() == []
