"""The timeline: a sans-I/O accumulator of opened posts.

Feed it every :class:`~vault.crypto.posts.OpenedPost` a client receives, in any order and
as often as the relay repeats them. It

* deduplicates (the same post id with the same signed bytes is silently ignored);
* catches equivocation (:class:`EquivocationError`): one post id with two different
  bodies, or one author's sequence number used for two different post ids;
* reports gaps per author (``author_seq`` starts at 1 and has no holes, so a hole means
  the relay withheld a post, or it has not arrived yet) as ``(first, last)`` ranges, never
  number by number: ``author_seq`` is a u64 the author chooses, so memory and time stay
  proportional to the posts received whatever the numbers are;
* reports an author whose sequence jumps more than :data:`MAX_SEQ_JUMP` above the highest
  number seen from them (:class:`SequenceJump`) as misbehaviour, not as a gap to wait for;
* keeps envelopes whose log head this device does not know (a fork, or this device is
  behind) so they can be retried after the log is synced;
* orders posts causally: references before referrers, and each author's posts in
  sequence order, then by ``(timestamp_ms, post_id)``.

:func:`thread_view` applies edits, deletes and reactions: what a member sees.
"""

from __future__ import annotations

import heapq
from bisect import bisect_right
from collections.abc import Collection, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import pairwise
from typing import TYPE_CHECKING, Final, TypeAlias

from vault.crypto.attachments import Attachment
from vault.crypto.channels import may_write_in
from vault.crypto.errors import EquivocationError, UnknownLogHeadError
from vault.crypto.log_entries import Role
from vault.crypto.post_body import PostBody, PostKind
from vault.crypto.posts import OpenedPost, PostEnvelope, open_post

if TYPE_CHECKING:
    from vault.crypto.group_state import GroupState

MAX_SEQ_JUMP: Final = 100_000
"""How far above an author's highest seen ``author_seq`` a post may land and still open a
gap to wait for. Honest clients number their posts 1, 2, 3, ...; a larger jump is reported
as :class:`SequenceJump` (the author misbehaves, or this device missed a great many of
their posts, e.g. it cannot read the history from before it joined)."""


@dataclass(frozen=True)
class NewPost:
    """A post seen for the first time."""

    post: OpenedPost


@dataclass(frozen=True)
class DuplicateIgnored:
    """A post seen before, byte for byte (a relay retry or repeat): nothing changed."""

    post_id: bytes


@dataclass(frozen=True)
class Resealed:
    """The same post (author, number, time, kind, references and content) under another
    epoch and log position: its author sealed it again for a newer epoch. Not an
    equivocation; the sealing with the higher ``(epoch, log_seq)`` is kept."""

    post_id: bytes


def resealed(a: PostBody, b: PostBody) -> bool:
    """Whether two bodies are one post sealed for two epochs (every field equal but
    ``epoch``, ``log_seq`` and ``log_head``, which must differ)."""
    return (a.epoch, a.log_seq, a.log_head) != (b.epoch, b.log_seq, b.log_head) and (
        a.author, a.post_id, a.author_seq, a.timestamp_ms, a.kind, a.refs, a.text,
        a.content_warning, a.attachments, a.expires_at_ms, a.poll_options,
        a.poll_closes_at_ms, a.vote_choice) == (
        b.author, b.post_id, b.author_seq, b.timestamp_ms, b.kind, b.refs, b.text,
        b.content_warning, b.attachments, b.expires_at_ms, b.poll_options,
        b.poll_closes_at_ms, b.vote_choice)


@dataclass(frozen=True)
class GapDetected:
    """A newly detected hole in one author's sequence: their posts numbered ``first`` to
    ``last`` (inclusive) were withheld or have not arrived yet."""

    author: bytes
    first: int
    last: int

    @property
    def count(self) -> int:
        """How many posts the hole spans."""
        return self.last - self.first + 1


@dataclass(frozen=True)
class SequenceJump:
    """An author's post numbered more than :data:`MAX_SEQ_JUMP` above their highest number
    seen so far (``previous``, 0 if none). The post is kept, but the skipped numbers are not
    a gap to wait for: honest clients never skip, so this is misbehaviour by the author (or
    this device missed that many of their posts)."""

    post_id: bytes
    author: bytes
    author_seq: int
    previous: int


@dataclass(frozen=True)
class GapFilled:
    """A post that was missing from an author's sequence has arrived."""

    author: bytes
    author_seq: int


@dataclass(frozen=True)
class MissingReferences:
    """A post refers to posts this timeline has not received (yet)."""

    post_id: bytes
    refs: tuple[bytes, ...]


