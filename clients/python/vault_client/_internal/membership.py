"""Membership: members and their roles, this member's display name, removals, leaving,
safety numbers, and moving an identity to another device."""

from __future__ import annotations

from collections.abc import Callable, Mapping

from vault.crypto.encoding import b64encode
from vault.crypto.epochs import key_matches_log
from vault.crypto.errors import AlreadyMemberError, InviteRevokedError, NotAMemberError
from vault.crypto.group_state import GroupState
from vault.crypto.identity_export import ExportedIdentity
from vault.crypto.identity_export import export_identity as seal_identity_export
from vault.crypto.identity_export import import_identity as open_identity_export
from vault.crypto.log_entries import InviteRevokeBody, LeaveBody, Role, RoleBody
from vault.crypto.safety import safety_number as core_safety_number
from vault_client._internal import outbox, refs, rules
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.group_view import GroupView
from vault_client._internal.log_io import append, fetch_log
from vault_client._internal.refs import MemberRef
from vault_client._internal.rotation import rotate
from vault_client._internal.sync_io import sync_group
from vault_client._internal.transport import MemberAuth
from vault_client.errors import NotPermittedError
from vault_client.types import MemberInfo


def me(view: GroupView) -> MemberInfo:
    mine = b64encode(view.me.sign_pk)
    return next(m for m in V.members(view) if m.member_id == mine)


def set_role(device: Device, view: GroupView, member: MemberRef, role: Role) -> None:
    """Change a role. Taking a moderator's or admin's rights away also starts a new epoch:
    their deletes and pins are judged at the log position they name (TV-3, TV-6), which
    they choose, and a post must be sealed for the epoch in force there; once the group has
    moved to a new epoch, the relay refuses posts sealed for an older one, so they cannot
    date a pin or delete before their demotion (only a relay that helps them can)."""
    pk = refs.member_key(member, lambda: V.member_names(view))
    state = view.state
    assert state is not None
    before = state.role_of(pk)
    append(device, view, lambda s: RoleBody(pk, Role(role)))
    if before is not None and before >= Role.MODERATOR and Role(role) < before:
        rotate(device, view, [])


def remove(device: Device, view: GroupView, member: MemberRef, *,
           revoke_invites: bool = False) -> int:
    """Remove a member (a new epoch); with *revoke_invites*, then every invite that could
    still admit someone is revoked (one entry each), so a copy of an invite the removed
    person kept, or was shown, lets nobody in. Returns how many invites were revoked. If
    the relay stops answering between the two, the member is removed and the error says
    so; the invites left can be revoked again."""
    pk = refs.member_key(member, lambda: V.member_names(view))
    rotate(device, view, [], remove=pk)
    if not revoke_invites:
        rules.publish_cards(device, view)  # (the new epoch sealed the metadata again)
        return 0
    state = view.state
    assert state is not None
    revoked = 0
    # Every invite not revoked with uses left (expired ones too: this device's clock is not
    # the relay's), one entry each; one another admin revoked meanwhile is passed over.
    for invite in list(state.invites.values()):
        if not invite.revoked and invite.uses < invite.max_uses:
            try:
                append(device, view, _revoking(invite.invite_id))
            except InviteRevokedError:
                continue
            revoked += 1
    return revoked


def _revoking(invite_id: bytes) -> Callable[[GroupState], InviteRevokeBody]:
    """The entry body :func:`append` builds (on whatever head it finds) to revoke one
    invite."""
    return lambda _state: InviteRevokeBody(invite_id)


def leave(device: Device, view: GroupView, *, discard_unsent: bool) -> None:
    """Send what waits in the outbox, leave, and forget the group. Refused, changing
    nothing, while posts still wait (unless *discard_unsent*)."""
    outbox.flush(device, view, None)
    waiting = len(view.unsent)
    if waiting and not discard_unsent:
        raise NotPermittedError(
            f"{waiting} of your posts in this group are still waiting to be sent; sync when "
            "they can go out, or leave anyway and lose them")
    append(device, view, lambda s: LeaveBody())
    device.forget(view)


def safety_number(view: GroupView, member: MemberRef) -> str:
    pk = refs.member_key(member, lambda: V.member_names(view))
    assert view.state is not None
    record = view.state.member_record(pk)
    if record is None:
        raise NotAMemberError("that key is not a member of this group")
    return core_safety_number(view.me.public, record.identity)


def export_identity(view: GroupView, passphrase: str, next_seq: int) -> bytes:
    """The identity, with the log checkpoint and the highest post number seen from each
    author (this member's own included: the other device goes on numbering from there)."""
    return seal_identity_export(exported(view, next_seq), passphrase)


def exported(view: GroupView, next_seq: int) -> ExportedIdentity:
    """This device's identity in the group and what it verified (see export_identity)."""
    assert view.state is not None
    # Posts this device holds (not expired ones, which the relay no longer serves: they
    # would look withheld), marks it was given itself, and its own numbering.
    marks: dict[bytes, int] = dict(view.marks)
    for post in view.timeline.ordered():
        author, seq = post.body.author, post.body.author_seq
        marks[author] = max(marks.get(author, 0), seq)
    if next_seq > 1:
        me = view.me.sign_pk
        marks[me] = max(marks.get(me, 0), next_seq - 1)
    return ExportedIdentity(view.me, view.group_id, view.relay_url, view.state.checkpoint(),
                            marks)


def import_identity(device: Device, data: bytes, passphrase: str) -> GroupView:
    """Take an exported identity whose group this device is not in, and sync the group."""
    device.check_open()
    return take_identity(device, open_identity_export(data, passphrase))


def take_identity(device: Device, exported: ExportedIdentity,
                  epoch_keys: Mapping[int, bytes] | None = None) -> GroupView:
    """Become *exported*'s member on this device (its group must not be here yet): the log
    verified against the checkpoint, the numbering and marks kept, *epoch_keys* kept where
    the verified log committed to them; then the group is synced."""
    gid = exported.group_id
    if device.store.group(gid) is not None:
        raise AlreadyMemberError("this device is already in that group")
    transport = device.transport(exported.relay_url)
    auth = MemberAuth(gid, exported.identity)
    # The exporting device's checkpoint: a relay serving an older log than it had
    # verified is caught here as it would have been there (RollbackError, ForkError).
    state, entries = fetch_log(device, transport, auth, gid, checkpoint=exported.checkpoint)
    if not state.is_member(exported.identity.sign_pk):
        raise NotAMemberError("this identity is no longer a member of its group")
    device.keys.add_identity(gid, exported.identity)
    device.store.add_group(gid, exported.relay_url, "member", "none", device.now())
    device.store.replace_log(gid, entries, state.checkpoint().encode())
    own = exported.post_marks.get(exported.identity.sign_pk)
    if own is not None:
        device.store.bump_author_seq(gid, own + 1)  # never number a post twice
    if exported.post_marks:
        device.save_marks(gid, dict(exported.post_marks))
    view = device.view(gid)
    for epoch, key in sorted((epoch_keys or {}).items()):
        if key_matches_log(state, epoch, key):  # (a damaged key is fetched as a grant)
            device.save_key(view, epoch, key)
            view.keys[epoch] = key
    sync_group(device, view)
    return view
