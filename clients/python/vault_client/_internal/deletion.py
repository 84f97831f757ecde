"""A group an owner deleted: deleting it (an owner's device) and learning of it (every
member's device).

The relay's word is never enough: a device drops its copy only for an owner's signed
DELETE_GROUP entry that fits the log it verified (vault.crypto.log_verify.check_deletion,
protocol §4.9). What it then keeps, until the person dismisses it, is a sealed notice
(a DeletedGroup record): the group's name, who deleted it, when, and how many of this
device's posts were never sent.
"""

from __future__ import annotations

import contextlib
from typing import Final

from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import (
    DeletionUnprovenError,
    GroupDeletedError,
    MalformedError,
    NotFoundError,
    RelayUnavailableError,
)
from vault.crypto.localstore import (
    MAX_NOTICE_TEXT,
    DeletedGroup,
    decode_deleted_group,
    encode_deleted_group,
    record_id,
)
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import DeleteGroupBody, EntryKind
from vault.crypto.log_verify import check_deletion
from vault_client import events as ev
from vault_client._internal import outbox
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.group_view import GroupView
from vault_client._internal.log_io import append
from vault_client.errors import NotPermittedError, UnknownGroupError
from vault_client.types import DeletedGroupInfo

NOTICE_KIND: Final = "deleted-group"
NOTICE_PREFIX: Final = "deleted-group/"


def notice_key(group_id: bytes) -> str:
    return NOTICE_PREFIX + b64encode(group_id)


def delete_group(device: Device, view: GroupView, *, discard_unsent: bool) -> DeletedGroupInfo:
    """Delete the group for everyone (its owners only): what waits in the outbox goes out
    first; refused, changing nothing, while posts still wait (unless *discard_unsent*)."""
    state = view.state
    assert state is not None
    if not state.can(view.me.sign_pk, EntryKind.DELETE_GROUP):
        raise NotPermittedError("only an owner of the group can delete it")
    try:
        with contextlib.suppress(RelayUnavailableError):  # (unreachable too)
            outbox.flush(device, view, [])  # what could not go out is counted below
        waiting = len(view.unsent)
        if waiting and not discard_unsent:
            raise NotPermittedError(
                f"{waiting} of your posts in this group are still waiting to be sent; sync "
                "when they can go out, or delete the group anyway and lose them")
        entry = append(device, view, lambda _state: DeleteGroupBody())
    except GroupDeletedError:  # another owner was first (or this device's answer was lost)
        return info(learn(device, view))
    return info(_drop(device, view, entry))


def learn(device: Device, view: GroupView) -> ev.GroupDeleted:
    """The relay says the group was deleted: drop this device's copy if the relay shows an
    owner's deletion that fits the verified log, else :class:`DeletionUnprovenError` (the
    copy stays)."""
    state = view.state
    if state is None:
        raise DeletionUnprovenError(
            "the relay says this group was deleted, and this device has no verified log of "
            "it to check that against")
    try:
        raw = device.transport(view.relay_url).deletion(view.group_id)
    except NotFoundError:
        raise DeletionUnprovenError(
            "the relay says this group was deleted, but shows no deletion by an owner; this "
            "device keeps its copy") from None
    return _drop(device, view, check_deletion(state, raw, now_ms=device.now()))


def _drop(device: Device, view: GroupView, entry: LogEntry) -> ev.GroupDeleted:
    """Keep the notice, then forget the group (a crash in between leaves the group, which
    the next sync finds deleted again)."""
    notice = DeletedGroup(
        name=_fit(_name(view)),
        deleted_by=_fit(V.name_or_id(view, entry.author)),
        deleted_at_ms=entry.timestamp_ms,
        unsent_posts=device.store.outbox_count(view.group_id),
        by_me=entry.author == view.me.sign_pk,
    )
    gid = view.group_id
    sealed = device.seal(NOTICE_KIND, record_id(gid), encode_deleted_group(notice))
    device.store.set_meta(notice_key(gid), b64encode(sealed))
    device.forget(view)
    return ev.GroupDeleted(view.gid, notice.name, notice.deleted_by, notice.deleted_at_ms,
                           notice.unsent_posts, notice.by_me)


def notices(device: Device) -> list[DeletedGroupInfo]:
    """The deleted groups this device was told of and still keeps a notice of."""
    found = []
    for key, value in device.store.meta_prefix(NOTICE_PREFIX):
        gid = b64decode(key[len(NOTICE_PREFIX):])
        notice = decode_deleted_group(device.unseal(NOTICE_KIND, record_id(gid),
                                                    b64decode(value)))
        found.append(info(ev.GroupDeleted(b64encode(gid), notice.name, notice.deleted_by,
                                          notice.deleted_at_ms, notice.unsent_posts,
                                          notice.by_me)))
    return sorted(found, key=lambda n: n.deleted_at_ms)


def dismiss(device: Device, group_id: str) -> None:
    """Forget a deleted group's notice (:class:`UnknownGroupError` if there is none)."""
    try:
        gid = b64decode(group_id, "group id", max_len=32)
    except MalformedError:
        raise UnknownGroupError("no deleted group with that id on this device") from None
    key = notice_key(gid)
    if device.store.meta(key) is None:
        raise UnknownGroupError("no deleted group with that id on this device")
    device.store.delete_meta(key)


def info(event: ev.GroupDeleted) -> DeletedGroupInfo:
    return DeletedGroupInfo(event.group_id, event.name, event.deleted_by, event.deleted_at_ms,
                            event.unsent_posts, event.by_me)


def _name(view: GroupView) -> str:
    meta = V.group_metadata(view)
    return "" if meta is None else meta.name


def _fit(text: str) -> str:
    """At most MAX_NOTICE_TEXT bytes of UTF-8, cut at a character."""
    return text.encode("utf-8")[:MAX_NOTICE_TEXT].decode("utf-8", "ignore")
