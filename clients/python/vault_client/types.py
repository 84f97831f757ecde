"""Result types of the public API: frozen dataclasses, with ids as base64url text.

Ids (group ids, member ids, post ids, attachment ids) are unpadded base64url strings, the
same text the relay and other clients use. Every method that takes an id also accepts the
raw bytes or the result object that carries it.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal, TypeAlias

from vault.crypto.attachments import Attachment
from vault.crypto.log_entries import Role

RulesAcceptanceStatus: TypeAlias = Literal["current", "earlier", "none", "unknown"]
"""Whether a member or joiner accepted the rules in force, other ones, none, or (a joiner's
acceptance, while this device cannot read the rules in force yet: sync first) unknown."""

__all__ = [
    "AttachmentInfo",
    "BackupMade",
    "DeletedGroupInfo",
    "GroupInfo",
    "GroupStatus",
    "HistoryPolicy",
    "Invite",
    "InviteInfo",
    "InvitePreview",
    "JoinRequestInfo",
    "JoinResult",
    "MemberInfo",
    "PassphraseStrength",
    "PostView",
    "Posted",
    "QrFormat",
    "RestoreOutcome",
    "RestoredGroup",
    "RetryNotice",
    "Role",
    "RulesAcceptanceStatus",
    "SyncReport",
    "Thread",
]

GroupStatus: TypeAlias = Literal["member", "pending", "denied", "removed", "left", "creating"]
"""``pending``: a join request waits for an admin; ``removed``/``left``: no longer a member;
``creating``: made on this device, not yet on the relay (the next sync creates it)."""

HistoryPolicy: TypeAlias = Literal["none", "current", "all"] | int
"""What a newly admitted member may read:

* ``"none"``: nothing written before they were admitted (the admitting client starts a new
  epoch, so they get only keys from then on) — the default;
* ``"current"``: everything since the last epoch change (they get the current epoch key);
* ``"all"``: everything this admin's device holds keys for;
* an ``int`` *e*: every epoch from *e* on.

An admin sets it for the whole group (:meth:`Client.set_history_policy`, a HISTORY entry in
the membership log); every admin's device admits by it, and ``Client.approve(...,
share_history=...)`` chooses for one person only while the log holds no setting.
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
    """What newly admitted members may read: the group's (its log's last HISTORY entry), or
    while the log holds none this device's own (``"none"`` unless it created the group with
    another)."""
    unsent_posts: int
    number: int = 0
    """This group's number on this device: given when it joined, kept while it is here,
    never given to another group (so a familiar number never names another group)."""
    group_code: str = ""
    """20 digits committing to the membership log up to :attr:`log_seq` (see
    :meth:`Client.group_code`): read it out with another member whose device is at the
    same entry; different codes mean you are shown different versions of the group."""
    rules_to_accept: bool = False
    """The group has rules this member has not accepted (new rules, or a member who joined
    without reading them): show them, then :meth:`Client.accept_rules`."""
    rules_id: str = ""
    """Names the rules in force (with :attr:`rules`): pass it to :meth:`Client.accept_rules`
    with the text you showed, so that rules changed meanwhile are not accepted unread."""


@dataclass(frozen=True)
class DeletedGroupInfo:
    """A group an owner deleted, as this device was told (and checked): its copy is gone;
    this notice stays until :meth:`Client.dismiss_deleted_group`."""

    group_id: str
    name: str
    """The group's name as this device knew it ("" if it could not read it)."""
    deleted_by: str
    """The owner who deleted it, as this device showed them."""
    deleted_at_ms: int
    """When, by the deleting owner's clock."""
    unsent_posts: int
    """This device's posts that were still waiting to be sent: they never will be."""
    by_me: bool
    """This device deleted it."""


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
    muted: bool = False
    """Muted on this device (:meth:`Client.mute`): their posts are shown collapsed here."""
    accepted_rules: RulesAcceptanceStatus = "none"
    """Whether they accepted the group's rules in force (``current``; a change of name or
    description does not count as new rules), earlier rules (``earlier``) or none yet
    (``none``; also while this device cannot read their profile)."""


