"""Turning verified core objects into the public result types, and the values people pass
in (ids, durations, attachments) into what the core takes."""

from __future__ import annotations

import math
import mimetypes
import os
from collections.abc import Collection, Sequence
from datetime import timedelta
from typing import Final

from vault.crypto.attachments import Attachment, file_name_from
from vault.crypto.channels import may_write_in
from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.errors import (
    DecryptionError,
    InviteUriError,
    MalformedError,
    MetadataError,
    VaultError,
)
from vault.crypto.freshness import Arrival, judge
from vault.crypto.group_state import GroupState
from vault.crypto.invites import normalize_relay_url
from vault.crypto.log_entries import MetadataBody
from vault.crypto.metadata import (
    Channel,
    GroupMetadata,
    MemberProfile,
    open_group_metadata,
    open_member_profile,
)
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.timeline import PollTally, VisiblePost, thread_view
from vault_client import events as ev
from vault_client._internal import drawn
from vault_client._internal.group_view import GroupView
from vault_client._internal.names import clashing, looks_like_label, name_key
from vault_client.errors import InvalidArgumentError
from vault_client.types import (
    MAIN_CHANNEL,
    AttachmentInfo,
    MemberInfo,
    PollInfo,
    PostView,
    Thread,
)

AttachmentInput = tuple[bytes, str] | tuple[bytes, str, str] | str | os.PathLike[str]
"""``(data, media_type)``, ``(data, media_type, file_name)`` or a file's path (its name
goes with it)."""


def relay_address(text: str) -> str:
    """*text* as a relay address, in canonical form; or one plain error saying how to write
    one (the core's messages speak of invites)."""
    try:
        return normalize_relay_url(text)
    except InviteUriError:
        raise InvalidArgumentError(
            f"{text[:100]!r} is not a relay address: write it like https://relay.example.org "
            "(plain http only for this computer, such as http://127.0.0.1:8080)") from None


MAX_DURATION_S: Final = 100 * 366 * 86400
"""The longest expiry or closing time a device writes (far from the u64 limit)."""


def duration_ms(value: timedelta | float | int | None) -> int | None:
    """A duration given as a timedelta or seconds, in milliseconds (None stays None)."""
    if value is None:
        return None
    seconds = value.total_seconds() if isinstance(value, timedelta) else float(value)
    if not math.isfinite(seconds) or seconds <= 0:
        raise InvalidArgumentError("a duration must be more than zero")
    if seconds > MAX_DURATION_S:
        raise InvalidArgumentError("a duration can be at most 100 years")
    return int(seconds * 1000)


def read_attachment(item: AttachmentInput) -> tuple[bytes, str, str]:
    """``(data, media_type, file_name)`` of an attachment to send."""
    if isinstance(item, tuple):
        return bytes(item[0]), item[1], item[2] if len(item) == 3 else ""
    path = os.fspath(item)
    media_type = mimetypes.guess_type(path)[0] or "application/octet-stream"
    try:
        with open(path, "rb") as handle:
            return handle.read(), media_type, file_name_from(os.path.basename(path))
    except OSError as error:
        raise InvalidArgumentError(f"the file {path} cannot be read "
                                   f"({error.strerror or 'error'})") from None


def attachment_info(attachment: Attachment) -> AttachmentInfo:
    return AttachmentInfo(b64encode(attachment.blob_id), attachment.media_type, attachment.size,
                          attachment.file_name, attachment)


def group_metadata(view: GroupView, body: MetadataBody | None = None) -> GroupMetadata | None:
    """The group's name, description and rules (or those of an earlier METADATA *body*),
    or None while this device cannot read them."""
    state = view.state
    if state is None:
        return None
    body = state.group_metadata if body is None else body
    if body is None:
        return None
    key = view.keys.get(body.epoch)
    if key is None:
        return None
    try:
        return open_group_metadata(body.ciphertext, key, state.group_id, body.epoch)
    except (DecryptionError, MetadataError, MalformedError):
        return None


def display_name(view: GroupView, sign_pk: bytes, body: MetadataBody | None = None
                 ) -> str | None:
    """A member's name (or the one an earlier profile *body* held), or None (also for a
    profile without a name: one that only says which rules they accepted)."""
    profile = member_profile(view, sign_pk, body)
    return None if profile is None or not profile.display_name else profile.display_name