@dataclass(frozen=True)
class UnknownHead:
    """A post names a log head this device lacks; it is kept pending (see ``pending``)."""

    post_id: bytes
    log_seq: int
    log_head: bytes
    reason: str


TimelineEvent: TypeAlias = (
    NewPost | DuplicateIgnored | Resealed | GapDetected | GapFilled | SequenceJump
    | MissingReferences | UnknownHead
)

Gap: TypeAlias = tuple[int, int]
"""``(first, last)``: an inclusive range of missing sequence numbers."""


def _gap_first(gap: Gap) -> int:
    return gap[0]


def _merged(gaps: list[Gap]) -> tuple[Gap, ...]:
    """Sorted disjoint ranges with adjacent ones joined (a mark's range and the gap after
    it are kept apart inside, one range to the reader)."""
    out: list[Gap] = []
    for first, last in gaps:
        if out and out[-1][1] + 1 == first:
            out[-1] = (out[-1][0], last)
        else:
            out.append((first, last))
    return tuple(out)


class Timeline:
    """Accumulates the opened posts of one group (not thread-safe; one per group view)."""

    def __init__(self) -> None:
        self._posts: dict[bytes, OpenedPost] = {}
        self._seqs: dict[bytes, dict[int, bytes]] = {}
        self._highest: dict[bytes, int] = {}
        # Per author, disjoint sorted (first, last) ranges: at most one more range than
        # the author has posts here, whatever their sequence numbers are.
        self._missing: dict[bytes, list[Gap]] = {}
        self._pending: dict[bytes, PostEnvelope] = {}
        self._ordered: tuple[OpenedPost, ...] | None = None
        # Whether the last sort had to break a reference cycle, and the ids that received
        # posts refer to but that have not arrived: both keep :meth:`_extends_order` honest.
        self._cyclic = False
        self._awaited: set[bytes] = set()
        self._latest: tuple[int, bytes] = (-1, b"")  # the greatest (timestamp_ms, post_id)
        self._revision = 0
        # Edits, deletes and reactions by the post they act on (``refs[0]``), and each
        # post's place in the order last sorted: a view of a few posts reads only these.
        self._acting_on: dict[bytes, list[bytes]] = {}
        self._positions: dict[bytes, int] = {}
        self._positions_of: tuple[OpenedPost, ...] | None = None

    @property
    def revision(self) -> int:
        """Grows whenever the posts held change (one added, one resealed): what a client
        drew from this timeline still holds while it is unchanged."""
        return self._revision

    def __len__(self) -> int:
        return len(self._posts)

    def __contains__(self, post_id: object) -> bool:
        return post_id in self._posts

    def __iter__(self) -> Iterator[OpenedPost]:
        return iter(self.ordered())

    def get(self, post_id: bytes) -> OpenedPost | None:
        return self._posts.get(post_id)

    def add(self, post: OpenedPost) -> list[TimelineEvent]:
        """Record one opened post; returns what changed. Raises :class:`EquivocationError`."""
        body = post.body
        post_id = body.post_id
        known = self._posts.get(post_id)
        if known is not None:
            if known.body.encode() == body.encode() and known.signature == post.signature:
                return [DuplicateIgnored(post_id)]
            if resealed(known.body, body):
                # The author sealed the same post again for a newer epoch (its first answer
                # was lost as the group moved on): one post, the newest sealing kept.
                if (body.epoch, body.log_seq) > (known.body.epoch, known.body.log_seq):
                    self._posts[post_id] = post
                    self._revision += 1  # (same id and time: _latest stays as it is)
                    self._ordered = None
                return [Resealed(post_id)]
            if known.body.author != body.author:
                raise EquivocationError(
                    "two different authors used one post id (one of them copied it)"
                )
            raise EquivocationError("an author published two different posts under one post id")
        author, seq = body.author, body.author_seq
        seqs = self._seqs.setdefault(author, {})
        if seq in seqs:
            raise EquivocationError(
                f"an author published two different posts as their post number {seq}"
            )
        self._pending.pop(post_id, None)
        highest = self._highest.get(author, 0)
        extends = self._extends_order(post, highest)
        seqs[seq] = post_id
        self._posts[post_id] = post
        self._revision += 1
        self._awaited.discard(post_id)
        self._awaited.update(ref for ref in body.refs if ref not in self._posts)
        if body.kind in _ACTION_KINDS:
            self._acting_on.setdefault(body.refs[0], []).append(post_id)
        if extends and self._ordered is not None:
            order = (*self._ordered, post)
            if self._positions_of is self._ordered:  # the positions follow, one more
                self._positions[post_id] = len(self._ordered)
                self._positions_of = order
            self._ordered = order
        else:
            self._ordered = None
        self._latest = max(self._latest, (body.timestamp_ms, post_id))
        events: list[TimelineEvent] = [NewPost(post)]
        if seq > highest:
            self._highest[author] = seq
            if seq > highest + MAX_SEQ_JUMP:
                events.append(SequenceJump(post_id, author, seq, highest))
            elif seq > highest + 1:
                self._missing.setdefault(author, []).append((highest + 1, seq - 1))
                events.append(GapDetected(author, highest + 1, seq - 1))
        elif self._fill(author, seq):
            events.append(GapFilled(author, seq))
        unseen = tuple(ref for ref in body.refs if ref not in self._posts)
        if unseen:
            events.append(MissingReferences(post_id, unseen))
        return events

    def _extends_order(self, post: OpenedPost, highest: int) -> bool:
        """Whether *post* (not added yet) simply goes after every post in the cached order,
        so that order need not be sorted again (the common case: the newest post arrives
        last). True when the last sort broke no cycle, no received post refers to it or
        follows it in its author's numbering (it precedes nothing), and it sorts after every
        post held by ``(timestamp_ms, post_id)`` (not only after the last one in the order,
        which a reference can hold back): the sort then emits it last."""
        if self._ordered is None or self._cyclic or post.post_id in self._awaited:
            return False
        body = post.body
        return body.author_seq >= highest and (body.timestamp_ms, body.post_id) > self._latest

    def expect(self, author: bytes, seq: int) -> GapDetected | None:
        """Another device of this member saw *author*'s posts up to number *seq* (a
        restored identity's high-water mark): numbers above the highest seen here become
        missing, as if a post numbered *seq* + 1 had arrived. Returns the new gap, if any."""
        highest = self._highest.get(author, 0)
        if seq <= highest:
            return None
        self._highest[author] = seq
        self._missing.setdefault(author, []).append((highest + 1, seq))
        return GapDetected(author, highest + 1, seq)

    def _fill(self, author: bytes, seq: int) -> bool:
        """Remove *seq* from the author's missing ranges; False if it was not missing."""
        gaps = self._missing.get(author)
        if gaps is None:
            return False
        index = bisect_right(gaps, seq, key=_gap_first) - 1
        if index < 0:
            return False
        first, last = gaps[index]
        if seq > last:
            return False
        pieces = [(lo, hi) for lo, hi in ((first, seq - 1), (seq + 1, last)) if lo <= hi]
        gaps[index : index + 1] = pieces
        if not gaps:
            del self._missing[author]
        return True

    def add_envelope(
        self, envelope: PostEnvelope, epoch_key: bytes, state: GroupState
    ) -> list[TimelineEvent]:
        """Open *envelope* and :meth:`add` it; an unknown log head is kept pending.

        Every other failure of :func:`~vault.crypto.posts.open_post` propagates.
        """
        try:
            opened = open_post(envelope, epoch_key, state)
        except UnknownLogHeadError as exc:
            if envelope.post_id not in self._posts:
                self._pending[envelope.post_id] = envelope
            return [UnknownHead(envelope.post_id, envelope.log_seq, envelope.log_head,
                                exc.message)]
        return self.add(opened)

    def pending(self) -> tuple[PostEnvelope, ...]:
        """Envelopes held back because their log head was unknown (retry after a log sync)."""
        return tuple(self._pending.values())

    def gaps(self) -> Mapping[bytes, tuple[Gap, ...]]:
        """author -> the ``(first, last)`` ranges (inclusive, sorted, disjoint and maximal:
        adjacent ranges are merged) of their sequence numbers still missing below the
        highest seen; only authors with gaps.

        Numbers skipped by a :class:`SequenceJump` are not listed.
        """
        return {author: _merged(gaps) for author, gaps in self._missing.items()}

    def acting_on(self, post_id: bytes) -> list[OpenedPost]:
        """The edits, deletes and reactions held that act on *post_id*, in causal order."""
        found = [self._posts[i] for i in self._acting_on.get(post_id, ())]
        return sorted(found, key=lambda post: self.position(post.post_id))

    def position(self, post_id: bytes) -> int:
        """Where a post held sits in :meth:`ordered` (KeyError for one not held)."""
        order = self.ordered()
        if self._positions_of is not order:
            self._positions = {post.post_id: index for index, post in enumerate(order)}
            self._positions_of = order
        return self._positions[post_id]

    def ordered(self) -> tuple[OpenedPost, ...]:
        """All posts, causally ordered, ties broken by ``(timestamp_ms, post_id)``.

        References to posts not received are ignored; a reference cycle (only a
        malicious author can make one) is broken at its earliest post.
        """
        if self._ordered is None:
            self._ordered = self._sort()
        return self._ordered

    def _cycle_above(
        self, start: bytes, parents: Mapping[bytes, list[bytes]], emitted: set[bytes]
    ) -> list[bytes]:
        """Follow not-yet-ordered predecessors from *start* until one repeats: a cycle."""
        path: list[bytes] = []
        seen: dict[bytes, int] = {}
        current = start
        while current not in seen:
            seen[current] = len(path)
            path.append(current)
            waiting = [p for p in parents.get(current, ()) if p not in emitted]
            current = min(waiting, key=lambda pid: (self._posts[pid].body.timestamp_ms, pid))
        return path[seen[current]:]

    def _sort(self) -> tuple[OpenedPost, ...]:
        posts = self._posts
        self._cyclic = False
        children: dict[bytes, list[bytes]] = {}
        parents: dict[bytes, list[bytes]] = {}
        indegree = dict.fromkeys(posts, 0)

        def edge(before: bytes, after: bytes) -> None:
            children.setdefault(before, []).append(after)
            parents.setdefault(after, []).append(before)
            indegree[after] += 1

        for post_id, post in posts.items():
            for ref in post.body.refs:
                if ref in posts:
                    edge(ref, post_id)
        for seqs in self._seqs.values():
            chain = [seqs[seq] for seq in sorted(seqs)]
            for before, after in pairwise(chain):
                edge(before, after)

        def key(post_id: bytes) -> tuple[int, bytes]:
            return posts[post_id].body.timestamp_ms, post_id

        ready = [key(pid) for pid, degree in indegree.items() if degree == 0]
        heapq.heapify(ready)
        remaining: list[tuple[int, bytes]] | None = None
        emitted: set[bytes] = set()
        result: list[OpenedPost] = []
        while len(result) < len(posts):
            if not ready:  # only a reference cycle (a malicious author) can block us
                self._cyclic = True
                if remaining is None:
                    remaining = sorted((key(pid) for pid in posts), reverse=True)
                while remaining[-1][1] in emitted:
                    remaining.pop()
                forced = min(self._cycle_above(remaining[-1][1], parents, emitted), key=key)
                indegree[forced] = 0
                ready.append(key(forced))
            _, post_id = heapq.heappop(ready)
            emitted.add(post_id)
            result.append(posts[post_id])
            for child in children.get(post_id, ()):
                indegree[child] -= 1
                if indegree[child] == 0:
                    heapq.heappush(ready, key(child))
        return tuple(result)