@dataclass(frozen=True)
class JoinRequestInfo:
    """A pending join request, checked against the invite it claims (admins see these)."""

    joiner: str
    invite_id: str
    safety_number: str
    """Compare with the number the joiner's device shows before approving."""
    fingerprint: str
    requested_at_ms: int
    accepted_rules: RulesAcceptanceStatus = "none"
    """What the joiner accepted before asking: the group's rules in force (``current``),
    rules since changed (``earlier``), or nothing (``none``: the invite showed them no rules,
    or the relay did not pass their acceptance on)."""


@dataclass(frozen=True)
class InvitePreview:
    """What an invite shows before asking to join (:meth:`Client.preview_invite`): the
    group's name, description and rules as one of its admins signed them for this invite
    (checked against the group's membership log), and its history policy."""

    group_id: str
    relay_url: str
    card_shown: bool
    """False when no admin published a description for this invite (an invite from an
    older version, or one the relay did not keep): ask the person who invited you."""
    name: str | None
    description: str | None
    rules: str | None
    rules_id: str | None
    """Pass it to :meth:`Client.join` as ``accept_rules`` to accept these rules (it names
    their text: a card renewed meanwhile for the same rules is accepted, other rules are
    refused)."""
    history_policy: HistoryPolicy | None
    """What newcomers may read from before they joined; None: the approving admin decides."""
    requires_approval: bool
    signed_by: str | None
    """The short fingerprint of the admin who signed the description."""
    up_to_date: bool = True
    """False: the admin signed it for an earlier state of the group's metadata (often the
    same metadata, sealed again since; the card is renewed when the invite's maker's device
    syncs). Show it as possibly out of date; what the person accepts is what admins see."""


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
    fingerprint: str = ""
    """This device's short fingerprint in the group: what the approving admin sees."""
    inviter_name: str | None = None
    """The invite's creator's display name, when this device can read it."""


@dataclass(frozen=True)
class AttachmentInfo:
    """An encrypted attachment of a post; download it with :meth:`Client.attachment`."""

    attachment_id: str
    media_type: str
    size: int
    file_name: str
    """What it was called on its author's device ("" when it had no name)."""
    ref: Attachment = field(repr=False, compare=False)


@dataclass(frozen=True)
class PollInfo:
    """A poll's options and votes as this device counts them (every member's device counts
    the same posts the same way). Votes are not secret from the group: each is a signed
    post, so ``votes`` names who chose what."""

    options: tuple[str, ...]
    votes: tuple[tuple[str, ...], ...] = field(repr=False)
    """For each option, in order: the member ids whose vote chose it."""
    closes_at_ms: int | None
    """When the poll stops counting votes (None: it stays open)."""
    closed: bool
    """Closed when the posts were read (``closes_at_ms`` passed on this device's clock)."""
    my_choice: int | None
    """The option this member chose (the one waiting to be sent, if a vote waits), or
    None."""
    my_vote_unsent: bool = False
    """This member's latest vote still waits on this device to be sent."""

    @property
    def counts(self) -> tuple[int, ...]:
        return tuple(len(who) for who in self.votes)

    @property
    def total(self) -> int:
        return sum(self.counts)


MAIN_CHANNEL: Final = "main"
"""The id of every group's main channel (:attr:`ChannelInfo.channel_id`,
:attr:`PostView.channel_id`): where posts that name no channel are, and every post written
before the group had channels."""


@dataclass(frozen=True)
class ChannelInfo:
    """One of a group's channels (topics), in the order members see them: the main channel
    first, then those admins added (:meth:`Client.add_channel`)."""

    channel_id: str
    """:data:`MAIN_CHANNEL` for the main channel."""
    name: str
    """What admins named it; empty for the main channel (a client shows its own word,
    e.g. "General")."""
    kind: Literal["main", "discussion", "announcements"]
    """In an announcements channel only moderators and admins post, reply and ask polls;
    every member reacts and votes (enforced by every member's device)."""
    can_post: bool
    """Whether this member may post in it now."""

    @property
    def is_main(self) -> bool:
        return self.channel_id == MAIN_CHANNEL