def member_profile(view: GroupView, sign_pk: bytes, body: MetadataBody | None = None
                   ) -> MemberProfile | None:
    """A member's profile (or an earlier profile *body*), or None while unreadable."""
    state = view.state
    if state is None:
        return None
    body = state.profiles.get(sign_pk) if body is None else body
    if body is None:
        return None
    cache_key = (sign_pk, body.ciphertext)
    if cache_key in view.names:
        return view.names[cache_key]
    key = view.keys.get(body.epoch)
    if key is None:
        return None
    profile: MemberProfile | None
    try:
        profile = open_member_profile(body.ciphertext, key, state.group_id, body.epoch, sign_pk)
    except VaultError:
        profile = None
    view.names[cache_key] = profile
    return profile


def real_changes(view: GroupView, old: GroupState, found: list[ev.Event]) -> list[ev.Event]:
    """*found* without the metadata events whose content did not change (the name and each
    profile are sealed again under every new epoch: not news to a person), nor those whose
    earlier content this device could not read (a newcomer learning the group's name, or a
    member's, for the first time: that is not a change)."""
    state = view.state
    assert state is not None
    kept: list[ev.Event] = []
    just_joined = any(isinstance(event, ev.JoinApproved) for event in found)
    me = b64encode(view.me.sign_pk)
    for event in found:
        if just_joined and (isinstance(event, ev.GroupUpdated) or (
                isinstance(event, ev.MemberJoined) and event.member_id == me)):
            continue  # a newcomer sees the group as it is: their own admission is the news
        if isinstance(event, ev.GroupUpdated) and old.group_metadata is not None:
            before = group_metadata(view, old.group_metadata)
            if before is None or before == group_metadata(view):
                continue
        if isinstance(event, ev.ProfileUpdated):
            pk = b64decode(event.member_id)
            earlier = old.profiles.get(pk)
            if earlier is not None:
                before_name = display_name(view, pk, earlier)
                if before_name is None or before_name == display_name(view, pk):
                    continue
        kept.append(event)
    return kept


def labels(view: GroupView) -> dict[bytes, tuple[str, bool]]:
    """Signing key -> (how to show them, whether their name clashes with another's) for
    every current and former member: a name alone when it is theirs only; with their short
    fingerprint (8 bytes) when another member's name, or another member's label, looks the
    same (see :mod:`.names`), or when they have no readable name yet. No name can make one
    member look like another: a name shaped like a label is shown with a suffix too."""
    state = view.state
    assert state is not None
    everyone = {**state.former_members, **state.members}
    names = {pk: display_name(view, pk) for pk in everyone}
    short = {pk: m.identity.short_fingerprint() for pk, m in everyone.items()}
    clash = clashing(names.items())
    nameless = {name_key(f"member {short[pk]}"): pk for pk, n in names.items() if n is None}
    for pk, name in names.items():
        if name is None:
            continue
        key = name_key(name)
        if looks_like_label(name) or nameless.get(key, pk) != pk:
            clash.add(pk)
    return {pk: ((f"member {short[pk]}", False) if names[pk] is None else
                 (f"{names[pk]} ({short[pk]})", True) if pk in clash else (str(names[pk]), False))
            for pk in everyone}


def member_names(view: GroupView) -> list[tuple[bytes, str | None]]:
    """Every current and former member with their display name (None: unreadable)."""
    state = view.state
    if state is None:
        return []
    return [(pk, display_name(view, pk)) for pk in {**state.former_members, **state.members}]


def name_or_id(view: GroupView, sign_pk: bytes) -> str:
    """A member as a sentence names them."""
    found = labels(view).get(sign_pk) if view.state is not None else None
    return found[0] if found is not None else f"member {b64encode(sign_pk)[:8]}"


def members(view: GroupView) -> list[MemberInfo]:
    from vault_client._internal.rules import accepted_by  # (it reads profiles through here)

    assert view.state is not None
    me = view.me.sign_pk
    shown = labels(view)
    accepted = accepted_by(view)
    return [
        MemberInfo(b64encode(pk), display_name(view, pk), m.role, m.identity.short_fingerprint(),
                   m.joined_seq, pk == me, shown[pk][0], shown[pk][1], pk in view.muted,
                   accepted[pk])
        for pk, m in sorted(view.state.members.items(), key=lambda kv: kv[1].joined_seq)
    ]


