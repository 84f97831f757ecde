"""Rules before joining, against a real relay process: a joiner reads the group's name,
description and rules from the invite (checked against the group's log) and accepts them; the
admin sees the acceptance beside the safety number; when the rules change, members are asked to
accept the new ones and admins see who has; an invite's card follows the group's changes."""

from __future__ import annotations

from pathlib import Path

import pytest
from vault_client import Role
from vault_client.errors import RulesCardStaleError

from tests.client.conftest import RelayProcess
from tests.client.test_newcomers import open_client

RULES = "1. Listen first.\n2. No advice unless asked.\n3. Names stay in the room."


def accepted(client: object, gid: str) -> dict[str, str]:
    return {m.label: m.accepted_rules for m in client.members(gid)}  # type: ignore[attr-defined]


@pytest.mark.slow
def test_a_joiner_reads_and_accepts_the_rules_and_members_accept_new_ones(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben, \
            open_client(tmp_path, "cat", relay_up) as cat:
        gid = ann.create_group("Tuesday circle", "We meet on Tuesdays.", RULES,
                               display_name="Ann").group_id
        invite = ann.create_invite(gid, max_uses=2)
        preview = ben.preview_invite(invite.uri)
        assert (preview.card_shown, preview.name, preview.description, preview.rules) == \
            (True, "Tuesday circle", "We meet on Tuesdays.", RULES)
        assert preview.history_policy is None and preview.requires_approval
        me = next(m for m in ann.members(gid) if m.is_me)
        assert preview.signed_by == me.fingerprint
        assert ben.groups() == []  # a preview keeps nothing

        ben.join(invite.uri, display_name="Ben", accept_rules=preview.rules_id)
        (request,) = ann.pending_requests(gid)
        assert request.accepted_rules == "current"
        ann.approve(gid, request.joiner)
        ben.sync(gid)
        ann.sync(gid)
        # Ann wrote the rules when she created the group: she accepted them then.
        assert accepted(ann, gid) == {"Ann": "current", "Ben": "current"}
        assert not ben.group(gid).rules_to_accept

        # The name changes: the same rules, nobody is asked again; the invite's card
        # (sealed again by Ann's device) shows the new name, not a stale card.
        ann.update_group(gid, name="Tuesday evening circle")
        ben.sync(gid)
        assert not ben.group(gid).rules_to_accept
        assert cat.preview_invite(invite.uri).name == "Tuesday evening circle"

        # New rules: Ann (who set them) has accepted them, Ben is asked to.
        read_before = cat.preview_invite(invite.uri)
        ann.update_group(gid, rules=RULES + "\n4. Phones away.")
        ann.sync(gid)
        assert accepted(ann, gid) == {"Ann": "current", "Ben": "earlier"}
        ben.sync(gid)
        assert ben.group(gid).rules_to_accept
        ben.accept_rules(gid)
        assert not ben.group(gid).rules_to_accept
        ann.sync(gid)
        assert accepted(ann, gid) == {"Ann": "current", "Ben": "current"}

        # Cat accepts what she read before the rules changed: refused, nothing kept.
        with pytest.raises(RulesCardStaleError, match="read them again"):
            cat.join(invite.uri, accept_rules=read_before.rules_id)
        assert cat.groups() == []
        fresh = cat.preview_invite(invite.uri)
        assert fresh.rules == RULES + "\n4. Phones away."
        cat.join(invite.uri, display_name="Cat", accept_rules=fresh.rules_id)
        (request,) = ann.pending_requests(gid)
        assert request.accepted_rules == "current"
        for person in (ann, ben, cat):
            assert person.warnings() == []


@pytest.mark.slow
def test_a_joiner_who_accepted_nothing_is_asked_once_admitted(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "dan", relay_up) as dan, \
            open_client(tmp_path, "eve", relay_up) as eve:
        gid = ann.create_group("Circle", rules=RULES, display_name="Ann").group_id
        result = dan.join(ann.create_invite(gid).uri, display_name="Dan")
        (request,) = ann.pending_requests(gid)
        assert request.accepted_rules == "none"
        ann.approve(gid, result.member_id)
        dan.sync(gid)
        assert dan.group(gid).rules_to_accept
        dan.accept_rules(gid)
        ann.sync(gid)
        assert accepted(ann, gid)["Dan"] == "current"
        # Eve comes and goes: the new epoch seals the same metadata again (a new rules ref),
        # which asks nobody again, and the invite's card is renewed by Ann's device.
        invite = ann.create_invite(gid, max_uses=3)
        eve.join(invite.uri, accept_rules=eve.preview_invite(invite.uri).rules_id)  # no name
        (request,) = ann.pending_requests(gid)
        ann.approve(gid, request.joiner)
        eve.sync(gid)  # her first profile: no name, the rules she accepted
        ann.sync(gid)
        shown = {m.member_id: m for m in ann.members(gid)}[request.joiner]
        assert shown.display_name is None and shown.label.startswith("member ")
        assert shown.accepted_rules == "current"
        ann.remove(gid, request.joiner)
        ann.sync(gid)
        dan.sync(gid)
        assert not dan.group(gid).rules_to_accept
        assert accepted(ann, gid) == {"Ann": "current", "Dan": "current"}
        assert accepted(dan, gid) == {"Ann": "current", "Dan": "current"}
        assert eve.preview_invite(invite.uri).up_to_date  # renewed at once by Ann's device
        # Another admin's new epoch while Ann's device is away: the card is for the metadata
        # before it (the same text). Fay reads it marked as possibly out of date, may still
        # join, and Dan (an admin now) sees that she accepted the rules in force.
        ann.set_role(gid, dan.me(gid).member_id, Role.ADMIN)
        dan.sync(gid)
        gone = ann.create_invite(gid)  # someone to remove: a new epoch by Dan
        with open_client(tmp_path, "fay", relay_up) as fay, \
                open_client(tmp_path, "gus", relay_up) as gus:
            gus.join(gone.uri, display_name="Gus")
            dan.approve(gid, dan.pending_requests(gid)[0].joiner, share_history="current")
            dan.remove(gid, gus.group(gid).my_member_id)
            seen = fay.preview_invite(invite.uri)
            assert not seen.up_to_date and seen.rules == RULES
            ann.sync(gid)  # Ann's device renews the card meanwhile: the same rules will do
            assert fay.preview_invite(invite.uri).up_to_date
            fay.join(invite.uri, display_name="Fay", accept_rules=seen.rules_id)
            (request,) = dan.pending_requests(gid)
            assert request.accepted_rules == "current"
            # A new epoch Dan's device has no key for yet: it cannot check what Fay read,
            # and says so ("unknown", not "earlier"), until it syncs.
            ann.rotate(gid)
            assert [r.accepted_rules for r in dan.pending_requests(gid)] == ["unknown"]
            dan.sync(gid)
            assert [r.accepted_rules for r in dan.pending_requests(gid)] == ["current"]
        # A group without rules asks nobody.
        other = ann.create_group("No rules", display_name="Ann").group_id
        assert not ann.group(other).rules_to_accept



def test_accepting_the_rules_after_asking_to_join(tmp_path: Path,
                                                  relay_up: RelayProcess) -> None:
    """Gus asked to join without accepting the rules, then accepts them with the same invite
    while his request waits: the admin sees the acceptance, and his first profile names the
    rules (join() used to ignore accept_rules on a waiting request)."""
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "gus", relay_up) as gus:
        gid = ann.create_group("Circle", "", RULES, display_name="Ann").group_id
        invite = ann.create_invite(gid, max_uses=2)
        rules_id = gus.preview_invite(invite.uri).rules_id
        assert gus.join(invite.uri, display_name="Gus").status == "pending"
        (request,) = ann.pending_requests(gid)
        assert request.accepted_rules == "none"
        again = gus.join(invite.uri, accept_rules=rules_id)
        assert again.status == "pending"
        (request,) = ann.pending_requests(gid)
        assert request.accepted_rules == "current"
        ann.approve(gid, request.joiner)
        gus.sync(gid)
        ann.sync(gid)
        assert accepted(ann, gid) == {"Ann": "current", "Gus": "current"}
        assert not gus.group(gid).rules_to_accept


