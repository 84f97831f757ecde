"""A sync of one group: the I/O around the sans-I/O engine (:mod:`.sync`).

In order: a pending join is checked with the relay; waiting posts go out; the membership
log, this device's key grants and new posts are fetched, verified and stored; expired posts
are dropped; and the device does its duties (an admin's rotation after a leave, grants it
owes, metadata carried into a new epoch).
"""

from __future__ import annotations

import contextlib
from collections.abc import Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from typing import Final

from vault.crypto.encoding import b64decode, b64encode
from vault.crypto.epochs import EpochGrant, open_grant
from vault.crypto.errors import (
    AlreadyMemberError,
    EpochStaleError,
    ForbiddenError,
    GrantError,
    GroupDeletedError,
    InviteExhaustedError,
    InviteExpiredError,
    InviteRevokedError,
    LogConflictError,
    NotAMemberError,
    RelayUnavailableError,
    RotationPendingError,
    UnknownInviteError,
    VaultError,
)
from vault.crypto.localstore import (
    PostStub,
    decode_pending_join,
    encode_post_stub,
    encode_stored_post,
    record_id,
)
from vault.crypto.timeline import Timeline
from vault_client import events as ev
from vault_client._internal import deletion, gone, naming, outbox, rules
from vault_client._internal import sync as engine
from vault_client._internal import views as V
from vault_client._internal.cores import map_on_cores
from vault_client._internal.device import Device, fence_key
from vault_client._internal.group_view import GroupView
from vault_client._internal.groups import finish_create
from vault_client._internal.log_io import sync_log
from vault_client._internal.rotation import issue, publish_group_metadata, publish_profile, rotate
from vault_client._internal.store import TOMBSTONE, HeldRow
from vault_client._internal.transport import POSTS_PAGE, Auth, PostsPage, Transport
from vault_client.types import SyncReport

POST_PAGE: Final = POSTS_PAGE  # posts per request when syncing: the most the relay serves
COMMIT_POSTS: Final = 1000  # posts read from the relay per local-store commit when syncing


def sync_group(device: Device, view: GroupView) -> SyncReport:
    """One group's sync, reported (its warnings are also kept on the device)."""
    events: list[ev.Event] = []
    warnings: list[ev.SyncWarning] = []
    before = view.state
    try:
        finished = view.status == "member" and \
            deletion.finish_pending(device, view, events, warnings)
        if not finished:
            new_posts, unreadable = _sync_steps(device, view, events, warnings)
    except GroupDeletedError:
        finished = True
    if finished:
        # Believed only for an owner's deletion that fits the verified log (else
        # DeletionUnprovenError, and this device keeps its copy).
        return SyncReport(view.gid, (gone.learn(device, view),), (), 0, -1, 0, 0)
    if before is not None and view.state is not None:
        events = V.real_changes(view, before, events)  # (with the keys this sync brought)
    events = _with_posts(device, view, events)
    for warning in warnings:
        device.warn(warning)
    state = view.state
    return SyncReport(view.gid, tuple(events), tuple(warnings), new_posts,
                      -1 if state is None else state.seq,
                      device.store.outbox_count(view.group_id), unreadable)


def _sync_steps(device: Device, view: GroupView, events: list[ev.Event],
                warnings: list[ev.SyncWarning]) -> tuple[int, int]:
    """The steps of :func:`sync_group`; returns (new posts, unreadable posts)."""
    new_posts = unreadable = 0
    if view.status == "pending":
        check_pending(device, view, events)
    if view.status == "creating":
        finish_create(device, view)
    if view.status == "member":
        try:
            outbox.flush(device, view, warnings,
                         refresh=lambda: refresh_keys(device, view, warnings))
        except NotAMemberError:
            # The relay says this device is no longer a member: believed only if the
            # verified log shows it (a former member may read the log up to the entry that
            # ended its membership), else raised.
            sync_log(device, view, events, warnings)
            if view.status == "member":
                raise
        changed = sync_log(device, view, events, warnings) if view.status == "member" \
            else False
        if view.status == "member":
            sync_grants(device, view, events, warnings,
                        force=changed or engine.missing_keys(view))
            new_posts, unreadable = _sync_posts(device, view, events, warnings)
            _expire(device, view)
            _duties(device, view, events, warnings)
            if view.unsent:  # posts that waited for a key or a rotation this sync brought
                with contextlib.suppress(RelayUnavailableError):
                    outbox.flush(device, view, warnings,
                                 refresh=lambda: refresh_keys(device, view, warnings))
    return new_posts, unreadable


