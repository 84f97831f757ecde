"""The history policy is the group's, set in the membership log by an admin and applied by
every admin's device (against a real relay process): another admin's device admits by it,
not by its own default; members cannot set it; a group created sharing history says so in
its log."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_client import Role
from vault_client.errors import NotPermittedError

from tests.client.conftest import RelayProcess
from tests.client.test_newcomers import open_client


def test_every_admins_device_admits_by_the_groups_policy(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben, \
            open_client(tmp_path, "cat", relay_up) as cat, \
            open_client(tmp_path, "dan", relay_up) as dan:
        gid = ann.create_group("Circle", display_name="Ann").group_id
        joined = ben.join(ann.create_invite(gid).uri)
        ann.approve(gid, joined.member_id, role=Role.ADMIN)
        ben.sync(gid)
        early = ann.post(gid, "Written before Cat and Dan came").post_id
        assert ann.group(gid).history_policy == "none"  # the default, no entry needed
        seq = ann.group(gid).log_seq
        ann.set_history_policy(gid, "all")
        assert ann.group(gid).log_seq == seq + 1  # one HISTORY entry
        ann.set_history_policy(gid, "all")  # the same again: nothing written
        assert ann.group(gid).log_seq == seq + 1
        ben.sync(gid)
        assert ben.group(gid).history_policy == "all"  # the group's, on Ben's device too
        # Ben (another admin, whose device never chose a policy) admits Cat: by the
        # group's policy, so Cat reads what was written before she came.
        request = cat.join(ann.create_invite(gid).uri)
        ben.sync(gid)
        # Nor can one admin choose otherwise for one person: refused, nothing written.
        seq = ben.group(gid).log_seq
        with pytest.raises(NotPermittedError, match="setting is that newcomers read 'all'"):
            ben.approve(gid, request.member_id, share_history="none")
        assert ben.group(gid).log_seq == seq
        assert [r.joiner for r in ben.pending_requests(gid)] == [request.member_id]
        ben.approve(gid, request.member_id)
        cat.sync(gid)
        assert [p.post_id for p in cat.posts(gid)] == [early]
        # Members cannot set it; nothing is written.
        with pytest.raises(NotPermittedError, match="only admins"):
            cat.set_history_policy(gid, "none")
        assert cat.group(gid).log_seq == ben.group(gid).log_seq
        # Back to "none": Ben's device admits Dan with a new epoch; Dan reads nothing older.
        ann.set_history_policy(gid, "none")
        request = dan.join(ann.create_invite(gid).uri)
        ben.sync(gid)
        ben.approve(gid, request.member_id)
        dan.sync(gid)
        assert dan.posts(gid) == [] and dan.group(gid).history_policy == "none"
        for person in (ann, ben, cat, dan):
            assert person.warnings() == []


def test_a_group_created_sharing_history_says_so_in_its_log(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = ann.create_group("Open", history_policy="current").group_id
        joined = ben.join(ann.create_invite(gid).uri)
        ann.approve(gid, joined.member_id)
        ben.sync(gid)
        assert ben.group(gid).history_policy == "current"
