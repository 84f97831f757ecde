"""Muting a member on this device: their posts and replies are drawn collapsed
(:attr:`PostView.muted`), nothing else changes. The choice is this device's owner's alone:
it is never sent, and it is kept sealed in the local store (a MutedMembers record,
:mod:`vault.crypto.localstore`), so a copied store does not say whom its owner muted."""

from __future__ import annotations

from vault.crypto.localstore import MAX_MUTED_MEMBERS
from vault_client._internal.device import Device, muted_key
from vault_client._internal.group_view import GroupView
from vault_client.errors import InvalidArgumentError


def set_muted(device: Device, view: GroupView, member: bytes, muted: bool) -> None:
    """Mute (or unmute) *member* in *view*'s group on this device: saved, then shown. A
    member this device has never seen in the group's log, or oneself, is refused. The list
    is read and written in one store transaction, so a change another program made to it
    meanwhile is kept."""
    state = view.state
    if state is None or (member not in state.members and member not in state.former_members):
        raise InvalidArgumentError("that person is not a member of this group")
    if member == view.me.sign_pk:
        raise InvalidArgumentError("you cannot mute yourself")
    gid = view.group_id
    result: list[frozenset[bytes]] = []

    def change(saved: str | None) -> str | None:
        current = device.muted_from(gid, saved)
        wanted = current | {member} if muted else current - {member}
        if len(wanted) > MAX_MUTED_MEMBERS:
            raise InvalidArgumentError(f"at most {MAX_MUTED_MEMBERS} members can be muted "
                                       "in one group: unmute someone first")
        result.append(frozenset(wanted))
        if wanted == current:
            return saved
        if not wanted:  # (no row at all: an empty one would say that someone was muted once)
            return None
        return device.muted_to_save(gid, frozenset(wanted))

    device.store.change_meta(muted_key(gid), change)
    view.muted = result[0]