# --- the visible thread -------------------------------------------------------------------


@dataclass(frozen=True)
class PollTally:
    """A poll's options and the votes counted for each (protocol §6.7, TV-5)."""

    options: tuple[str, ...] = field(repr=False)
    closes_at_ms: int | None
    votes: tuple[tuple[bytes, ...], ...] = field(repr=False)
    """For each option, in the poll's order: the members whose counted vote chose it, in
    causal order of those votes."""


@dataclass(frozen=True)
class VisiblePost:
    """A post or reply as members see it, after edits, deletes and reactions.

    ``repr`` never shows what members wrote (text, warning, reactions).
    """

    post_id: bytes
    author: bytes
    kind: PostKind
    reply_to: bytes | None
    timestamp_ms: int
    text: str = field(repr=False)
    content_warning: str | None = field(repr=False)
    attachments: tuple[Attachment, ...]
    edited_at_ms: int | None = None
    deleted: bool = False
    deleted_by: bytes | None = None
    reactions: tuple[tuple[str, tuple[bytes, ...]], ...] = field(default=(), repr=False)
    """(reaction text, authors who reacted with it), sorted by text: reactions without a
    content warning."""
    warned_reactions: tuple[tuple[str, str, tuple[bytes, ...]], ...] = field(
        default=(), repr=False)
    """(content warning, reaction text, authors), sorted by warning then text: reactions
    that carry a content warning, to be shown behind it like a post with one."""
    poll: PollTally | None = None
    """For a POLL (not deleted): its options and the votes counted."""
    pinned_by: bytes | None = None
    """Who pinned it (the first pin in force, TV-6), or None; never set on a deleted post."""
    channel: bytes | None = None
    """Its channel (the body's own, TV-7); None: the main one."""