def test_a_card_whose_text_is_not_the_groups_rules_accepts_nothing(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    """An admin's device publishes a card stating other rules than the group's entry holds
    (a dishonest or buggy client: the card names the entry, and the joiner cannot read the
    entry to compare). The joiner accepts what they read; the admin sees it is not the rules
    in force, and once admitted the newcomer's first profile accepts nothing: they are asked
    to accept the group's real rules."""
    from vault.crypto.invites import parse_invite_uri
    from vault.crypto.metadata import GroupMetadata
    from vault.crypto.rules_card import make_rules_card, seal_rules_card

    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "hal", relay_up) as hal:
        gid = ann.create_group("Circle", "", RULES, display_name="Ann").group_id
        invite = ann.create_invite(gid, max_uses=2)
        view = ann._device.view(gid)
        state = view.state
        assert state is not None
        link = parse_invite_uri(invite.uri)
        card = make_rules_card(view.me, state, link.invite_id,
                               GroupMetadata("Circle", "", "Anything goes."),
                               view.keys[state.epoch])
        ann._device.transport(view.relay_url).put_card(
            ann._device.auth(view), link.invite_id, seal_rules_card(card, link.secret))
        shown = hal.preview_invite(invite.uri)
        assert shown.rules == "Anything goes."
        hal.join(invite.uri, display_name="Hal", accept_rules=shown.rules_id)
        (request,) = ann.pending_requests(gid)
        assert request.accepted_rules == "earlier"  # not the rules in force
        ann.approve(gid, request.joiner)
        hal.sync(gid)
        assert hal.group(gid).rules_to_accept and hal.group(gid).rules == RULES
        ann.sync(gid)
        assert accepted(ann, gid)["Hal"] == "none"
