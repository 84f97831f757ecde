"""Events and warnings that syncing reports.

Events say what changed (a post arrived, someone joined, a key was rotated). Warnings say
that something is wrong or cannot be checked — posts withheld, a post from a log this
device has not seen (a possible fork), equivocation, a post or grant that fails its checks
— and are never dropped silently: every sync returns them in its :class:`SyncReport`, and
:meth:`Client.warnings` keeps them for the client's lifetime. Problems that make the whole
group untrustworthy (the relay rolled the log back or forked it) are raised as errors
(:class:`RollbackError`, :class:`ForkError`) instead.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from vault.crypto.log_entries import Role
from vault_client.types import PostView

__all__ = [
    "DeletionNotCompleted",
    "EpochStarted",
    "Equivocation",
    "Event",
    "GroupDeleted",
    "GroupUpdated",
    "InvalidGrant",
    "InvalidInboxItem",
    "InvalidPost",
    "JoinApproved",
    "KeyReceived",
    "MemberJoined",
    "MemberLeft",
    "NameNotSet",
    "NewPost",
    "NotPermittedInChannel",
    "PostsFromDepartedMember",
    "PostsWithheld",
    "ProfileUpdated",
    "RemovedFromGroup",
    "RoleChanged",
    "RotationPending",
    "SequenceJumped",
    "StaleViewPosts",
    "SyncWarning",
    "UndeliverablePost",
    "UnknownLogHead",
    "UnreadableMetadata",
]


@dataclass(frozen=True)
class Event:
    group_id: str


@dataclass(frozen=True)
class NewPost(Event):
    """A post, reply, reaction, edit or delete arrived. For a post or reply, ``post`` is it
    as members see it (after edits and reactions known so far), so a handler needs no
    second query; for the other kinds, read the result with ``Client.posts``/``threads``."""

    post_id: str
    author: str
    kind: str
    post: PostView | None = field(default=None, compare=False)


@dataclass(frozen=True)
class MemberJoined(Event):
    member_id: str
    role: Role
    self_joined: bool
    """True when a pre-authorised invite admitted them (no admin approved them)."""


@dataclass(frozen=True)
class MemberLeft(Event):
    member_id: str
    removed: bool
    """True when an admin removed them, False when they left."""


@dataclass(frozen=True)
class RoleChanged(Event):
    member_id: str
    role: Role


@dataclass(frozen=True)
class EpochStarted(Event):
    """A new epoch key: everything from now on is unreadable to departed members."""

    epoch: int


@dataclass(frozen=True)
class KeyReceived(Event):
    epoch: int


@dataclass(frozen=True)
class GroupUpdated(Event):
    """The group's name, description or rules changed."""


@dataclass(frozen=True)
class ProfileUpdated(Event):
    member_id: str


@dataclass(frozen=True)
class JoinApproved(Event):
    """This device's join request was approved: it is a member now."""


@dataclass(frozen=True)
class RemovedFromGroup(Event):
    """This device is no longer a member (removed by an admin, or it left)."""

    removed: bool


@dataclass(frozen=True)
class GroupDeleted(Event):
    """An owner deleted the group (checked against the verified log): this device dropped
    its copy, and keeps only this notice (:meth:`Client.deleted_groups`)."""

    name: str
    """The group's name as this device knew it ("" if it could not read it)."""
    deleted_by: str
    """The owner who deleted it, as this device showed them."""
    deleted_at_ms: int
    unsent_posts: int
    """This device's posts that were still waiting to be sent: they never will be."""
    by_me: bool


# --- warnings -------------------------------------------------------------------------------



@dataclass(frozen=True)
class SyncWarning(Event):
    """Something this device could not verify or that should not happen. ``message`` is
    meant for a person."""

    message: str


@dataclass(frozen=True)
class DeletionNotCompleted(SyncWarning):
    """This device started deleting the group and can no longer finish (it is no longer an
    owner, or the relay refused the deletion for good): the group stays as it is. A signed
    copy of the deletion may still exist at the relay (protocol §13)."""


@dataclass(frozen=True)
class PostsWithheld(SyncWarning):
    """Holes in one author's numbered posts: the relay withheld them, they have not arrived
    yet, or they were deleted before this device saw them."""

    author: str
    missing: tuple[tuple[int, int], ...]
    """Inclusive ``(first, last)`` ranges of the author's post numbers that are missing."""
    count: int


@dataclass(frozen=True)
class PostsFromDepartedMember(SyncWarning):
    """Posts by a member who had already left or been removed when this device first
    received them. They are shown, marked (:attr:`PostView.from_departed_member`): they may
    have been written before the departure and not read here yet, or after it by someone
    who kept the member's keys, with a relay's help."""

    author: str
    post_ids: tuple[str, ...]


@dataclass(frozen=True)
class StaleViewPosts(SyncWarning):
    """Posts written on an out-of-date view of the group: their author had not yet seen
    that the members in ``readers`` had left or been removed (a relay hid it, or the
    author's device was offline), so those former members may have read them. ``mine``:
    this device wrote them. Shown, marked (:attr:`PostView.may_have_been_read_by`)."""

    author: str
    post_ids: tuple[str, ...]
    readers: tuple[str, ...]
    mine: bool


@dataclass(frozen=True)
class NotPermittedInChannel(SyncWarning):
    """Posts, polls or replies in an announcements channel by a member who was not a
    moderator or admin when writing them: this device does not show them (nor does any
    member's), whatever the relay does. A member's client misbehaves, or was changed."""

    author: str
    post_ids: tuple[str, ...]
    channel_id: str


@dataclass(frozen=True)
class InvalidInboxItem(SyncWarning):
    """An item of the moderators' inbox the relay served that is not for this member, or
    does not open, or breaks a rule (sealed to someone who is not a moderator, leaving a
    moderator out, not its sender's): it is not shown."""

    item_id: str
    code: str


@dataclass(frozen=True)
class SequenceJumped(SyncWarning):
    """An author's post numbers jumped far ahead: their client misbehaves (honest clients
    number 1, 2, 3...), or this device missed a great many of their posts."""

    author: str
    previous: int
    author_seq: int


@dataclass(frozen=True)
class UnknownLogHead(SyncWarning):
    """A post was written against a membership log this device does not have: it was
    shown another log (a fork) or the relay hides entries. The post is kept aside."""

    post_id: str
    log_seq: int


@dataclass(frozen=True)
class Equivocation(SyncWarning):
    """An author published two different posts under one id or one sequence number."""

    post_id: str


@dataclass(frozen=True)
class InvalidPost(SyncWarning):
    """A post failed its checks (cannot decrypt, bad signature, author not a member...)."""

    post_id: str
    code: str


@dataclass(frozen=True)
class InvalidGrant(SyncWarning):
    epoch: int
    code: str


@dataclass(frozen=True)
class UnreadableMetadata(SyncWarning):
    """The group's name or a member's profile could not be decrypted or is invalid."""

    member_id: str | None
    code: str


@dataclass(frozen=True)
class RotationPending(SyncWarning):
    """A member left and no admin has started a new epoch yet: the one who left still holds
    the current key. Admins' clients rotate on their next sync."""


@dataclass(frozen=True)
class NameNotSet(SyncWarning):
    """The name chosen when joining could not be taken (another member's looks the same):
    choose another with :meth:`Client.set_display_name`."""


@dataclass(frozen=True)
class UndeliverablePost(SyncWarning):
    """The relay refused a post waiting in the outbox for good; it was dropped."""

    post_id: str
    code: str