def _author(view: GroupView, author: bytes,
            shown: dict[bytes, tuple[str, bool]]) -> tuple[str, str | None, str]:
    """An author as a PostView names them: (id as text, display name, label)."""
    text = b64encode(author)
    return text, display_name(view, author), shown.get(author, (f"member {text[:8]}", False))[0]


def _waiting_votes(view: GroupView) -> dict[bytes, int]:
    """This device's votes still waiting to be sent (drafts, or sealed and not yet
    acknowledged): poll id -> the latest choice."""
    latest: dict[bytes, PostBody] = {}
    for post_id in view.unsent:
        draft = view.drafts.get(post_id)
        if draft is None:
            sealed = view.timeline.get(post_id)
            draft = None if sealed is None else sealed.body
        if draft is not None and draft.kind is PostKind.VOTE:
            known = latest.get(draft.refs[0])
            if known is None or known.author_seq < draft.author_seq:
                latest[draft.refs[0]] = draft
    return {poll: vote.vote_choice for poll, vote in latest.items()
            if vote.vote_choice is not None}


def _poll_info(view: GroupView, poll_id: bytes, tally: PollTally, now_ms: int,
               waiting: dict[bytes, int]) -> PollInfo:
    me = view.me.sign_pk
    mine = next((i for i, who in enumerate(tally.votes) if me in who), None)
    pending = waiting.get(poll_id)
    closes = tally.closes_at_ms
    return PollInfo(
        options=tally.options,
        votes=tuple(tuple(b64encode(pk) for pk in who) for who in tally.votes),
        closes_at_ms=closes, closed=closes is not None and closes <= now_ms,
        my_choice=mine if pending is None else pending, my_vote_unsent=pending is not None)


def channel_label(channel: bytes | None, listed_ids: Collection[bytes]) -> str:
    """How a post's channel is named (:attr:`PostView.channel_id`): a channel the group does
    not list (any more, or ever) is the main one."""
    return b64encode(channel) if channel is not None and channel in listed_ids else MAIN_CHANNEL


def listed_channels(view: GroupView) -> tuple[Channel, ...]:
    """The channels the group lists (none while this device cannot read its metadata)."""
    metadata = group_metadata(view)
    return () if metadata is None else metadata.channels


def _post_view(view: GroupView, post: VisiblePost, expires: int | None,
               shown: dict[bytes, tuple[str, bool]],
               authors: dict[bytes, tuple[str, str | None, str]],
               poll: PollInfo | None = None, channel_id: str = MAIN_CHANNEL,
               can_reply: bool = True) -> PostView:
    """*authors*: a cache of :func:`_author` for one drawing (names do not change within it)."""
    gid = view.gid
    state = view.state
    assert state is not None
    opened = view.timeline.get(post.post_id)
    late = False
    exposed: tuple[bytes, ...] = ()
    if opened is not None:
        verdict = judge(state, opened.body, view.arrivals.get(post.post_id, Arrival()))
        late, exposed = verdict.late_author, verdict.exposed_to
    named = authors.get(post.author)
    if named is None:
        named = authors[post.author] = _author(view, post.author, shown)
    author, author_name, label = named
    return PostView(
        post_id=b64encode(post.post_id),
        group_id=gid,
        author=author,
        author_name=author_name,
        kind=("reply" if post.reply_to is not None
              else "poll" if post.kind is PostKind.POLL else "post"),
        reply_to=None if post.reply_to is None else b64encode(post.reply_to),
        text=post.text,
        content_warning=post.content_warning,
        attachments=tuple(attachment_info(a)
                          for a in post.attachments) if post.attachments else (),
        created_at_ms=post.timestamp_ms,
        edited_at_ms=post.edited_at_ms,
        deleted=post.deleted,
        reactions=_reactions(post.reactions, view.muted) if post.reactions else (),
        expires_at_ms=expires,
        is_mine=post.author == view.me.sign_pk,
        author_label=label,
        reactions_behind_warning=tuple(
            (warning, text, tuple(b64encode(pk) for pk in who if pk not in view.muted))
            for warning, text, who in post.warned_reactions
            if any(pk not in view.muted for pk in who)) if post.warned_reactions else (),
        unsent=post.post_id in view.unsent,
        from_departed_member=late,
        may_have_been_read_by=tuple(b64encode(pk) for pk in exposed),
        notice=_notice(view, post.author, late, exposed, shown),
        muted=post.author in view.muted,
        poll=poll,
        pinned_by=None if post.pinned_by is None else b64encode(post.pinned_by),
        channel_id=channel_id,
        can_reply=can_reply,
    )