TARGET_NOT_RECEIVED: Final = "target_not_received"
BACKDATED: Final = "backdated"
WRONG_KIND: Final = "wrong_kind"
NOT_PERMITTED: Final = "not_permitted"
NO_SUCH_OPTION: Final = "no_such_option"
WRONG_CHANNEL: Final = "wrong_channel"
POLL_CLOSED: Final = "poll_closed"


@dataclass(frozen=True)
class IgnoredAction:
    """A reply, edit, delete or reaction that was not applied, and why.

    ``reason`` is for people; ``cause`` is the stable cause of protocol §6.7
    (:data:`TARGET_NOT_RECEIVED`, :data:`BACKDATED`, :data:`WRONG_KIND`,
    :data:`NOT_PERMITTED`, and for votes :data:`NO_SUCH_OPTION`, :data:`POLL_CLOSED`).
    """

    post_id: bytes
    reason: str
    cause: str = ""


@dataclass(frozen=True)
class ThreadView:
    posts: tuple[VisiblePost, ...]
    ignored: tuple[IgnoredAction, ...]


_CONTENT_KINDS = (PostKind.POST, PostKind.REPLY, PostKind.POLL)
"""What the thread shows (and reactions and deletes act on)."""
_EDITABLE_KINDS = (PostKind.POST, PostKind.REPLY)
_ACTION_KINDS = (PostKind.EDIT, PostKind.DELETE, PostKind.REACTION, PostKind.VOTE,
                 PostKind.PIN)
