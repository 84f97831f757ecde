"""Learning that an owner deleted a group (every member's device).

The relay's word is never enough: a device drops its copy only for an owner's signed
DELETE_GROUP entry that fits the log it verified (vault.crypto.log_verify.check_deletion,
protocol §4.9), or one in the verified log itself. What it then keeps, until the person
dismisses it, is a sealed notice (a DeletedGroup record): the group's name, who deleted
it, when, and how many of this device's posts were never sent.
"""

from __future__ import annotations

from typing import Final

from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import (
    DeletionUnprovenError,
    GroupDeletedError,
    MalformedError,
    NotFoundError,
)
from vault.crypto.localstore import (
    MAX_NOTICE_TEXT,
    DeletedGroup,
    decode_deleted_group,
    encode_deleted_group,
    record_id,
)
from vault.crypto.log import LogEntry
from vault.crypto.log_verify import check_deletion
from vault_client import events as ev
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.group_view import GroupView
from vault_client.errors import UnknownGroupError
from vault_client.types import DeletedGroupInfo

NOTICE_KIND: Final = "deleted-group"
NOTICE_PREFIX: Final = "deleted-group/"


def notice_key(group_id: bytes) -> str:
    return NOTICE_PREFIX + b64encode(group_id)


def learn(device: Device, view: GroupView) -> ev.GroupDeleted:
    """The relay says the group was deleted (``group_deleted``), or the verified log ends
    with its deletion: drop this device's copy if the log shows it or the relay shows an
    owner's deletion that fits the verified log, else :class:`DeletionUnprovenError` (the
    copy stays). Learning it again (another call that met it) returns the same news."""
    known = notice(device, view.group_id)
    if known is not None and device.store.group(view.group_id) is None:
        return known
    state = view.state
    if state is not None and state.deleted:  # verified with the whole chain
        return drop(device, view, LogEntry.decode(view.entries[-1]))
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
    return drop(device, view, check_deletion(state, raw, now_ms=device.now()))


def drop(device: Device, view: GroupView, entry: LogEntry) -> ev.GroupDeleted:
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


def confirmed(device: Device, view: GroupView) -> GroupDeletedError:
    """The relay said ``group_deleted`` (or the log shows it): learn it (raising
    :class:`DeletionUnprovenError` if it is not proven), and the error a command that met it
    raises, saying who deleted the group."""
    news = learn(device, view)
    return GroupDeletedError(f"{news.deleted_by} (an owner) deleted this group; this device "
                             "no longer keeps it, so nothing was changed")


def notice(device: Device, group_id: bytes) -> ev.GroupDeleted | None:
    """The kept news of this group's deletion, if any."""
    saved = device.store.meta(notice_key(group_id))
    return None if saved is None else _read(device, group_id, saved)


def _read(device: Device, group_id: bytes, saved: str) -> ev.GroupDeleted:
    kept = decode_deleted_group(device.unseal(NOTICE_KIND, record_id(group_id),
                                              b64decode(saved)))
    return ev.GroupDeleted(b64encode(group_id), kept.name, kept.deleted_by, kept.deleted_at_ms,
                           kept.unsent_posts, kept.by_me)


def notices(device: Device) -> list[DeletedGroupInfo]:
    """The deleted groups this device was told of and still keeps a notice of."""
    found = [_read(device, b64decode(key[len(NOTICE_PREFIX):]), saved)
             for key, saved in device.store.meta_prefix(NOTICE_PREFIX)]
    return sorted((info(news) for news in found), key=lambda n: n.deleted_at_ms)


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