def _with_posts(device: Device, view: GroupView, events: list[ev.Event]) -> list[ev.Event]:
    """NewPost events of posts and replies, each carrying the post as members see it."""
    wanted = {e.post_id for e in events if isinstance(e, ev.NewPost) and
              e.kind in ("post", "reply", "poll")}
    if not wanted or view.state is None:
        return events
    shown = {p.post_id: p for p in V.post_views(view, device.now(), {b64decode(w) for w in wanted})}
    return [replace(e, post=shown.get(e.post_id)) if isinstance(e, ev.NewPost) else e
            for e in events]


def sync_all(device: Device) -> list[SyncReport]:
    """A sync of every group this device is a member of (or waits to join, or is creating),
    each on its own: a group that cannot be synced (its relay is down, it forked...) has
    :attr:`SyncReport.error` set instead of stopping the others."""
    reports = []
    for row in device.store.groups():
        if row.status not in ("member", "pending", "creating"):
            continue
        view = device.view(row.group_id)
        try:
            reports.append(sync_group(device, view))
        except VaultError as error:  # this group only: the others still sync
            reports.append(_failed_report(device, view, error))
    return reports


def _failed_report(device: Device, view: GroupView, error: VaultError) -> SyncReport:
    """The report of a group whose sync failed (in a sync of every group)."""
    state = view.state
    return SyncReport(view.gid, (), (), 0, -1 if state is None else state.seq,
                      device.store.outbox_count(view.group_id), 0, error)


def refresh_keys(device: Device, view: GroupView,
                 report: list[ev.SyncWarning] | None = None) -> None:
    """The relay knows a newer epoch than this device: bring the log and keys up to it.
    Warnings go to *report* (a sync's), else straight to the device."""
    events: list[ev.Event] = []
    warnings: list[ev.SyncWarning] = [] if report is None else report
    changed = sync_log(device, view, events, warnings)
    if view.status == "member":
        sync_grants(device, view, events, warnings, force=changed or engine.missing_keys(view))
    if report is None:
        for warning in warnings:
            device.warn(warning)


def check_pending(device: Device, view: GroupView, events: list[ev.Event]) -> None:
    """Ask the relay about this device's pending join (sending the request again if the
    relay lost it); the device becomes a member only when the verified log shows it."""
    transport = device.transport(view.relay_url)
    row = device.store.group(view.group_id)
    assert row is not None and row.pending is not None
    pending = decode_pending_join(device.unseal("pending-join", record_id(view.group_id),
                                                row.pending))
    try:
        transport.forget_sessions(view.group_id)
        transport.read_log(device.auth(view), 0, 1)
    except NotAMemberError:
        if pending.request is None:
            return
        try:
            kept = rules.kept_acceptance(device, view.group_id)
            status = transport.submit_join_request(view.group_id, pending.request.encode(),
                                                   None if kept is None else kept.raw)
        except AlreadyMemberError:
            status = "approved"
        except (InviteExpiredError, InviteRevokedError, InviteExhaustedError,
                UnknownInviteError, ForbiddenError):
            return
        if status == "denied":
            view.status = "denied"
            device.store.update_group(view.group_id, status="denied")
        if status != "approved":
            return
    # The relay's word alone never makes this device a member (a relay can claim an
    # approval no admin gave): the verified log must show it.
    warnings: list[ev.SyncWarning] = []
    try:
        sync_log(device, view, events, warnings)
    except NotAMemberError:
        return
    for warning in warnings:
        device.warn(warning)
    assert view.state is not None
    if not view.state.is_member(view.me.sign_pk):
        return
    view.status = "member"
    device.store.update_group(view.group_id, status="member", pending=None)
    events.append(ev.JoinApproved(view.gid))


def sync_grants(device: Device, view: GroupView, events: list[ev.Event],
                warnings: list[ev.SyncWarning], *, force: bool) -> None:
    """Fetch and open this device's key grants (when *force*, or the current key is
    missing), then retry posts held for lack of a key."""
    state = view.state
    assert state is not None
    if not force and state.epoch in view.keys:
        return
    got = False
    for epoch, raw in device.transport(view.relay_url).grants(device.auth(view)):
        if epoch in view.keys or epoch > state.epoch:
            continue
        try:
            grant = EpochGrant.decode(raw)
            if grant.epoch != epoch or grant.group_id != view.group_id:
                raise GrantError("the relay served a grant under another epoch or group")
            key = open_grant(grant, view.me, state)
        except VaultError as error:
            warnings.append(ev.InvalidGrant(view.gid, f"a key grant was refused: "
                                            f"{error.message}", epoch, error.code))
            continue
        device.save_key(view, epoch, key)
        view.keys[epoch] = key
        # This device's own grant is on the relay: that epoch's grants went out (see
        # engine.owed_grants), also when this identity was imported from another device.
        device.store.record_issued(view.group_id, epoch, [view.me.sign_pk])
        view.issued.add((epoch, view.me.sign_pk))
        events.append(ev.KeyReceived(view.gid, epoch))
        got = True
    if got and view.held:
        _retry_held(device, view, events, warnings)