_WITHDRAWABLE_KINDS = (PostKind.REACTION, PostKind.PIN)
_TALLIED_KINDS = frozenset({PostKind.REACTION, PostKind.VOTE, PostKind.PIN})
"""What the thread view counts onto its targets (a vote is never withdrawn: no delete of
it applies, TV-3)."""
"""What a DELETE withdraws rather than tombstones."""
_UNDELETABLE_KINDS = (PostKind.EDIT, PostKind.DELETE, PostKind.VOTE)

_NOT_RECEIVED: Final = "its target post has not been received"
_BACKDATED: Final = (
    "it names an older membership log entry than the post it acts on, so it claims to "
    "have been written before that post existed (how a removed member would backdate it)"
)


def _backdated(action: PostBody, target: OpenedPost) -> bool:
    """An action written at a log position before its target's: impossible for an honest
    client, which can only open (and so act on) posts whose log entry it has."""
    return target.body.log_seq > action.log_seq


def _may_delete(state: GroupState, action: PostBody, target_author: bytes) -> bool:
    if action.author == target_author:
        return True
    role = state.role_at(action.author, action.log_seq)
    return role is not None and role >= Role.MODERATOR


_NOT_IN_ANNOUNCEMENTS: Final = (
    "only a moderator or admin at the time it was written can post, reply, ask a poll or edit "
    "in an announcements channel"
)


def channel_refused(body: PostBody, parent: OpenedPost | None,
                    state: GroupState) -> IgnoredAction | None:
    """TV-7: a POST, POLL or REPLY in an announcements channel by someone below moderator at
    its own log position is not shown; nor is a REPLY in another channel than its target's."""
    channel = body.channel
    if channel is not None and not may_write_in(state, body.author, body.log_seq, channel):
        return IgnoredAction(body.post_id, _NOT_IN_ANNOUNCEMENTS, NOT_PERMITTED)
    if parent is not None and parent.body.channel != channel:
        return IgnoredAction(body.post_id, "a reply is in the channel of the post it answers",
                             WRONG_CHANNEL)
    return None


def _edit_refused(edit: PostBody, target: OpenedPost, state: GroupState) -> bool:
    """TV-7: an edit of a post in an announcements channel applies only if its author was a
    moderator or admin at the edit's own log position."""
    return not may_write_in(state, edit.author, edit.log_seq, target.body.channel)


def _may_pin(state: GroupState, pin: PostBody) -> bool:
    """TV-6: a moderator or admin *at the pin's own log position* (as for deletes)."""
    role = state.role_at(pin.author, pin.log_seq)
    return role is not None and role >= Role.MODERATOR


def _unreachable(action: PostBody, target: OpenedPost | None) -> IgnoredAction | None:
    """The first checks of a reaction, vote or pin: its target was received, and the action
    is not backdated against it (TV-1)."""
    if target is None:
        return IgnoredAction(action.post_id, _NOT_RECEIVED, TARGET_NOT_RECEIVED)
    if _backdated(action, target):
        return IgnoredAction(action.post_id, _BACKDATED, BACKDATED)
    return None


def _expires_alone(action: PostBody, target: OpenedPost) -> bool:
    """Whether *action* would disappear before or after its target (a vote or pin may only
    go with it: vanishing on its own, it would change what each device shows as each one
    purged it)."""
    return action.expires_at_ms is not None and action.expires_at_ms != target.body.expires_at_ms