InboxKindName = Literal["report", "support", "reply", "resolution"]
OutcomeName = Literal["dismissed", "post_deleted", "member_removed", "answered"]


@dataclass(frozen=True)
class InboxItemInfo:
    """One item of the moderators' inbox, as this member reads it (sealed to them)."""

    item_id: str
    kind: InboxKindName
    sender: str
    sender_name: str
    created_at_ms: int
    text: str = field(repr=False)
    outcome: OutcomeName | None = None
    """A resolution's outcome."""
    is_mine: bool = False


@dataclass(frozen=True)
class InboxThread:
    """A report or a request for support, with the replies and resolutions that followed
    (:meth:`Client.inbox`). Moderators and admins see every thread of their time; a member
    sees the threads they began and the moderators' replies to them."""

    thread_id: str
    kind: Literal["report", "support"]
    started_by: str
    started_by_name: str
    post_id: str | None
    """A report's post (:meth:`Client.get_post` shows it, when this device has it)."""
    subject: str | None
    """The member a report is about (they never see it)."""
    subject_name: str | None
    items: tuple[InboxItemInfo, ...]
    resolved: bool
    """A moderator resolved it, and its member wrote nothing since."""
    outcome: OutcomeName | None
    """The last resolution's outcome."""
    complete: bool = True
    """False for a thread begun before this member could read it (a moderator promoted
    since): its first items are missing, and ``started_by`` is who it is with, as far as
    the items held tell."""


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
    kind: Literal["post", "reply", "poll"]
    """A poll's question is its ``text``; its options and votes are :attr:`poll`."""
    reply_to: str | None
    text: str = field(repr=False)
    content_warning: str | None
    attachments: tuple[AttachmentInfo, ...]
    created_at_ms: int
    edited_at_ms: int | None
    deleted: bool
    reactions: tuple[tuple[str, tuple[str, ...]], ...]
    """(reaction, member ids who reacted with it), sorted by reaction; reactions by members
    muted on this device are left out."""
    expires_at_ms: int | None
    is_mine: bool
    author_label: str = ""
    """The author as :attr:`MemberInfo.label` shows them (tells alike names apart)."""
    reactions_behind_warning: tuple[tuple[str, str, tuple[str, ...]], ...] = field(
        default=(), repr=False)
    """(content warning, reaction, member ids) of reactions that carry a warning: show
    the warning, and the reaction only when the reader asks."""
    unsent: bool = False
    """This device's own post, still waiting on this device to be sent (see
    :attr:`Posted.status`)."""
    from_departed_member: bool = False
    """It arrived after its author had left or been removed (see
    :class:`~vault_client.events.PostsFromDepartedMember`)."""
    may_have_been_read_by: tuple[str, ...] = ()
    """Former members who may have read it: it was written before its author saw that
    they had left (see :class:`~vault_client.events.StaleViewPosts`)."""
    notice: str | None = None
    """The two marks above in a sentence for people, or None."""
    muted: bool = False
    """Its author is muted on this device (:meth:`Client.mute`): show it collapsed, opened
    only when the reader asks."""
    poll: PollInfo | None = None
    """For a poll (``kind == "poll"``, not deleted): its options and the votes counted."""
    pinned_by: str | None = None
    """The member id of the moderator or admin whose pin is in force (:meth:`Client.pin`),
    or None: a UI lists pinned posts first."""
    channel_id: str = MAIN_CHANNEL
    """The channel it is in (:class:`ChannelInfo`): a reply is in its thread's; a post naming
    a channel the group no longer lists is in the main one."""
    can_reply: bool = True
    """Whether this member may reply to it now: in an announcements channel only moderators
    and admins do, also once the channel is no longer listed (its kind is in its id), so a
    UI offers no reply box that :meth:`Client.reply` would refuse."""

    @property
    def pinned(self) -> bool:
        return self.pinned_by is not None

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
class InviteInfo:
    """An invite as the verified log shows it (its secret, in the QR code, is not kept)."""

    invite_id: str
    max_uses: int
    uses: int
    """How many people it admitted so far."""
    expires_at_ms: int
    requires_approval: bool
    revoked: bool
    created_by: str
    usable: bool
    """Not revoked, not expired, uses left, and its creator is still an admin."""

    @property
    def uses_left(self) -> int:
        return max(0, self.max_uses - self.uses)


