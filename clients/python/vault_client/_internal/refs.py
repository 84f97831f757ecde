"""What a caller may pass to name a group, a member, a post or an invite, and how it is
resolved: the id (as text, the way Vault shows it, or as bytes), the result object that
carries it, or a name. Anything that names nothing, or several things, is one plain
:class:`UnknownReferenceError`."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import TypeAlias

from vault.crypto.encoding import b64decode
from vault.crypto.errors import MalformedError
from vault.crypto.log_entries import GROUP_ID_SIZE, INVITE_ID_SIZE
from vault.crypto.post_body import POST_ID_SIZE
from vault.crypto.primitives import PUBLIC_KEY_SIZE
from vault_client._internal.names import name_key
from vault_client.errors import UnknownReferenceError
from vault_client.types import (
    GroupInfo,
    Invite,
    InviteInfo,
    JoinRequestInfo,
    MemberInfo,
    Posted,
    PostView,
)

GroupRef: TypeAlias = str | bytes | GroupInfo
"""A group: its id (text or 32 bytes), its :class:`GroupInfo`, or its name (when only one
group on this device has it)."""
MemberRef: TypeAlias = str | bytes | MemberInfo | JoinRequestInfo
"""A member: their member id (text or 32 bytes), a :class:`MemberInfo` or
:class:`JoinRequestInfo`, or their display name (when it names one member)."""
PostRef: TypeAlias = str | bytes | PostView | Posted
"""A post: its id (text or 16 bytes), or the :class:`PostView` / :class:`Posted` of it."""
InviteRef: TypeAlias = str | bytes | Invite | InviteInfo
"""An invite: its id (text or 16 bytes), or the :class:`Invite` / :class:`InviteInfo`."""
Names: TypeAlias = Callable[[], Iterable[tuple[bytes, str | None]]]
"""Lists ids with their names (None: not readable), asked only when a name is given."""


def _id_of(ref: object, size: int, attrs: tuple[str, ...]) -> bytes | None:
    """The id *ref* is or carries (in one of *attrs*), or None when there is no such id."""
    for attr in attrs:
        if not isinstance(ref, str | bytes) and hasattr(ref, attr):
            ref = getattr(ref, attr)
            break
    if isinstance(ref, bytes):
        return ref if len(ref) == size else None
    if isinstance(ref, str):
        try:
            raw = b64decode(ref.strip(), "id")
        except MalformedError:
            return None
        return raw if len(raw) == size else None
    return None


def _refuse(what: str, ref: object, hint: str) -> UnknownReferenceError:
    shown = ref if isinstance(ref, str) and len(ref) <= 64 else "what was given"
    return UnknownReferenceError(f"there is no {what} {shown!r}{hint}")


def group_id(ref: GroupRef, names: Names) -> bytes:
    """The group *ref* names; *names* lists this device's groups with their names."""
    found = _id_of(ref, GROUP_ID_SIZE, ("group_id",))
    if found is not None:
        return found
    if isinstance(ref, str) and ref.strip():
        key = name_key(ref)
        matches = [gid for gid, name in names() if name is not None and name_key(name) == key]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise UnknownReferenceError(f"several groups on this device are called {ref!r}; "
                                        "give the group's id")
    raise _refuse("group", ref, " on this device; give its id or its name")


def member_key(ref: MemberRef, names: Names) -> bytes:
    """The member *ref* names; *names* lists the group's members with their names."""
    found = _id_of(ref, PUBLIC_KEY_SIZE, ("member_id", "joiner"))
    if found is not None:
        return found
    if isinstance(ref, str) and ref.strip():
        key = name_key(ref)
        matches = [pk for pk, name in names() if name is not None and name_key(name) == key]
        if len(matches) == 1:
            return matches[0]
        if matches:
            raise UnknownReferenceError(f"several members are called {ref!r}; give the "
                                        "member's id")
    raise _refuse("member", ref, " in this group; give their id or their name")


def post_id(ref: PostRef) -> bytes:
    found = _id_of(ref, POST_ID_SIZE, ("post_id",))
    if found is None:
        raise _refuse("post", ref, "; give its id as Vault shows it")
    return found


def invite_id(ref: InviteRef) -> bytes:
    found = _id_of(ref, INVITE_ID_SIZE, ("invite_id",))
    if found is None:
        raise _refuse("invite", ref, "; give its id as Vault shows it")
    return found
