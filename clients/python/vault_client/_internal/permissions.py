"""What this member may do, checked on this device before anything is written or sent, and
said plainly when it may not (the log's rules, in :mod:`vault.crypto.log_rules`, decide in
the end; these checks only refuse early, in words a person understands)."""

from __future__ import annotations

from vault.crypto.group_state import GroupState
from vault.crypto.log_entries import EntryKind, Role
from vault_client._internal.group_view import GroupView
from vault_client.errors import NotPermittedError

_ADMIN_ONLY = {
    "invite": "only admins can invite people",
    "revoke": "only admins can revoke invites",
    "requests": "only admins can see and answer requests to join",
    "rotate": "only admins can start a new group key",
    "update": "only admins can change the group's name, description or rules",
}


def _state(view: GroupView) -> GroupState:
    assert view.state is not None
    return view.state


def require_admin(view: GroupView, action: str) -> None:
    """Refuse an admin's action (see ``_ADMIN_ONLY``) to anyone below admin."""
    if not _state(view).is_admin(view.me.sign_pk):
        raise NotPermittedError(_ADMIN_ONLY[action])


def check_remove(view: GroupView, target: bytes) -> None:
    state = _state(view)
    me = view.me.sign_pk
    if target == me:
        raise NotPermittedError("you cannot remove yourself; to go, leave the group")
    mine = state.role_of(me)
    if mine is None or mine < Role.ADMIN:
        raise NotPermittedError("only admins can remove members")
    theirs = state.role_of(target)
    if theirs is None:
        raise NotPermittedError("that person is not a member of the group (any more)")
    if theirs >= Role.ADMIN and mine != Role.OWNER:
        raise NotPermittedError("only owners can remove an admin or an owner")


def check_role(view: GroupView, target: bytes, role: Role) -> None:
    state = _state(view)
    me = view.me.sign_pk
    mine = state.role_of(me)
    theirs = state.role_of(target)
    if mine is None or mine < Role.ADMIN:
        raise NotPermittedError("only admins can change members' roles")
    if theirs is None:
        raise NotPermittedError("that person is not a member of the group (any more)")
    if theirs == role:
        raise NotPermittedError(f"they are already {_a(role)}")
    if (role >= Role.ADMIN or theirs >= Role.ADMIN) and mine != Role.OWNER:
        raise NotPermittedError("only owners can make someone an admin or an owner, or change "
                                "an admin's role")
    owners = sum(1 for m in state.members.values() if m.role == Role.OWNER)
    if theirs == Role.OWNER and owners == 1:
        raise NotPermittedError("the group needs an owner: make another member an owner first")


def check_admit(view: GroupView, role: Role) -> None:
    state = _state(view)
    mine = state.role_of(view.me.sign_pk)
    if mine is None or mine < Role.ADMIN:
        raise NotPermittedError(_ADMIN_ONLY["requests"])
    if role >= Role.ADMIN and mine != Role.OWNER:
        raise NotPermittedError("only owners can admit someone as an admin or an owner")


def check_leave(view: GroupView) -> None:
    if not _state(view).can(view.me.sign_pk, EntryKind.LEAVE):
        raise NotPermittedError(
            "you are the group's last owner: make another member an owner first, or hand "
            "the group over as you leave")


def _a(role: Role) -> str:
    name = role.name.lower()
    return f"an {name}" if name[0] in "aeiou" else f"a {name}"
