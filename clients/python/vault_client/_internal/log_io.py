"""The membership log at the relay: reading it (verified page by page) and appending to it
(checked locally first, compare-and-swap at the relay, never sent blindly twice)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from vault.crypto.errors import GroupDeletedError, InviteError, LogConflictError, NotAMemberError
from vault.crypto.group_state import GroupState, LogCheckpoint, new_entry
from vault.crypto.localstore import record_id
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import DeleteGroupBody, EntryBody
from vault.crypto.log_verify import apply_entry, check_checkpoint, extend_log, verify_log
from vault_client import events as ev
from vault_client._internal import gone
from vault_client._internal import sync as engine
from vault_client._internal import views as V
from vault_client._internal.device import Device, refuse_while_deleting
from vault_client._internal.group_view import GroupView
from vault_client._internal.transport import AmbiguousAppend, Auth, Transport
from vault_client.errors import RelayUnreachableError

APPEND_ATTEMPTS: Final = 4


def fetch_log(device: Device, transport: Transport, auth: Auth, gid: bytes,
              known: GroupState | None = None, *, checkpoint: LogCheckpoint | None = None
              ) -> tuple[GroupState, list[bytes]]:
    """The relay's log up to its head, verified page by page as it arrives: from the
    genesis entry, or on top of *known* (whose last entry the relay serves again first).
    Returns the verified state and the entries served. Reading stops at the first page
    that does not verify, so a relay cannot make this device fetch, and hold, an endless
    log. A *checkpoint* (a high-water mark verified elsewhere) must be reached and
    matched (:class:`RollbackError`, :class:`ForkError`)."""
    state, fetched = _fetch(device, transport, auth, gid, known)
    if checkpoint is not None:
        check_checkpoint(state, checkpoint)
    return state, fetched


def _fetch(device: Device, transport: Transport, auth: Auth, gid: bytes,
           known: GroupState | None) -> tuple[GroupState, list[bytes]]:
    start = 0 if known is None else known.seq
    fetched: list[bytes] = []
    state = known
    while True:
        page = transport.read_log(auth, start + len(fetched), 500)
        if state is None:
            state = verify_log(gid, page.entries, now_ms=device.now())
        elif not fetched:
            state = engine.apply_log(state, page.entries, page.head_seq, device.now())
        else:
            state = extend_log(state, page.entries, now_ms=device.now())
        fetched.extend(page.entries)
        if not page.entries or start + len(fetched) > page.head_seq:
            return state, fetched


def sync_log(device: Device, view: GroupView, events: list[ev.Event],
             warnings: list[ev.SyncWarning], reader: Auth | None = None) -> bool:
    """Bring the verified log to the relay's head; True if it moved."""
    old = view.state
    assert old is not None
    transport = device.transport(view.relay_url)
    try:
        new, served = fetch_log(device, transport, reader or device.auth(view), view.group_id,
                                old)
    except GroupDeletedError:
        raise gone.confirmed(device, view) from None
    if new.seq == old.seq:
        return False
    added = served[1:]
    device.store.save_log(view.group_id, old.seq + 1, added, new.checkpoint().encode())
    view.entries.extend(added)
    view.state = new
    if new.deleted:  # served as a log entry: verified with the whole chain
        raise gone.confirmed(device, view)
    _adopt_saved_keys(device, view)
    for event in engine.log_events(view, old, new):
        if isinstance(event, ev.SyncWarning):
            warnings.append(event)
        else:
            events.append(event)
        if isinstance(event, ev.RemovedFromGroup):
            view.status = "removed" if event.removed else "left"
            device.store.update_group(view.group_id, status=view.status)
    # Departures this device sees only now can show that posts it holds were written on
    # a view of the group without them (its own included: see vault.crypto.freshness).
    warnings.extend(V.departure_warnings(view, {}, engine.newly_exposed(view, old)))
    return True


