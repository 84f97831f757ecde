"""Result types of the public API: frozen dataclasses, with ids as base64url text.

Ids (group ids, member ids, post ids, attachment ids) are unpadded base64url strings, the
same text the relay and other clients use. Every method that takes an id also accepts the
raw bytes or the result object that carries it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Literal, TypeAlias

from vault.crypto.attachments import Attachment
from vault.crypto.log import Role

__all__ = [
    "AttachmentInfo",
    "GroupInfo",
    "GroupStatus",
    "HistoryPolicy",
    "Invite",
    "JoinRequestInfo",
    "JoinResult",
    "MemberInfo",
    "PostView",
    "Posted",
    "QrFormat",
    "Role",
    "SyncReport",
    "Thread",
]

GroupStatus: TypeAlias = Literal["member", "pending", "denied", "removed", "left"]
"""``pending``: a join request waits for an admin; ``removed``/``left``: no longer a member."""

HistoryPolicy: TypeAlias = Literal["none", "current", "all"] | int
"""What a newly admitted member may read:

* ``"none"``: nothing written before they were admitted (the admitting client starts a new
  epoch, so they get only keys from then on) — the default;
* ``"current"``: everything since the last epoch change (they get the current epoch key);
* ``"all"``: everything this admin's device holds keys for;
* an ``int`` *e*: every epoch from *e* on.
"""

QrFormat: TypeAlias = Literal["png", "svg", "text"]


@dataclass(frozen=True)
class GroupInfo:
    """One group as this device sees it, from its verified membership log."""

    group_id: str
    relay_url: str
    status: GroupStatus
    name: str | None
    """None until this device holds the key the name is encrypted under."""
    description: str
    rules: str
    my_member_id: str
    my_role: Role | None
    epoch: int
    member_count: int
    log_seq: int
    log_head: str
    rotation_pending: bool
    history_policy: HistoryPolicy
    unsent_posts: int
    group_code: str = ""
    """20 digits committing to the membership log up to :attr:`log_seq` (see
    :meth:`Client.group_code`): read it out with another member whose device is at the
    same entry; different codes mean you are shown different versions of the group."""


@dataclass(frozen=True)
class MemberInfo:
    """A current member."""

    member_id: str
    display_name: str | None
    role: Role
    fingerprint: str
    """Short fingerprint for display; compare :meth:`Client.safety_number` to verify."""
    joined_seq: int
    is_me: bool
    label: str = ""
    """How to show this member: their name, with the start of their fingerprint when
    another member's name looks the same (or ``member <fingerprint>`` without a name yet).
    Show this rather than :attr:`display_name`: two people can never look like one."""
    name_clash: bool = False
    """Another current or former member's name looks the same as this one's."""


@dataclass(frozen=True)
class JoinRequestInfo:
    """A pending join request, checked against the invite it claims (admins see these)."""

    joiner: str
    invite_id: str
    safety_number: str
    """Compare with the number the joiner's device shows before approving."""
    fingerprint: str
    requested_at_ms: int


@dataclass(frozen=True)
class JoinResult:
    """What :meth:`Client.join` did."""

    group_id: str
    status: Literal["pending", "joined"]
    """``pending``: an admin must approve; ``joined``: the invite admitted this device."""
    member_id: str
    inviter: str
    safety_number: str
    """This device's safety number with the invite's creator: compare it in person."""


@dataclass(frozen=True)
class AttachmentInfo:
    """An encrypted attachment of a post; download it with :meth:`Client.attachment`."""

    attachment_id: str
    media_type: str
    size: int
    ref: Attachment = field(repr=False, compare=False)


@dataclass(frozen=True)
class PostView:
    """A post or reply as members see it, after edits, deletions and reactions.

    When ``content_warning`` is set, a UI should hide ``text`` and the attachments until the
    reader chooses to see them (:attr:`hidden_by_default`).
    """

    post_id: str
    group_id: str
    author: str
    author_name: str | None
    kind: Literal["post", "reply"]
    reply_to: str | None
    text: str = field(repr=False)
    content_warning: str | None
    attachments: tuple[AttachmentInfo, ...]
    created_at_ms: int
    edited_at_ms: int | None
    deleted: bool
    reactions: tuple[tuple[str, tuple[str, ...]], ...]
    """(reaction, member ids who reacted with it), sorted by reaction."""
    expires_at_ms: int | None
    is_mine: bool
    author_label: str = ""
    """The author as :attr:`MemberInfo.label` shows them (tells alike names apart)."""
    reactions_behind_warning: tuple[tuple[str, str, tuple[str, ...]], ...] = field(
        default=(), repr=False)
    """(content warning, reaction, member ids) of reactions that carry a warning: show
    the warning, and the reaction only when the reader asks."""
    from_departed_member: bool = False
    """It arrived after its author had left or been removed (see
    :class:`~vault_client.events.PostsFromDepartedMember`)."""
    may_have_been_read_by: tuple[str, ...] = ()
    """Former members who may have read it: it was written before its author saw that
    they had left (see :class:`~vault_client.events.StaleViewPosts`)."""
    notice: str | None = None
    """The two marks above in a sentence for people, or None."""

    @property
    def hidden_by_default(self) -> bool:
        return self.content_warning is not None

    def reaction_counts(self) -> dict[str, int]:
        return {text: len(who) for text, who in self.reactions}


@dataclass(frozen=True)
class Thread:
    """A top-level post and every reply under it (replies to replies included), in order."""

    root: PostView
    replies: tuple[PostView, ...]


@dataclass(frozen=True)
class Invite:
    """An invite: the URI a QR code carries. Anyone holding it may ask to join (or join,
    when it does not require approval) until it expires or is used up: share it only with
    the people it is meant for."""

    group_id: str
    invite_id: str
    uri: str = field(repr=False)
    max_uses: int
    expires_at_ms: int
    requires_approval: bool

    def render_qr(self, fmt: QrFormat = "png") -> bytes | str:
        """The QR code: PNG or SVG bytes, or (``"text"``) a string for a terminal."""
        from vault_client._internal.qr import render

        return render(self.uri, fmt)

    def save_qr(self, path: str | os.PathLike[str]) -> None:
        """Write the QR code to *path*: SVG for ``.svg``, text for ``.txt``, else PNG."""
        text = os.fspath(path)
        fmt: QrFormat = "svg" if text.endswith(".svg") else "text" if text.endswith(
            ".txt") else "png"
        data = self.render_qr(fmt)
        payload = data.encode("utf-8") if isinstance(data, str) else data
        with open(text, "wb") as handle:
            handle.write(payload)

    def __str__(self) -> str:
        return f"Invite {self.invite_id} (up to {self.max_uses} uses)"


@dataclass(frozen=True)
class SyncReport:
    """What one sync of one group found (events and warnings are also kept on the client)."""

    group_id: str
    events: tuple[object, ...]
    warnings: tuple[object, ...]
    new_posts: int
    log_seq: int
    unsent_posts: int
    unreadable_history: int
    """Posts from before this device joined that it holds no key for (history not shared)."""


@dataclass(frozen=True)
class Posted:
    """What :meth:`Client.post` and its siblings return."""

    group_id: str
    post_id: str
    delivered: bool
    """True when the relay accepted the post; False when it did not: either the relay could
    not be reached (the post waits on this device and goes out with the next
    :meth:`Client.sync`, exactly once), or it refused the post (it is not sent again; an
    :class:`~vault_client.events.UndeliverablePost` warning says why)."""