def _reactions(reactions: Sequence[tuple[str, tuple[bytes, ...]]],
               muted: Collection[bytes]) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """A post's reactions as member ids, leaving out those of members muted on this device
    (and a reaction only they gave)."""
    return tuple((text, tuple(b64encode(pk) for pk in who if pk not in muted))
                 for text, who in reactions if any(pk not in muted for pk in who))


def _notice(view: GroupView, author: bytes, late: bool, exposed: Sequence[bytes],
            shown: dict[bytes, tuple[str, bool]]) -> str | None:
    """The marks of :mod:`vault.crypto.freshness`, in words."""
    def who(pk: bytes) -> str:
        return shown.get(pk, (f"member {b64encode(pk)[:8]}", False))[0]

    parts = []
    if late:
        parts.append(f"This arrived after {who(author)} had left the group: it may have been "
                     "written before they left, or afterwards by someone who kept their keys.")
    if exposed:
        names = ", ".join(who(pk) for pk in exposed)
        writer = "You" if author == view.me.sign_pk else who(author)
        parts.append(f"{writer} wrote this before seeing that {names} had left, so {names} "
                     "may have read it.")
    return " ".join(parts) or None


def post_views(view: GroupView, now_ms: int,
               only: Collection[bytes] | None = None) -> list[PostView]:
    """Every post and reply as members see it, in causal order (then this device's
    unsent drafts); with *only*, just those posts, each with the edits, deletes and
    reactions that act on it (:func:`~vault.crypto.timeline.thread_view`)."""
    assert view.state is not None
    if only is not None and 2 * len(only) >= len(view.timeline) + len(view.drafts):
        # Most of the group (a first sync brings it all): drawing it whole costs about
        # the same, and the drawing is kept for the screen that shows the group next.
        wanted = {b64encode(post_id) for post_id in only}
        return [post for post in post_views(view, now_ms) if post.post_id in wanted]
    if only is None:
        kept = drawn.recall(view, now_ms)
        if kept is not None:
            return kept
    result = thread_view(view.timeline, view.state, only)
    shown = labels(view)
    authors: dict[bytes, tuple[str, str | None, str]] = {}
    out: list[PostView] = []
    expiries: list[int] = []  # of the posts drawn (and polls' closings): holds until the first
    waiting = _waiting_votes(view) if view.unsent else {}
    listed = {channel.channel_id for channel in listed_channels(view)}
    for post in result.posts:
        opened = view.timeline.get(post.post_id)
        expires = None if opened is None else opened.body.expires_at_ms
        if expires is not None:
            if expires <= now_ms:
                continue
            expiries.append(expires)
        poll = None
        if post.poll is not None:
            poll = _poll_info(view, post.post_id, post.poll, now_ms, waiting)
            if not poll.closed and poll.closes_at_ms is not None:
                expiries.append(poll.closes_at_ms)
        out.append(_post_view(view, post, expires, shown, authors, poll,
                              channel_label(post.channel, listed),
                              post.channel is None  # (the main channel: anyone)
                              or may_write_in(view.state, view.me.sign_pk, view.state.seq,
                                              post.channel)))
    # What this device wrote that could not be sealed yet: shown last, marked unsent.
    for draft in view.drafts.values():
        if draft.kind not in (PostKind.POST, PostKind.REPLY, PostKind.POLL):
            continue
        if only is not None and draft.post_id not in only:
            continue
        if draft.expires_at_ms is not None:
            if draft.expires_at_ms <= now_ms:
                continue
            expiries.append(draft.expires_at_ms)
        out.append(PostView(
            post_id=b64encode(draft.post_id), group_id=view.gid, author=b64encode(draft.author),
            author_name=display_name(view, draft.author),
            kind=("reply" if draft.kind is PostKind.REPLY
                  else "poll" if draft.kind is PostKind.POLL else "post"),
            reply_to=None if draft.kind is not PostKind.REPLY else b64encode(draft.refs[0]),
            text=draft.text, content_warning=draft.content_warning,
            attachments=tuple(attachment_info(a)
                              for a in draft.attachments),
            created_at_ms=draft.timestamp_ms, edited_at_ms=None, deleted=False, reactions=(),
            expires_at_ms=draft.expires_at_ms, is_mine=True,
            author_label=shown.get(draft.author, ("", False))[0], unsent=True,
            poll=None if draft.kind is not PostKind.POLL else _draft_poll(draft, now_ms,
                                                                           expiries),
            channel_id=channel_label(draft.channel, listed)))
    if only is None:
        drawn.remember(view, now_ms, out, min(expiries, default=None))
    return out