def _adopt_saved_keys(device: Device, view: GroupView) -> None:
    """Take up keys this device saved for epochs the log has only now shown to start:
    a rotation of its own whose answer was lost (the relay went away), found landed."""
    for epoch, sealed in device.store.epoch_keys(view.group_id):
        if epoch not in view.keys:
            key = device.unseal("epoch-key", record_id(view.group_id, epoch), sealed)
            if engine.key_matches(view.state, epoch, key):
                view.keys[epoch] = key


def _reread(device: Device, view: GroupView, reader: Auth | None) -> None:
    """The log before an append (or after one whose answer was lost). A joiner reads it
    with its invite, which stops opening anything once used up (its own JOIN may have
    used it last): then, as the member it may have become."""
    try:
        sync_log(device, view, [], [], reader)
    except InviteError as refused:
        if reader is None:
            raise
        try:
            sync_log(device, view, [], [], None)
        except NotAMemberError:
            raise refused from None


def append(device: Device, view: GroupView, build: Callable[[GroupState], EntryBody], *,
           as_member: bool = True, reader: Auth | None = None,
           before_send: Callable[[LogEntry], None] | None = None,
           on_known_head: bool = False) -> LogEntry:
    """Append one entry built on the current head: checked locally by the core's rules
    first, compare-and-swap at the relay, and on an unanswered request the log is read
    again to see whether the entry landed (never sent blindly twice on a new head).

    *before_send* runs once the entry passed the local check and before it may reach the
    relay (a new epoch's key is saved there): an entry this device refuses changes
    nothing. *on_known_head*: the first attempt builds on the head this device holds,
    without reading the log first (the caller has just appended or read it); should the
    head have moved, the relay's compare-and-swap refuses it and the log is read as usual."""
    try:
        return _append(device, view, build, as_member=as_member, reader=reader,
                       before_send=before_send, on_known_head=on_known_head)
    except GroupDeletedError:
        raise gone.confirmed(device, view) from None  # (DeletionUnprovenError unless proven)


def _append(device: Device, view: GroupView, build: Callable[[GroupState], EntryBody], *,
            as_member: bool, reader: Auth | None,
            before_send: Callable[[LogEntry], None] | None, on_known_head: bool) -> LogEntry:
    transport = device.transport(view.relay_url)
    auth = device.auth(view) if as_member else None
    last: LogEntry | None = None
    ambiguous = False
    for attempt in range(APPEND_ATTEMPTS):
        if attempt or not on_known_head:
            _reread(device, view, reader)
        state = view.state
        assert state is not None
        if last is not None and state.hash_at(last.seq) == last.hash:
            return last  # an earlier unanswered attempt did land
        now = device.now()
        if last is None or state.seq != last.seq - 1 or state.head != last.prev_hash:
            body = build(state)
            if not isinstance(body, DeleteGroupBody):
                refuse_while_deleting(device, view.group_id)
            last = new_entry(state, view.me, body, now_ms=now)
        new_state = apply_entry(state, last, now_ms=max(now, last.timestamp_ms))
        if before_send is not None:
            before_send(last)
        try:
            transport.append(auth, view.group_id, last.raw)
        except LogConflictError:
            continue
        except AmbiguousAppend:
            ambiguous = True  # the next pass reads the log to see whether it landed
            continue
        device.store.save_log(view.group_id, last.seq, [last.raw],
                              new_state.checkpoint().encode())
        view.entries.append(last.raw)
        old, view.state = state, new_state
        for event in engine.log_events(view, old, new_state):
            if isinstance(event, ev.RemovedFromGroup):
                view.status = "left"
                device.store.update_group(view.group_id, status="left")
        return last
    _reread(device, view, reader)  # RelayUnreachableError: still cannot tell
    if last is not None and view.state is not None and \
            view.state.hash_at(last.seq) == last.hash:
        return last
    if ambiguous:
        raise RelayUnreachableError(
            "the relay did not confirm the change and it has not appeared in the log; "
            "nothing was changed — try again")
    raise LogConflictError("the group's log kept changing while this device tried to "
                           "change it; try again")