def _sync_posts(device: Device, view: GroupView, events: list[ev.Event],
                warnings: list[ev.SyncWarning]) -> tuple[int, int]:
    transport = device.transport(view.relay_url)
    auth = device.auth(view)
    # Holes an imported identity's marks opened are reported like those found here.
    gaps: dict[bytes, list[tuple[int, int]]] = {a: list(r) for a, r in view.mark_gaps.items()}
    view.mark_gaps.clear()
    unknown: list[tuple[bytes, int, str]] = []
    total = unreadable = 0
    # Pages are written to the local store together, up to COMMIT_POSTS at a time (one
    # durable commit each, not one per page); whatever was read is written on the way
    # out, also when a later page fails.
    unwritten: list[tuple[engine.Ingest, str | None]] = []
    count = 0
    assert view.state is not None
    fence = view.state.seq  # see GroupView.fence_seq: set once this read completes
    pages = _Prefetch(transport, auth, view.post_cursor)
    try:
        while True:
            page = pages.take()
            arrival = view.arrival_now()
            items = [(p.post_id, p.cursor, p.envelope, arrival) for p in page.posts
                     if not p.deleted and p.envelope is not None]
            result = engine.ingest(view, items, map_batches=map_on_cores)
            for gone in (p.post_id for p in page.posts if p.deleted or p.envelope is None):
                if gone not in view.tombstones and gone not in view.rejected:
                    view.tombstones.add(gone)
                    result.rejected.append((gone, TOMBSTONE))
            _apply(view, result)
            unwritten.append((result, page.cursor))
            count += len(page.posts)
            if count >= COMMIT_POSTS:
                _write(device, view, unwritten)
                unwritten, count = [], 0
            events.extend(result.events)
            warnings.extend(result.warnings)
            warnings.extend(V.departure_warnings(view, result.late, result.exposed))
            warnings.extend(V.channel_warnings(view, result.not_permitted))
            for author, ranges in result.gaps.items():
                gaps.setdefault(author, []).extend(ranges)
            unknown.extend(result.unknown_heads)
            total += len(result.stored)
            unreadable += result.unreadable_history
            if page.cursor is not None:
                view.post_cursor = page.cursor
            if not page.more or not page.posts:
                break
    finally:
        pages.close()
        if unwritten:
            _write(device, view, unwritten)
    if fence > view.fence_seq:  # (only ever rises; a write only when it moved)
        view.fence_seq = fence
        device.store.set_meta(fence_key(view.group_id), str(fence))
        device.fences[view.group_id] = str(fence)
    if unknown:
        assert view.state is not None
        if any(seq > view.state.seq for _, seq, _ in unknown):
            sync_log(device, view, events, warnings)
        still = _retry_held(device, view, events, warnings)
        for post_id, log_seq, reason in unknown:
            if post_id in still:
                warnings.append(ev.UnknownLogHead(view.gid, reason, b64encode(post_id),
                                                  log_seq))
    warnings.extend(engine.gap_warnings(view, gaps))
    return total, unreadable


class _Prefetch:
    """A group's pages of posts, in order, each next one fetched on a thread of its own
    while the caller opens and stores the one before: the relay's work and the network
    overlap this device's. At most one request is in flight, and only that thread uses the
    transport while it is (the caller does not touch it until :meth:`close`)."""

    def __init__(self, transport: Transport, auth: Auth, after: str | None) -> None:
        self._transport = transport
        self._auth = auth
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="vault-sync-pages")
        self._next: Future[PostsPage] | None = self._fetch(after)

    def _fetch(self, after: str | None) -> Future[PostsPage]:
        return self._pool.submit(self._transport.posts, self._auth, after, POST_PAGE)

    def take(self) -> PostsPage:
        """The next page (what fetching it raised, raised here); the one after it is
        asked for at once when the relay says there is more."""
        assert self._next is not None, "no page after the last"
        page = self._next.result()
        self._next = self._fetch(page.cursor) if page.more and page.posts else None
        return page

    def close(self) -> None:
        """Wait for a request still in flight (its answer is dropped: read again by the
        next sync, from the cursor stored with the pages written), and end the thread."""
        if self._next is not None:
            with contextlib.suppress(Exception):
                self._next.result()
            self._next = None
        self._pool.shutdown(wait=True)


def _retry_held(device: Device, view: GroupView, events: list[ev.Event],
                warnings: list[ev.SyncWarning]) -> set[bytes]:
    """Try held posts again; returns those that still name a log this device lacks."""
    items = [(pid, held.cursor, held.envelope, held.arrival) for pid, held in view.held.items()]
    result = engine.ingest(view, items, map_batches=map_on_cores)
    _write(device, view, [(result, None)])
    _apply(view, result)
    events.extend(result.events)
    warnings.extend(result.warnings)
    warnings.extend(V.departure_warnings(view, result.late, result.exposed))
    warnings.extend(V.channel_warnings(view, result.not_permitted))
    return {post_id for post_id, _seq, _reason in result.unknown_heads}