def _draft_poll(draft: PostBody, now_ms: int, expiries: list[int]) -> PollInfo:
    """An unsent poll of this device's: no votes yet; its closing time joins *expiries*
    (the drawing is drawn again then)."""
    closes = draft.poll_closes_at_ms
    if closes is not None and closes > now_ms:
        expiries.append(closes)
    return PollInfo(options=draft.poll_options, votes=tuple(() for _ in draft.poll_options),
                    closes_at_ms=closes, closed=closes is not None and closes <= now_ms,
                    my_choice=None)


def threads(posts: Sequence[PostView]) -> list[Thread]:
    by_id = {p.post_id: p for p in posts}
    roots: dict[str, list[PostView]] = {}
    order: list[str] = []

    def root_of(post: PostView) -> str:
        seen = set()
        current = post
        while current.reply_to is not None and current.reply_to in by_id \
                and current.post_id not in seen:
            seen.add(current.post_id)
            current = by_id[current.reply_to]
        return current.post_id

    for post in posts:
        root = root_of(post)
        if root == post.post_id:
            order.append(root)
            roots.setdefault(root, [])
        else:
            roots.setdefault(root, []).append(post)
    return [Thread(by_id[r], tuple(roots.get(r, ()))) for r in order]


def channel_warnings(view: GroupView, refused: dict[tuple[bytes, bytes], list[bytes]]
                     ) -> list[ev.SyncWarning]:
    """In words: posts in an announcements channel by members who may not post there (each
    member's device refuses them, whatever the relay does: TV-7)."""
    metadata = group_metadata(view) if refused else None
    out: list[ev.SyncWarning] = []
    for (author, channel), post_ids in refused.items():
        listed = None if metadata is None else metadata.channel(channel)
        where = "an announcements channel" if listed is None else \
            f"the announcements channel \u201c{listed.name}\u201d"
        who = name_or_id(view, author)
        out.append(ev.NotPermittedInChannel(
            view.gid, f"{len(post_ids)} post(s) by {who} in {where} are not shown: only "
            "moderators and admins can post there.", b64encode(author),
            tuple(b64encode(p) for p in post_ids), b64encode(channel)))
    return out


def departure_warnings(view: GroupView, late: dict[bytes, list[bytes]],
                       exposed: dict[tuple[bytes, tuple[bytes, ...]], list[bytes]]
                       ) -> list[ev.SyncWarning]:
    """In words: posts from members who had departed when they arrived, and posts written
    on a stale view (see :mod:`vault.crypto.freshness`)."""
    out: list[ev.SyncWarning] = []
    for author, post_ids in late.items():
        who = name_or_id(view, author)
        out.append(ev.PostsFromDepartedMember(
            view.gid,
            f"{len(post_ids)} post(s) by {who} arrived only after {who} had left or been "
            f"removed. They are shown, marked: they may have been written before {who} "
            "left, or afterwards by someone who kept their keys.",
            b64encode(author), tuple(b64encode(p) for p in post_ids)))
    for (author, readers), post_ids in exposed.items():
        names = ", ".join(name_or_id(view, pk) for pk in readers)
        mine = author == view.me.sign_pk
        writer = "You" if mine else name_or_id(view, author)
        out.append(ev.StaleViewPosts(
            view.gid,
            f"{writer} wrote {len(post_ids)} post(s) before seeing that {names} had left "
            f"or been removed, so {names} may have read them (the relay hid the change, or "
            "the device was offline). Newer posts use a new key they do not have.",
            b64encode(author), tuple(b64encode(p) for p in post_ids),
            tuple(b64encode(pk) for pk in readers), mine))
    return out