def _pin_refused(pin: PostBody, target: OpenedPost | None,
                 state: GroupState) -> IgnoredAction | None:
    """Why *pin* is not in force (TV-6), or None when it is (a withdrawn pin is dropped
    before this, without a reason)."""
    unreachable = _unreachable(pin, target)
    if unreachable is not None:
        return unreachable
    assert target is not None
    if target.body.kind not in _CONTENT_KINDS:
        return IgnoredAction(pin.post_id, "only posts, replies and polls can be pinned",
                             WRONG_KIND)
    if not _may_pin(state, pin):
        return IgnoredAction(pin.post_id, "only a moderator or admin at the time the pin "
                             "was written can pin a post", NOT_PERMITTED)
    if _expires_alone(pin, target):
        return IgnoredAction(pin.post_id, "a pin can only disappear with its post",
                             NOT_PERMITTED)
    return None


def _vote_refused(vote: PostBody, target: OpenedPost | None) -> IgnoredAction | None:
    """Why *vote* does not count (TV-5), or None when it does."""
    unreachable = _unreachable(vote, target)
    if unreachable is not None:
        return unreachable
    assert target is not None
    poll = target.body
    if poll.kind is not PostKind.POLL:
        return IgnoredAction(vote.post_id, "only polls take votes", WRONG_KIND)
    assert vote.vote_choice is not None  # POST-8
    if vote.vote_choice >= len(poll.poll_options):
        return IgnoredAction(vote.post_id, "the poll has no such option", NO_SUCH_OPTION)
    closes = poll.poll_closes_at_ms
    if closes is not None and vote.timestamp_ms >= closes:
        return IgnoredAction(vote.post_id, "it was written after the poll closed", POLL_CLOSED)
    if _expires_alone(vote, target):  # (it would bring its author's earlier vote back)
        return IgnoredAction(vote.post_id, "a vote can only disappear with its poll",
                             NOT_PERMITTED)
    return None


def _tally(poll: PostBody, votes: Sequence[PostBody]) -> PollTally:
    """A poll's tally from the votes that count (TV-5), given in causal order: each
    member's vote with the highest ``author_seq`` is theirs."""
    counted: dict[bytes, PostBody] = {}
    for vote in votes:
        latest = counted.get(vote.author)
        if latest is None or latest.author_seq < vote.author_seq:
            counted[vote.author] = vote
    voters: list[list[bytes]] = [[] for _ in poll.poll_options]
    for vote in votes:
        if counted[vote.author] is vote:
            assert vote.vote_choice is not None
            voters[vote.vote_choice].append(vote.author)
    return PollTally(poll.poll_options, poll.poll_closes_at_ms,
                     tuple(tuple(who) for who in voters))


def _reaction_lists(counted: Mapping[tuple[str | None, str], list[bytes]]) -> tuple[
        tuple[tuple[str, tuple[bytes, ...]], ...], tuple[tuple[str, str, tuple[bytes, ...]], ...]]:
    """A post's reactions as :class:`VisiblePost` lists them: without, then with a warning."""
    plain = tuple((text, tuple(who)) for (cw, text), who in sorted(
        (k, v) for k, v in counted.items() if k[0] is None))
    warned = tuple((cw, text, tuple(who)) for (cw, text), who in sorted(
        ((k[0], k[1]), v) for k, v in counted.items() if k[0] is not None))
    return plain, warned


