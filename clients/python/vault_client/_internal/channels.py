"""A group's channels: listing them, naming the one a post is in, and what admins change
(the list lives in the group metadata, :mod:`vault.crypto.channels` says how)."""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from dataclasses import replace

from vault.crypto.channels import ChannelKind, channel_kind, may_write_in, new_channel_id
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import MalformedError, RelayUnavailableError
from vault.crypto.metadata import Channel, GroupMetadata
from vault.crypto.post_body import PostBody
from vault_client._internal import views as V
from vault_client._internal.device import Device
from vault_client._internal.group_view import GroupView
from vault_client._internal.log_io import sync_log
from vault_client._internal.names import name_key
from vault_client._internal.rotation import edit_group_metadata
from vault_client.errors import InvalidArgumentError, NotPermittedError, UnknownReferenceError
from vault_client.types import MAIN_CHANNEL, ChannelInfo

ChannelRef = str | bytes | ChannelInfo
"""A channel: its id (text, :data:`MAIN_CHANNEL`, or 16 bytes), its :class:`ChannelInfo`, or
its name (when one channel of the group has it)."""

ANNOUNCEMENTS_ONLY = ("only moderators and admins can post in an announcements channel; "
                      "you can react to posts there and vote in its polls")


def info(view: GroupView) -> list[ChannelInfo]:
    """The main channel, then the listed ones, in order."""
    state = view.state
    assert state is not None
    me = view.me.sign_pk

    def can(channel: bytes | None) -> bool:
        return state.is_member(me) and may_write_in(state, me, state.seq, channel)

    out = [ChannelInfo(MAIN_CHANNEL, "", "main", can(None))]
    for channel in V.listed_channels(view):
        out.append(ChannelInfo(
            b64encode(channel.channel_id), channel.name,
            "announcements" if channel.kind is ChannelKind.ANNOUNCEMENTS else "discussion",
            can(channel.channel_id)))
    return out


def resolve(view: GroupView, ref: ChannelRef) -> bytes | None:
    """The channel *ref* names among the group's (None: the main channel)."""
    if isinstance(ref, ChannelInfo):
        ref = ref.channel_id
    if ref == MAIN_CHANNEL:
        return None
    channels = V.listed_channels(view)
    if isinstance(ref, str):
        try:
            raw: bytes | None = b64decode(ref.strip(), "channel id")
        except MalformedError:
            raw = None
        if raw is None or not any(c.channel_id == raw for c in channels):
            key = name_key(ref)
            named = [c.channel_id for c in channels if name_key(c.name) == key]
            if len(named) == 1:
                return named[0]
            raise UnknownReferenceError(f"this group has no channel {ref[:64]!r}; give its "
                                        "name or its id")
        return raw
    if any(c.channel_id == ref for c in channels):
        return ref
    raise UnknownReferenceError("this group has no such channel")


def _check_can_write(device: Device, view: GroupView, channel: bytes | None) -> None:
    """Refuse, before anything is written, a post this member may not write in *channel*.
    In an announcements channel the log is read first (offline: this device's copy
    decides): the post is sealed at the newest entry, so a role lost there must refuse it
    here, not make it a post every device refuses."""
    if channel_kind(channel) is ChannelKind.ANNOUNCEMENTS:
        with contextlib.suppress(RelayUnavailableError):
            sync_log(device, view, [], [])
    state = view.state
    assert state is not None
    if not may_write_in(state, view.me.sign_pk, state.seq, channel):
        raise NotPermittedError(ANNOUNCEMENTS_ONLY)


def for_new_post(device: Device, view: GroupView, ref: ChannelRef) -> bytes | None:
    """The channel a new post or poll goes to, once this member may write there."""
    target = resolve(view, ref)
    _check_can_write(device, view, target)
    return target


def body_here(view: GroupView, post_id: bytes) -> PostBody | None:
    """The body of *post_id* on this device, or waiting in its outbox (None: not here)."""
    post = view.timeline.get(post_id)
    return post.body if post is not None else view.drafts.get(post_id)


def of_target(view: GroupView, target: bytes) -> bytes | None:
    """The channel of the post *target*: where a reply to it goes, and where an edit of it is
    judged; None when it is not here."""
    body = body_here(view, target)
    return None if body is None else body.channel


def check_reply(device: Device, view: GroupView, target: bytes) -> None:
    """Refuse a reply (or an edit) this member may not write in its target's channel (a
    target not on this device: a reply goes to the main channel, as before channels)."""
    _check_can_write(device, view, of_target(view, target))


# --- what admins change ------------------------------------------------------------------


def _change(device: Device, view: GroupView,
            edit: Callable[[tuple[Channel, ...]], tuple[Channel, ...]]) -> None:
    """Write the group metadata with its channel list edited (admins), on the newest
    metadata in the log."""
    sync_log(device, view, [], [])
    state = view.state
    assert state is not None
    if not state.is_admin(view.me.sign_pk):
        raise NotPermittedError("only admins can add, rename, move or remove channels")
    edit_group_metadata(device, view,
                        lambda current: replace(current, channels=edit(current.channels)))


def add(device: Device, view: GroupView, name: str, announcements: bool) -> bytes:
    kind = ChannelKind.ANNOUNCEMENTS if announcements else ChannelKind.DISCUSSION
    made = Channel(new_channel_id(kind), name)  # a bad name is refused here, before anything
    _change(device, view, lambda channels: _with_new(channels, made))
    return made.channel_id


def _with_new(channels: tuple[Channel, ...], made: Channel) -> tuple[Channel, ...]:
    _check_name_free(channels, made.name, None)
    grown = (*channels, made)
    GroupMetadata("", channels=grown)  # the list's own rules (how many), before writing
    return grown


def _check_name_free(channels: tuple[Channel, ...], name: str, skip: bytes | None) -> None:
    key = name_key(name)
    if any(name_key(c.name) == key and c.channel_id != skip for c in channels):
        raise InvalidArgumentError(f"there is already a channel called {name!r}")


def rename(device: Device, view: GroupView, channel: bytes, name: str) -> None:
    renamed = Channel(channel, name)

    def edit(channels: tuple[Channel, ...]) -> tuple[Channel, ...]:
        _find(channels, channel)
        _check_name_free(channels, renamed.name, channel)
        return tuple(renamed if c.channel_id == channel else c for c in channels)

    _change(device, view, edit)


def move(device: Device, view: GroupView, channel: bytes, position: int) -> None:
    """Put *channel* at *position* (0: first after the main channel) among the listed ones."""
    def edit(channels: tuple[Channel, ...]) -> tuple[Channel, ...]:
        moving = channels[_find(channels, channel)]
        rest = [c for c in channels if c.channel_id != channel]
        if not 0 <= position <= len(rest):
            raise InvalidArgumentError(f"a position is 0 to {len(rest)} (0: first after the "
                                       "main channel)")
        rest.insert(position, moving)
        return tuple(rest)

    _change(device, view, edit)


def remove(device: Device, view: GroupView, channel: bytes) -> None:
    """Take *channel* off the list: its posts are then shown in the main channel."""
    def edit(channels: tuple[Channel, ...]) -> tuple[Channel, ...]:
        _find(channels, channel)
        return tuple(c for c in channels if c.channel_id != channel)

    _change(device, view, edit)


def _find(channels: tuple[Channel, ...], channel: bytes) -> int:
    for index, listed_channel in enumerate(channels):
        if listed_channel.channel_id == channel:
            return index
    raise UnknownReferenceError("this group has no such channel (any more)")