@dataclass(frozen=True)
class PassphraseStrength:
    """How hard a passphrase is to guess (:func:`vault_client.passphrase_strength`)."""

    score: int
    """0 (guessed at once) to 4 (very hard), zxcvbn's scale."""
    acceptable: bool
    """Strong enough for a new keystore or export (score 3 or more)."""
    warning: str
    """What makes it weak, or empty."""
    suggestions: tuple[str, ...]
    crack_time: str
    """How long guessing it would take someone who copied the keystore, in words."""


@dataclass(frozen=True)
class RetryNotice:
    """A request to the relay failed and is tried again (``Client(on_retry=...)``): a user
    interface says so at once, with the time left, instead of waiting in silence."""

    relay_url: str
    seconds_left: float
    """How long the client goes on trying before it gives up."""


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
    error: Exception | None = None
    """Set (a :class:`~vault_client.errors.VaultError`) when this group could not be synced,
    in a sync of every group: the others were synced all the same."""


@dataclass(frozen=True)
class SavedPosts:
    """What :meth:`Client.save_own_posts` wrote: where, and how many posts of how many
    groups."""

    path: Path
    posts: int
    groups: int


@dataclass(frozen=True)
class Posted:
    """What :meth:`Client.post` and its siblings return: where the post is now."""

    group_id: str
    post_id: str
    delivered: bool
    """True when the relay accepted the post."""
    status: Literal["delivered", "queued", "refused"] = "delivered"
    """``delivered``; ``queued``: kept on this device and sent by a later sync, exactly once
    (:attr:`reason` says what it waits for: the relay, the group's key, a rotation);
    ``refused``: not sent and not kept (:attr:`reason` says why)."""
    reason: str | None = None
    """Why it is queued or refused, as a sentence for a person; None when delivered."""


@dataclass(frozen=True, repr=False)
class BackupMade:
    """What :meth:`Client.backup` made: the backup file's bytes and its recovery phrase.

    Show the phrase to the person once, to write on paper; it is not kept on this device
    and no one can recover it. The bytes may be stored anywhere (a USB stick, a cloud
    drive): without the phrase they reveal nothing but their size."""

    data: bytes
    recovery_phrase: str
    groups: int
    """How many groups the backup holds (every group this device is a member of)."""
    made_at_ms: int
    left_out: int = 0
    """Groups on this device that are not in the backup: joins still waiting for an admin,
    groups still being created (each needs the relay first; make a backup again after)."""
    group_ids: tuple[str, ...] = ()
    """The groups the backup holds."""

    def __repr__(self) -> str:  # (never the phrase, in a log or a traceback)
        return f"BackupMade(groups={self.groups}, bytes={len(self.data)})"


RestoreOutcome: TypeAlias = Literal["restored", "already_here", "not_a_member", "failed"]


@dataclass(frozen=True)
class RestoredGroup:
    """One group of a backup, as :meth:`Client.restore` left it."""

    group_id: str
    outcome: RestoreOutcome
    """``restored``: this device is that member again, its log verified against the
    backup's checkpoint and synced once; ``already_here``: this device was already that
    member there (left as it was); ``not_a_member``: the relay refused the identity, or the
    verified log shows it removed or gone since the backup; ``failed``: not restored, and
    nothing of it kept (:attr:`error` says why: the relay unreachable, a relay that served
    an older or forked log than the backup had verified (``log_rollback``, ``log_fork``),
    or this device in that group with another identity (``already_member``: forget the
    group here first)). Restoring the same file again retries only what is not here."""
    group: GroupInfo | None = None
    error: str | None = None
    """Why it failed, as a sentence for a person; None otherwise."""
    error_code: str | None = None
    """The error's stable code (``log_rollback``, ``relay_unavailable``...), for programs."""
