"""Channels: the topics a group's posts are written in (protocol §6.10).

A channel is named by a 16-byte id whose first byte is its kind, fixed when an admin creates
it; the other 15 bytes are random. The group's list of channels, in the order members see
them, with their names, is part of the group metadata (:class:`~vault.crypto.metadata.
GroupMetadata`, encrypted for the group and set by admins in the membership log); a POST or
POLL names its channel inside its signed, encrypted body (:class:`~vault.crypto.post_body.
PostBody`), and a REPLY is in its thread's channel. Every post written before channels, and
every post that names none, is in the group's *main* channel, which has no id on the wire.

Because the kind is part of the id, whether a post may be written where it claims needs no
metadata: in an ANNOUNCEMENTS channel only a member who was a moderator or admin *at the
post's own log position* may post, reply or ask a poll (TV-7, in :mod:`vault.crypto.timeline`),
the same rule on every device, whichever metadata it could read, whatever the relay does.
"""

from __future__ import annotations

from enum import IntEnum
from typing import TYPE_CHECKING, Final

from vault.crypto.errors import MalformedError
from vault.crypto.log_entries import Role
from vault.crypto.primitives import RandomSource, default_random, draw

if TYPE_CHECKING:
    from vault.crypto.group_state import GroupState

CHANNEL_ID_SIZE: Final = 16


class ChannelKind(IntEnum):
    DISCUSSION = 1
    """Every member may post."""
    ANNOUNCEMENTS = 2
    """Only moderators and admins may post, reply or ask a poll; members react and vote."""


def new_channel_id(kind: ChannelKind, random: RandomSource = default_random) -> bytes:
    """A fresh channel id of *kind*: the kind's byte, then 15 random bytes."""
    return bytes((ChannelKind(kind),)) + draw(random, CHANNEL_ID_SIZE - 1)


def channel_kind(channel_id: bytes | None) -> ChannelKind:
    """The kind of *channel_id* (None, the main channel, is a discussion)."""
    if channel_id is None:
        return ChannelKind.DISCUSSION
    return ChannelKind(channel_id[0])


def check_channel_id(channel_id: bytes, what: str) -> bytes:
    """CHAN-1: 16 bytes whose first byte is a known kind (another kind is a later
    protocol's channel: the object cannot be read here)."""
    if len(channel_id) != CHANNEL_ID_SIZE:
        raise MalformedError(f"{what}: a channel id is {CHANNEL_ID_SIZE} bytes")
    if channel_id[0] not in tuple(ChannelKind):
        raise MalformedError(f"{what}: channel kind {channel_id[0]} is not known to this "
                             "software (update Vault)")
    return channel_id


def may_write_in(state: GroupState, author: bytes, log_seq: int,
                 channel_id: bytes | None) -> bool:
    """TV-7: whether *author*, writing at *log_seq*, may post in *channel_id*."""
    if channel_kind(channel_id) is not ChannelKind.ANNOUNCEMENTS:
        return True
    role = state.role_at(author, log_seq)
    return role is not None and role >= Role.MODERATOR