def _write(device: Device, view: GroupView,
           pages: Sequence[tuple[engine.Ingest, str | None]]) -> None:
    """Write what ingesting *pages* decided to the local store, in one transaction."""
    gid = view.group_id
    store = device.store
    with store.tx() as db:
        for result, cursor in pages:
            rows = [(opened.post_id, c, opened.body.epoch, opened.body.expires_at_ms,
                     device.seal("post", record_id(gid, opened.post_id),
                                 encode_stored_post(opened)),
                     arrival.known_seq, arrival.fence_seq)
                    for opened, c, arrival in result.stored]
            store.save_posts(db, gid, rows)
            for opened in result.resealed:
                store.replace_post(db, gid, opened.post_id, opened.body.epoch, device.seal(
                    "post", record_id(gid, opened.post_id), encode_stored_post(opened)))
            store.hold(db, gid, [HeldRow(pid, held.cursor, held.envelope,
                                         held.arrival.known_seq, held.arrival.fence_seq)
                                 for pid, held in result.held])
            store.unhold(db, gid, _done(result))
            store.reject(db, gid, result.rejected)
            store.set_cursor(db, gid, cursor)
    highest = max(result.highest_own_seq for result, _ in pages)
    if highest:
        store.bump_author_seq(gid, highest + 1)


def _apply(view: GroupView, result: engine.Ingest) -> None:
    """What ingesting decided, in memory (the timeline itself is updated by ingest)."""
    for opened, _c, arrival in result.stored:
        view.arrivals[opened.post_id] = arrival
        if opened.body.expires_at_ms is not None:
            view.expiring[opened.post_id] = opened.body.expires_at_ms
    for pid, held in result.held:
        view.held.setdefault(pid, held)
    for pid in _done(result):
        view.held.pop(pid, None)
    view.rejected.update(pid for pid, _ in result.rejected)


def _done(result: engine.Ingest) -> set[bytes]:
    """Posts no longer held: released after a retry, or rejected."""
    return set(result.released) | {pid for pid, _ in result.rejected}


def _expire(device: Device, view: GroupView) -> None:
    now = device.now()
    due = [pid for pid, when in view.expiring.items() if when <= now]
    expired = [p for p in (view.timeline.get(pid) for pid in due) if p is not None]
    for pid in due:
        del view.expiring[pid]
    if not expired:
        return
    gid = view.group_id
    stubs = []
    for post in expired:
        stub = PostStub(post.post_id, post.body.author, post.body.author_seq)
        stubs.append((post.post_id, device.seal("post", record_id(gid, post.post_id),
                                                encode_post_stub(stub))))
        view.stubs.setdefault(stub.author, set()).add(stub.author_seq)
        view.stub_ids.add(stub.post_id)
    device.store.make_stubs(gid, stubs)
    timeline = Timeline()
    for post in view.timeline.ordered():
        if post.post_id not in view.stub_ids:
            timeline.add(post)
    view.timeline = timeline


def _duties(device: Device, view: GroupView, events: list[ev.Event],
            warnings: list[ev.SyncWarning]) -> None:
    """What this device does by itself: an admin rotates after a leave and grants keys
    it owes; every member re-encrypts its profile for a new epoch."""
    try:
        if engine.needs_rotation(view):
            rotate(device, view, events)
        for epoch, recipients in engine.owed_grants(view).items():
            issue(device, view, epoch, recipients)
        state = view.state
        assert state is not None
        meta = state.group_metadata
        if meta is not None and meta.epoch < state.epoch and state.epoch in view.keys \
                and view.entry(state.epoch_start_seq[state.epoch]).author == view.me.sign_pk:
            # This device started the epoch but did not finish (the relay went away):
            # the group's name goes into the new epoch, as a rotation does.
            current = V.group_metadata(view)
            if current is not None:
                publish_group_metadata(device, view, current)
        mine = state.profiles.get(view.me.sign_pk)
        if mine is not None and mine.epoch < state.epoch and state.epoch in view.keys:
            profile = V.member_profile(view, view.me.sign_pk)  # (name and accepted rules)
            if profile is not None:
                publish_profile(device, view, rules.resealed(view, profile))
        if state.epoch in view.keys and not state.rotation_pending:
            naming.write_first_profile(device, view, events, warnings)
        rules.publish_cards(device, view)
    except (LogConflictError, RotationPendingError, EpochStaleError, RelayUnavailableError):
        pass  # another admin acted first, an admin must rotate, or the relay went away:
        # what this device owes is worked out again from the log by the next sync