def thread_view(timeline: Timeline, state: GroupState,
                only: Collection[bytes] | None = None) -> ThreadView:
    """The current visible thread, in causal order; with *only* (post ids), ``posts`` holds
    just those of them that are visible, exactly as the whole view shows them, read from
    the actions on them alone (what a sync draws for its new posts: a few lookups, not the
    whole timeline), and ``ignored`` is left empty (the whole view lists it).

    * EDIT replaces text, warning and attachments of a post or reply, only by its author;
      the edit with the highest ``author_seq`` wins.
    * DELETE by the author, or by anyone who was moderator or above *at the delete's own
      log position* (``state.role_at(author, log_seq)``: neither the current role nor the
      last one), tombstones a post or reply (shown as deleted, content dropped) or
      withdraws a reaction or a pin. A delete written before its author's promotion stays
      ignored.
    * REACTION adds ``text`` from its author to a post or reply (once per author, text and
      content warning); reactions with a content warning are listed apart
      (``warned_reactions``), so a reader's client hides them like a post behind one.
    * VOTE counts for a poll (a POLL, shown like a post, never edited) when its option
      exists and it was written before the poll's closing time; each member's vote with the
      highest ``author_seq`` is theirs (a member changes a vote by voting again; a vote is
      never deleted).
    * PIN marks a post, reply or poll as pinned (``pinned_by``: the first pin in force) when
      its author was moderator or above at the pin's own log position; a DELETE of the pin
      (by its author, or a moderator at the delete's position) withdraws it.
    * A REPLY, REACTION, EDIT, DELETE, VOTE or PIN whose target was written at a later log position
      (``target.log_seq > action.log_seq``) is ignored: it claims a view of the group from
      before its target existed, which is how a removed member holding an old epoch key
      would backdate an action against posts written after their removal.

    Actions whose target has not been received, is of the wrong kind or is not theirs to
    change are listed in ``ignored``; a later view may apply them once the target arrives.
    Ignored replies are not shown.
    """
    if only is not None:
        return ThreadView(tuple(_narrowed(timeline, state, only)), ())
    posts = timeline.ordered()
    by_id = {post.post_id: post for post in posts}
    ignored: list[IgnoredAction] = []
    edits: dict[bytes, PostBody] = {}
    deleted: dict[bytes, bytes] = {}
    withdrawn: set[bytes] = set()
    for post in posts:
        body = post.body
        if body.kind in _CONTENT_KINDS or body.kind in (PostKind.REACTION, PostKind.VOTE,
                                                         PostKind.PIN):
            continue
        target = by_id.get(body.refs[0])
        if target is None:
            ignored.append(IgnoredAction(body.post_id, _NOT_RECEIVED, TARGET_NOT_RECEIVED))
        elif _backdated(body, target):
            ignored.append(IgnoredAction(body.post_id, _BACKDATED, BACKDATED))
        elif body.kind is PostKind.EDIT:
            if target.body.kind not in _EDITABLE_KINDS:
                ignored.append(IgnoredAction(body.post_id, "only posts and replies can be edited",
                                              WRONG_KIND))
            elif body.author != target.author:
                ignored.append(IgnoredAction(body.post_id, "only the author can edit a post",
                                              NOT_PERMITTED))
            elif _edit_refused(body, target, state):
                ignored.append(IgnoredAction(body.post_id, _NOT_IN_ANNOUNCEMENTS,
                                              NOT_PERMITTED))
            else:
                latest = edits.get(target.post_id)
                if latest is None or latest.author_seq < body.author_seq:
                    edits[target.post_id] = body
        elif target.body.kind in _UNDELETABLE_KINDS:
            ignored.append(IgnoredAction(
                body.post_id, "edits, deletes and votes cannot be deleted", WRONG_KIND))
        elif not _may_delete(state, body, target.author):
            ignored.append(IgnoredAction(
                body.post_id,
                "only the author, or a moderator at the time the delete was written, can "
                "delete a post", NOT_PERMITTED))
        elif target.body.kind in _WITHDRAWABLE_KINDS:
            withdrawn.add(target.post_id)
        else:
            deleted.setdefault(target.post_id, body.author)
    # Reactions, votes and pins in one pass (most posts are none of them); what each
    # ignores is listed in that order, as §6.7 says.
    reactions: dict[bytes, dict[tuple[str | None, str], list[bytes]]] = {}
    votes: dict[bytes, list[PostBody]] = {}
    pinned: dict[bytes, bytes] = {}
    vote_ignored: list[IgnoredAction] = []
    pin_ignored: list[IgnoredAction] = []
    for post in posts:
        body = post.body
        kind = body.kind
        if kind not in _TALLIED_KINDS or body.post_id in withdrawn:
            continue
        target = by_id.get(body.refs[0])
        if kind is PostKind.VOTE:
            refused = _vote_refused(body, target)
            if refused is not None:
                vote_ignored.append(refused)
            else:
                assert target is not None
                votes.setdefault(target.post_id, []).append(body)
        elif kind is PostKind.PIN:
            refused = _pin_refused(body, target, state)
            if refused is not None:
                pin_ignored.append(refused)
            else:
                assert target is not None
                pinned.setdefault(target.post_id, body.author)
        elif (unreachable := _unreachable(body, target)) is not None:
            ignored.append(unreachable)
        elif target is None or target.body.kind not in _CONTENT_KINDS:
            ignored.append(IgnoredAction(
                body.post_id, "only posts, replies and polls take reactions", WRONG_KIND))
        else:
            key = (body.content_warning, body.text)
            authors = reactions.setdefault(target.post_id, {}).setdefault(key, [])
            if body.author not in authors:
                authors.append(body.author)
    ignored += vote_ignored
    ignored += pin_ignored
    visible: list[VisiblePost] = []
    for post in posts:
        body = post.body
        if body.kind not in _CONTENT_KINDS:
            continue
        reply_to = body.refs[0] if body.kind is PostKind.REPLY else None
        if reply_to is not None:
            parent = by_id.get(reply_to)
            if parent is not None and _backdated(body, parent):
                ignored.append(IgnoredAction(body.post_id, _BACKDATED, BACKDATED))
                continue
        refused = channel_refused(body, None if reply_to is None else by_id.get(reply_to),
                                   state)
        if refused is not None:
            ignored.append(refused)
            continue
        visible.append(_visible(body, reply_to, edits.get(body.post_id),
                                deleted.get(body.post_id), reactions.get(body.post_id),
                                votes.get(body.post_id, ()), pinned.get(body.post_id),
                                body.channel))
    return ThreadView(tuple(visible), tuple(ignored))


