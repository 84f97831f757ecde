"""The sync engine, sans-I/O: it consumes what the relay served and decides what it means.

Nothing here touches the network or the disk. The client (:mod:`.sync_io`) fetches, hands
the bytes to these functions together with the group's in-memory :class:`GroupView`, and
carries out what comes back (store these posts, hold those, warn about that, grant keys to
these members). Every check is a call into :mod:`vault.crypto`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Final

from vault.crypto.commitments import commitment_group_id, epoch_commitment
from vault.crypto.encoding import b64encode
from vault.crypto.errors import (
    EquivocationError,
    MalformedError,
    PostRejectedError,
    RollbackError,
    UnknownLogHeadError,
    VaultError,
)
from vault.crypto.freshness import Arrival, check_not_departed, judge
from vault.crypto.group_state import GroupState
from vault.crypto.identity import PublicIdentity
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import EntryKind
from vault.crypto.log_rules import touched_by
from vault.crypto.log_verify import check_same_entry, extend_log
from vault.crypto.post_body import PostKind
from vault.crypto.posts import (
    MapOpenBatches,
    Opened,
    OpenedPost,
    PostEnvelope,
    open_post,
    open_posts,
)
from vault.crypto.timeline import (
    GapDetected,
    NewPost,
    Resealed,
    SequenceJump,
    Timeline,
    TimelineEvent,
    UnknownHead,
    channel_refused,
)
from vault_client import events as ev
from vault_client._internal.group_view import GroupView, Held
from vault_client.types import HistoryPolicy

# --- the log ---------------------------------------------------------------------------------


def apply_log(state: GroupState, served: Sequence[bytes], head_seq: int,
              now_ms: int) -> GroupState:
    """Extend *state* with entries served from ``state.seq`` on (the first one overlaps).

    The overlapping entry must be the one this device verified (else :class:`ForkError`);
    a log that ends before it is a :class:`RollbackError`; the rest must chain and pass
    every rule (the core's typed errors).
    """
    if not served:
        raise RollbackError(
            f"the relay served an older log than this device already verified: it ends at "
            f"entry {head_seq}, but this device has seen entry {state.seq}. The relay may be "
            "hiding recent membership changes (such as a removal); do not post until it "
            "serves the full log again"
        )
    check_same_entry(state, state.seq, LogEntry.decode(served[0]).hash)
    return extend_log(state, list(served[1:]), now_ms=now_ms)


def log_events(view: GroupView, old: GroupState, new: GroupState) -> list[ev.Event]:
    """What changed between two verified states, as events (and warnings)."""
    gid = view.gid
    out: list[ev.Event] = []
    if new.seq == old.seq:
        return out
    touched = _touched(view, old, new)
    if touched is None:  # (many entries: comparing every member costs less)
        arrived, staying, profiled = list(new.members), list(old.members), list(new.profiles)
    else:
        arrived = sorted((pk for pk in touched if pk in new.members), key=new.members.position)
        staying = sorted((pk for pk in touched if pk in old.members), key=old.members.position)
        profiled = sorted((pk for pk in touched if pk in new.profiles),
                          key=new.profiles.position)
    for pk in arrived:
        member = new.members[pk]
        before = old.members.get(pk)
        if before is None:
            kind = view.entry(member.joined_seq).kind
            out.append(ev.MemberJoined(gid, b64encode(pk), member.role, kind is EntryKind.JOIN))
        elif before.role != member.role:
            out.append(ev.RoleChanged(gid, b64encode(pk), member.role))
    for pk in staying:
        if pk not in new.members:
            former = new.former_members.get(pk)
            removed = former is not None and former.removed_seq is not None and (
                view.entry(former.removed_seq).kind is EntryKind.REMOVE)
            if pk == view.me.sign_pk:
                out.append(ev.RemovedFromGroup(gid, removed))
            else:
                out.append(ev.MemberLeft(gid, b64encode(pk), removed))
    for epoch in range(old.epoch + 1, new.epoch + 1):
        out.append(ev.EpochStarted(gid, epoch))
    if new.group_metadata != old.group_metadata:
        out.append(ev.GroupUpdated(gid))
    for pk in profiled:
        if old.profiles.get(pk) != new.profiles[pk]:
            out.append(ev.ProfileUpdated(gid, b64encode(pk)))
    if new.rotation_pending and not old.rotation_pending and not new.is_admin(view.me.sign_pk):
        out.append(ev.RotationPending(
            gid, "a member left and the group key has not been changed yet; an admin's "
            "device will start a new epoch when it next syncs"))
    return out


MEMBERS_PER_ENTRY: Final = 200
"""Reading one entry again (its decoding verifies a signature, ~60 us) costs about what
comparing 200 members of two states does: the breakeven :func:`log_events` goes by."""


def _touched(view: GroupView, old: GroupState, new: GroupState) -> set[bytes] | None:
    """The members whose membership, role or profile the entries after *old* up to *new*
    may have changed (:func:`~vault.crypto.log_rules.touched_by`: each entry's author and
    the member it names; a profile is only ever its author's), or None when there are so
    many entries that comparing every member is cheaper. So one entry in a group of 10,000
    costs a few lookups, not a walk over every member."""
    count = new.seq - old.seq
    if count < 0 or count * MEMBERS_PER_ENTRY > max(len(new.members), len(old.members)):
        return None
    keys: set[bytes] = set()
    for seq in range(old.seq + 1, new.seq + 1):
        keys.update(touched_by(view.entry(seq)).members)
    return keys


def key_matches(state: GroupState | None, epoch: int, key: bytes) -> bool | None:
    """Whether *key* is the one the log commits to for *epoch* (None: epoch not in the log)."""
    if state is None:
        return None
    expected = state.epoch_commitments.get(epoch)
    if expected is None:
        return None
    bound = commitment_group_id(state.group_id, epoch)
    return epoch_commitment(bound, epoch, key) == expected


# --- posts -----------------------------------------------------------------------------------


@dataclass
class Ingest:
    """What ingesting a batch of served posts decided."""

    stored: list[tuple[OpenedPost, str | None, Arrival]] = field(default_factory=list)
    held: list[tuple[bytes, Held]] = field(default_factory=list)
    released: list[bytes] = field(default_factory=list)
    rejected: list[tuple[bytes, str]] = field(default_factory=list)
    events: list[ev.Event] = field(default_factory=list)
    warnings: list[ev.SyncWarning] = field(default_factory=list)
    gaps: dict[bytes, list[tuple[int, int]]] = field(default_factory=dict)
    unknown_heads: list[tuple[bytes, int, str]] = field(default_factory=list)
    unreadable_history: int = 0
    highest_own_seq: int = 0
    late: dict[bytes, list[bytes]] = field(default_factory=dict)
    """Author -> posts first received after they had departed (marked, see freshness)."""
    exposed: dict[tuple[bytes, tuple[bytes, ...]], list[bytes]] = field(default_factory=dict)
    """(author, former members who may have read them) -> posts written on a stale view."""
    resealed: list[OpenedPost] = field(default_factory=list)
    """Stored posts their author sealed again for a newer epoch (protocol TL-8): the newer
    sealing replaces the stored one; the first arrival stays."""
    not_permitted: dict[tuple[bytes, bytes], list[bytes]] = field(default_factory=dict)
    """(author, channel) -> posts, polls and replies in an announcements channel by someone
    below moderator at their log position: kept, never shown (TV-7)."""


Served = tuple[bytes, str | None, bytes, Arrival]
"""``(post_id, cursor, envelope bytes, arrival)``: a served post and when it first came."""


def ingest(view: GroupView, items: Sequence[Served], *,
           map_batches: MapOpenBatches | None = None) -> Ingest:
    """Open, check and place served posts.

    Posts without a key yet, or written against a log head this device lacks, are held
    (and retried later, judged by the same *arrival*); posts that fail a check are rejected
    with a warning; equivocation is a warning and the second version is rejected; posts
    from departed members and posts written on a stale view are kept and marked
    (:mod:`vault.crypto.freshness`). With *map_batches* (see
    :func:`vault.crypto.posts.open_posts`) the posts are opened on every core first; what
    follows is the same, one post after another, in the order served.
    """
    state = view.state
    assert state is not None
    out = Ingest()
    gid = view.gid
    joined = view.joined_seq()
    decoded, opened = _open_ahead(view, state, items, map_batches)
    for index, (post_id, cursor, raw, arrival) in enumerate(items):
        if _passed_over(view, post_id, raw):
            continue
        held = view.held.get(post_id)
        retrying = held is not None
        if held is not None and held.envelope == raw:
            arrival = held.arrival  # the same bytes: judged as when they first arrived
        # (Other bytes under a held id are a new arrival: the relay may not dress a post
        # up as one that arrived before the fence.)
        try:
            envelope = _decoded(decoded.get(index), raw)
            if envelope.post_id != post_id:
                raise PostRejectedError("the relay served a post under another post's id")
        except (MalformedError, PostRejectedError, ValueError) as error:
            code = error.code if isinstance(error, VaultError) else MalformedError.code
            out.rejected.append((post_id, code))
            out.warnings.append(ev.InvalidPost(gid, str(error), b64encode(post_id), code))
            continue
        key = view.keys.get(envelope.epoch)
        if key is None:
            if envelope.log_seq < joined:
                out.unreadable_history += 1
            if not retrying:
                out.held.append((post_id, Held(cursor, raw, arrival)))
            beyond = _beyond_log(state, envelope)
            if beyond is not None:  # reported like an unknown head (not silently held)
                out.unknown_heads.append((post_id, envelope.log_seq, beyond))
            continue
        try:
            added = _add(view, envelope, key, state, arrival, opened.get(index))
        except EquivocationError as error:
            out.rejected.append((post_id, error.code))
            out.warnings.append(ev.Equivocation(gid, error.message, b64encode(post_id)))
            continue
        except VaultError as error:
            out.rejected.append((post_id, error.code))
            out.warnings.append(ev.InvalidPost(
                gid, f"a post was refused: {error.message}", b64encode(post_id), error.code))
            continue
        if retrying and not any(isinstance(event, UnknownHead) for event in added):
            # Still written against a log head this device lacks: it stays held (released,
            # it would be dropped without the UnknownLogHead warning ever being reported).
            out.released.append(post_id)
        for event in added:
            if isinstance(event, NewPost):
                body = event.post.body
                out.stored.append((event.post, cursor, arrival))
                out.events.append(ev.NewPost(gid, b64encode(post_id), b64encode(body.author),
                                             body.kind.name.lower()))
                if body.author == view.me.sign_pk:
                    out.highest_own_seq = max(out.highest_own_seq, body.author_seq)
                verdict = judge(state, body, arrival)
                if verdict.late_author:
                    out.late.setdefault(body.author, []).append(post_id)
                if verdict.exposed_to:
                    out.exposed.setdefault((body.author, verdict.exposed_to), []).append(post_id)
                if body.channel is not None and channel_refused(body, None, state):
                    out.not_permitted.setdefault((body.author, body.channel),
                                                 []).append(post_id)
            elif isinstance(event, Resealed):
                kept = view.timeline.get(post_id)
                if kept is not None and kept.envelope.encode() == raw:
                    out.resealed.append(kept)
            elif isinstance(event, GapDetected):
                out.gaps.setdefault(event.author, []).append((event.first, event.last))
            elif isinstance(event, SequenceJump):
                out.warnings.append(ev.SequenceJumped(
                    gid, f"member {b64encode(event.author)[:8]} numbered a post "
                    f"{event.author_seq} right after {event.previous}: their client misbehaves, "
                    "or this device missed a great many of their posts",
                    b64encode(event.author), event.previous, event.author_seq))
            elif isinstance(event, UnknownHead):
                if not retrying:
                    out.held.append((post_id, Held(cursor, raw, arrival)))
                out.unknown_heads.append((post_id, event.log_seq, event.reason))
    return out


def _passed_over(view: GroupView, post_id: bytes, raw: bytes) -> bool:
    """A served post this device does not read again: refused before, expired (only its
    stub is kept), or held in the timeline with exactly these bytes (a duplicate)."""
    if post_id in view.rejected or post_id in view.stub_ids:
        return True
    known = view.timeline.get(post_id)
    return known is not None and known.envelope.encode() == raw


_Decoded = PostEnvelope | MalformedError | PostRejectedError | ValueError


def _open_ahead(view: GroupView, state: GroupState, items: Sequence[Served],
                map_batches: MapOpenBatches | None
                ) -> tuple[dict[int, _Decoded], dict[int, Opened]]:
    """The served envelopes decoded (or what decoding raised), and those this device has a
    key for opened (or what opening raised), on every core, by their index in *items*.
    The posts :func:`ingest` passes over unread are left out (others may be done for
    nothing, harmlessly: a post served twice in one page)."""
    if map_batches is None:
        return {}, {}
    decoded: dict[int, _Decoded] = {}
    wanted: list[int] = []
    pairs: list[tuple[PostEnvelope, bytes]] = []
    for index, (post_id, _cursor, raw, _arrival) in enumerate(items):
        if _passed_over(view, post_id, raw):
            continue
        try:
            envelope = PostEnvelope.decode(raw)
        except (MalformedError, PostRejectedError, ValueError) as error:
            decoded[index] = error
            continue
        decoded[index] = envelope
        key = view.keys.get(envelope.epoch)
        if envelope.post_id == post_id and key is not None:
            wanted.append(index)
            pairs.append((envelope, key))
    results = open_posts(pairs, state, map_batches=map_batches)
    return decoded, dict(zip(wanted, results, strict=True))


def _decoded(ahead: _Decoded | None, raw: bytes) -> PostEnvelope:
    """A served envelope: decoded ahead (what decoding raised, raised again) or now."""
    if ahead is None:
        return PostEnvelope.decode(raw)
    if isinstance(ahead, PostEnvelope):
        return ahead
    raise ahead


def _add(view: GroupView, envelope: PostEnvelope, key: bytes, state: GroupState,
         arrival: Arrival, ahead: Opened | None = None) -> list[TimelineEvent]:
    """Open a post (unless it was opened *ahead*) and add it to the timeline (an unknown
    log head keeps it pending); refuse it (:class:`NotAMemberError`) if its author had
    departed by the fence."""
    try:
        if ahead is None:
            opened = open_post(envelope, key, state)
        elif isinstance(ahead, OpenedPost):
            opened = ahead
        else:
            raise ahead
    except UnknownLogHeadError:
        return view.timeline.add_envelope(envelope, key, state)
    check_not_departed(state, opened.body, arrival)
    return view.timeline.add(opened)


def replace_own_post(view: GroupView, post: OpenedPost) -> None:
    """Put this device's post, sealed again for a newer epoch before it was ever sent, in
    place of its earlier version (same id and number: the timeline is rebuilt without the
    old one, which nobody received)."""
    remove_own_post(view, post.post_id)
    view.timeline.add(post)


def remove_own_post(view: GroupView, post_id: bytes) -> None:
    """Take a post this device wrote and never sent out of its timeline (rebuilt)."""
    timeline = Timeline()
    for existing in view.timeline.ordered():
        if existing.post_id != post_id:
            timeline.add(existing)
    view.timeline = timeline


def newly_exposed(view: GroupView, old: GroupState
                  ) -> dict[tuple[bytes, tuple[bytes, ...]], list[bytes]]:
    """Stored posts that departures new since *old* show were written on a stale view:
    ``(author, former members who may have read them) -> post ids``. (Posts ingested in
    the same sync are judged when they arrive.)"""
    state = view.state
    assert state is not None
    fresh = [m for m in state.departed_after(old.seq)]
    if not fresh:
        return {}
    earliest = min(m.removed_seq for m in fresh if m.removed_seq is not None)
    found: dict[tuple[bytes, tuple[bytes, ...]], list[bytes]] = {}
    for post in view.timeline.ordered():
        body = post.body
        if body.log_seq >= earliest or post.post_id in view.unsent:
            continue  # (a post never sent is sealed again for the new epoch before it goes)
        arrival = view.arrivals.get(post.post_id, Arrival())
        readers = tuple(pk for pk in judge(state, body, arrival).exposed_to
                        if pk not in old.former_members)
        if readers:
            found.setdefault((body.author, readers), []).append(post.post_id)
    return found


def _beyond_log(state: GroupState, envelope: PostEnvelope) -> str | None:
    """Why a post this device holds no key for names a membership log it does not have, or
    None. Only the clear header says so (it is checked again once the post can be opened),
    but without this a relay that hides the entry starting a new epoch (a removal) would
    leave the new epoch's posts silently waiting for a key that never comes."""
    if envelope.log_seq > state.seq or envelope.epoch > state.epoch:
        return (
            f"a post names log entry {envelope.log_seq} and epoch {envelope.epoch}, beyond "
            f"the membership log this device has (entry {state.seq}, epoch {state.epoch}): "
            "the relay may be hiding entries (such as a removal) or showing members "
            "different logs"
        )
    if state.hash_at(envelope.log_seq) != envelope.log_head:
        return (
            f"a post names a different log entry {envelope.log_seq} than this device has: "
            "its author was shown another membership log (possible fork)"
        )
    return None


def _deleted_unseen(view: GroupView) -> dict[bytes, int]:
    """Per author: posts they deleted (a signed DELETE) that the relay erased before this
    device saw them. Each explains one hole in that author's numbering."""
    counts: dict[bytes, int] = {}
    for post in view.timeline.ordered():
        body = post.body
        if body.kind is PostKind.DELETE and body.refs[0] in view.tombstones \
                and body.refs[0] not in view.timeline:
            counts[body.author] = counts.get(body.author, 0) + 1
    return counts


def _intersect(a: Sequence[tuple[int, int]], b: Sequence[tuple[int, int]]
               ) -> list[tuple[int, int]]:
    out = []
    for lo1, hi1 in a:
        for lo2, hi2 in b:
            lo, hi = max(lo1, lo2), min(hi1, hi2)
            if lo <= hi:
                out.append((lo, hi))
    return sorted(set(out))


def _unexplained(ranges: Sequence[tuple[int, int]], stubs: set[int]) -> int:
    """How many numbers in *ranges* are not posts this device saw expire."""
    total = sum(hi - lo + 1 for lo, hi in ranges)
    return total - sum(1 for seq in stubs if any(lo <= seq <= hi for lo, hi in ranges))


def _history_hidden(view: GroupView) -> bool:
    """Whether this device joined after the group began and holds no key of some epoch in
    force before it joined (so it cannot read everything written before it)."""
    state = view.state
    joined = view.joined_seq()
    if state is None or joined == 0:
        return False
    return any(epoch not in view.keys for epoch in range(state.epoch + 1)
               if state.epoch_start_seq[epoch] < joined)


def gap_warnings(view: GroupView, detected: dict[bytes, list[tuple[int, int]]]
                 ) -> list[ev.SyncWarning]:
    """Warnings for holes detected in this sync that are still open at its end. Holes that
    posts this device saw expire, or the author's own signed deletions, account for are not
    warned about."""
    still = view.timeline.gaps()
    out: list[ev.SyncWarning] = []
    explained = _deleted_unseen(view) if detected else {}
    before_me = _history_hidden(view)
    for author, ranges in detected.items():
        stubs = view.stubs.get(author, set())
        open_now = _intersect(ranges, still.get(author, ()))
        if before_me:
            # An author's first numbers, never seen here, belong to posts written before
            # this device joined, whose keys it was not given (history policy): not a hole.
            open_now = [(lo, hi) for lo, hi in open_now if lo != 1]
        missing = _unexplained(open_now, stubs)
        if missing <= 0 or _unexplained(still.get(author, ()), stubs) <= explained.get(author, 0):
            continue
        who = b64encode(author)
        shown = ", ".join(str(lo) if lo == hi else f"{lo}-{hi}" for lo, hi in open_now[:10])
        out.append(ev.PostsWithheld(
            view.gid,
            f"{missing} post(s) by member {who[:8]} are missing (numbers {shown}): the relay "
            "withheld them, they have not arrived yet, or they were deleted before this device "
            "saw them",
            who, tuple(open_now), missing))
    return out


# --- admin duties ------------------------------------------------------------------------------


def _self_joined_since(view: GroupView, start: int) -> list[PublicIdentity]:
    assert view.state is not None
    return [m.identity for m in view.state.members.values()
            if m.joined_seq > start and view.entry(m.joined_seq).kind is EntryKind.JOIN]


def needs_rotation(view: GroupView) -> bool:
    """An admin's device starts a new epoch after a leave, and (history policy ``none``)
    after someone joined by themself with a pre-authorised invite."""
    state = view.state
    if state is None or not state.is_admin(view.me.sign_pk):
        return False
    if state.rotation_pending:
        return True
    return view.policy == "none" and bool(
        _self_joined_since(view, state.epoch_start_seq[state.epoch]))


def history_epochs(view: GroupView, policy: HistoryPolicy) -> list[int]:
    """Past epochs (held by this device) a new member gets under *policy*."""
    assert view.state is not None
    current = view.state.epoch
    if policy in ("none", "current"):
        return []
    since = 0 if policy == "all" else int(policy)
    return sorted(e for e in view.keys if since <= e < current)


def missing_keys(view: GroupView) -> bool:
    """Whether this device lacks a key it may yet be given: of an epoch that started while
    it was a member (its grant is late: an admin's rotation was cut short and its grants go
    out later), or of a held post's epoch the log has. Syncing then asks the relay for this
    device's grants again."""
    state = view.state
    if state is None:
        return False
    joined = view.joined_seq()
    if any(epoch not in view.keys and state.epoch_start_seq[epoch] > joined
           for epoch in range(state.epoch + 1)):
        return True
    for held in view.held.values():
        try:
            epoch = PostEnvelope.decode(held.envelope).epoch
        except MalformedError:
            continue
        if epoch not in view.keys and epoch <= state.epoch:
            return True
    return False


def owed_grants(view: GroupView) -> dict[int, list[PublicIdentity]]:
    """Grants this admin's device still owes: for the epoch it started, every member; for
    members it added, or who joined by themselves, the current epoch (and history)."""
    state = view.state
    me = view.me.sign_pk
    if state is None or not state.is_admin(me) or state.epoch not in view.keys:
        return {}
    epoch = state.epoch
    start = state.epoch_start_seq[epoch]
    starter = view.entry(start).author
    owed: dict[int, list[PublicIdentity]] = {}
    for pk, member in state.members.items():
        admission = view.entry(member.joined_seq)
        if member.joined_seq <= start:
            mine = starter == me  # members when the epoch began: its starter grants it
        elif admission.kind is EntryKind.JOIN:
            # Self-joined since the epoch began: under history "none" they get no key of
            # an epoch that began before them (needs_rotation starts one for them).
            mine = view.policy != "none"
        else:
            mine = admission.author == me  # an ADD of this device's: the admin chose to share
        if mine and (epoch, pk) not in view.issued:
            owed.setdefault(epoch, []).append(member.identity)
        if admission.kind is EntryKind.JOIN and member.joined_seq > start:
            for past in history_epochs(view, view.policy):
                if (past, pk) not in view.issued:
                    owed.setdefault(past, []).append(member.identity)
    # An earlier epoch this device started whose grants never went out (the relay went away
    # mid-rotation, and another rotation followed before a sync): its own grant, the first
    # of every rotation's, is missing. The members of the group at that rotation who are
    # still members get it now, or their posts of that epoch would stay unreadable to them.
    for past in range(epoch):
        if past not in view.keys or (past, me) in view.issued:
            continue
        past_start = state.epoch_start_seq[past]
        if view.entry(past_start).author != me:
            continue
        for pk, member in state.members.items():
            if member.joined_seq <= past_start and (past, pk) not in view.issued:
                owed.setdefault(past, []).append(member.identity)
    return owed
