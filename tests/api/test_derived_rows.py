"""The relay's derived tables after every kind of entry (issue 14): an append updates only
the rows its entry touches, and the tables still say exactly what the verified log says."""

from __future__ import annotations

from sqlalchemy import select

from tests.api.helpers import Api, RelayGroup, join_request, real_invite
from vault.api.db import db
from vault.api.models import InviteRow, JoinRequestRow, MemberRow
from vault.api.state import REQUEST_APPROVED
from vault.crypto.log_entries import Role
from vault.crypto.log_verify import verify_log


def check_tables(g: RelayGroup) -> None:
    state = verify_log(g.f.group_id, g.f.raw)
    with g.api.app.app_context():
        members = {row.sign_pk: (row.role, row.joined_seq, row.removed_seq)
                   for row in db.session.scalars(
                       select(MemberRow).where(MemberRow.group_id == g.f.group_id))}
        invites = {row.invite_id: (row.uses, row.revoked)
                   for row in db.session.scalars(
                       select(InviteRow).where(InviteRow.group_id == g.f.group_id))}
    expected = {pk: (int(m.role), m.joined_seq, None) for pk, m in state.members.items()}
    expected |= {pk: (int(m.role), m.joined_seq, m.removed_seq)
                 for pk, m in state.former_members.items()}
    assert members == expected
    assert invites == {i: (inv.uses, inv.revoked) for i, inv in state.invites.items()}


def test_the_tables_follow_every_kind_of_entry(api: Api) -> None:
    g = RelayGroup(api, "derived-rows")
    admin = g.f.add_member(Role.ADMIN)
    people = g.f.add_members(5)
    g.sync()
    check_tables(g)
    link, ticket = real_invite(g, requires_approval=True, by=admin)
    joiner, request = join_request(g, link)
    response = api.post(f"{g.base}/join-requests", json={"request": request})
    assert response.status_code in (200, 201), response.get_json()
    g.f.approve(ticket, identity=joiner, by=admin)
    g.f.set_role(people[0], Role.MODERATOR)
    g.f.set_role(people[1], Role.OWNER)
    g.sync()
    check_tables(g)
    with api.app.app_context():
        status = db.session.scalar(select(JoinRequestRow.status).where(
            JoinRequestRow.group_id == g.f.group_id, JoinRequestRow.joiner_pk == joiner.sign_pk))
    assert status == REQUEST_APPROVED
    g.f.remove(people[2])
    g.f.leave(people[3])
    g.f.rotate()
    g.f.revoke(ticket)
    g.f.add_rotating()
    g.f.set_role(people[1], Role.ADMIN)
    g.f.remove(joiner, by=admin)
    g.sync()
    check_tables(g)