def _visible(body: PostBody, reply_to: bytes | None, edit: PostBody | None,
             deleter: bytes | None,
             counted: Mapping[tuple[str | None, str], list[bytes]] | None,
             votes: Sequence[PostBody] = (), pinner: bytes | None = None,
             channel: bytes | None = None) -> VisiblePost:
    """A post, reply or poll as shown: tombstoned if deleted, else with its latest edit's
    content, its reactions, (a poll) its tally and who pinned it; in *channel*."""
    if deleter is not None:
        return VisiblePost(body.post_id, body.author, body.kind, reply_to, body.timestamp_ms,
                           "", None, (), None, True, deleter, channel=channel)
    content = body if edit is None else edit
    return VisiblePost(
        body.post_id, body.author, body.kind, reply_to, body.timestamp_ms, content.text,
        content.content_warning, content.attachments,
        None if edit is None else edit.timestamp_ms, False, None,
        *(((), ()) if not counted else _reaction_lists(counted)),
        _tally(body, votes) if body.kind is PostKind.POLL else None, pinner, channel,
    )


def _narrowed(timeline: Timeline, state: GroupState,
              only: Collection[bytes]) -> list[VisiblePost]:
    """:func:`thread_view`'s posts for just *only*: each post's edits, deletes and reactions
    (and the deletes that withdraw those reactions) taken by the same rules, in the same
    causal order, as the whole view takes them."""
    wanted = [post for post in (timeline.get(post_id) for post_id in only)
              if post is not None and post.body.kind in _CONTENT_KINDS]
    wanted.sort(key=lambda post: timeline.position(post.post_id))
    visible: list[VisiblePost] = []
    for post in wanted:
        body = post.body
        reply_to = body.refs[0] if body.kind is PostKind.REPLY else None
        if reply_to is not None:
            parent = timeline.get(reply_to)
            if parent is not None and _backdated(body, parent):
                continue
        if channel_refused(body, None if reply_to is None else timeline.get(reply_to),
                            state) is not None:
            continue
        edit: PostBody | None = None
        deleter: bytes | None = None
        counted: dict[tuple[str | None, str], list[bytes]] = {}
        votes: list[PostBody] = []
        pinner: bytes | None = None
        for action in timeline.acting_on(body.post_id):
            act = action.body
            if _backdated(act, post):
                continue
            if act.kind is PostKind.EDIT:
                if (body.kind in _EDITABLE_KINDS and act.author == body.author
                        and not _edit_refused(act, post, state)
                        and (edit is None or edit.author_seq < act.author_seq)):
                    edit = act
            elif act.kind is PostKind.DELETE:
                if deleter is None and _may_delete(state, act, body.author):
                    deleter = act.author
            elif act.kind is PostKind.VOTE:
                if _vote_refused(act, post) is None:
                    votes.append(act)
            elif act.kind is PostKind.PIN:
                if (pinner is None and _pin_refused(act, post, state) is None
                        and not _withdrawn(timeline, state, action)):
                    pinner = act.author
            elif not _withdrawn(timeline, state, action):
                authors = counted.setdefault((act.content_warning, act.text), [])
                if act.author not in authors:
                    authors.append(act.author)
        visible.append(_visible(body, reply_to, edit, deleter, counted, votes, pinner,
                                body.channel))
    return visible


def pins_in_force(timeline: Timeline, state: GroupState, post_id: bytes) -> list[OpenedPost]:
    """The pins of *post_id* that TV-6 applies and no delete has withdrawn, in causal
    order: what unpinning it must delete (the first is the one ``pinned_by`` names, unless
    the post was deleted: then it shows no pin, and these are the pins it had)."""
    post = timeline.get(post_id)
    if post is None:
        return []
    return [action for action in timeline.acting_on(post_id)
            if action.body.kind is PostKind.PIN
            and _pin_refused(action.body, post, state) is None
            and not _withdrawn(timeline, state, action)]


def _withdrawn(timeline: Timeline, state: GroupState, reaction: OpenedPost) -> bool:
    """Whether a delete the whole view applies withdraws *reaction* (or a pin)."""
    return any(act.body.kind is PostKind.DELETE and not _backdated(act.body, reaction)
               and _may_delete(state, act.body, reaction.author)
               for act in timeline.acting_on(reaction.post_id))
