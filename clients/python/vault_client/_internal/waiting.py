"""Waiting for news: a long-poll on the relay's ``/events``, then a sync.

A wait holds the client's lock only around its two halves (:func:`target`, :func:`after`),
never while the relay keeps the request open, so other calls go on meanwhile. The
``asyncio`` client (:mod:`vault_client.aio`) awaits the long-poll itself between the same
two halves.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Final

from vault.crypto.errors import GroupDeletedError, NotAMemberError
from vault_client._internal.device import Device
from vault_client._internal.group_view import GroupView
from vault_client._internal.refs import GroupRef
from vault_client._internal.sync_io import sync_group
from vault_client._internal.transport import Auth, EventsPage, Transport
from vault_client.types import SyncReport

LONGEST_WAIT: Final = 30.0
"""The longest a wait lasts, in seconds (the relay holds a long-poll up to this)."""


@dataclass(frozen=True)
class WaitTarget:
    """What a long-poll needs: the relay, who asks, and the cursor to wait after."""

    transport: Transport
    auth: Auth
    cursor: str


@dataclass(frozen=True)
class Deadline:
    """When a wait ends (``time.monotonic`` seconds)."""

    at: float

    @classmethod
    def after(cls, timeout: float) -> Deadline:
        return cls(time.monotonic() + max(0.0, min(LONGEST_WAIT, timeout)))

    def seconds_left(self) -> int:
        """Whole seconds left (what one long-poll may last)."""
        return max(0, int(self.at - time.monotonic()))

    def passed(self) -> bool:
        return time.monotonic() >= self.at


def wait(device: Device, lock: threading.RLock, group: GroupRef,
         timeout: float) -> SyncReport:
    """Long-poll until something this device has not seen happens in the group (or
    *timeout* seconds, at most :data:`LONGEST_WAIT`, pass), then sync it."""
    deadline = Deadline.after(timeout)
    while True:
        polled = target(device, lock, group)
        seconds = deadline.seconds_left()
        try:
            page = polled.transport.events(polled.auth, polled.cursor, seconds)
        except NotAMemberError:
            return refused(device, lock, group)
        except GroupDeletedError:
            return deleted(device, lock, group)
        report = after(device, lock, group, page, seconds == 0 or deadline.passed())
        if report is not None:
            return report


def refused(device: Device, lock: threading.RLock, group: GroupRef) -> SyncReport:
    """The relay refused the long-poll: this device is no longer a member, it says. A sync
    learns it from the verified log (a former member may read the log up to the entry that
    ended its membership: the group is then ``removed``, with its event), else the refusal
    is raised: the relay's word alone changes nothing."""
    with lock:
        view = device.member_view(group)
        report = sync_group(device, view)
        if view.status == "member":
            raise NotAMemberError("the relay says this device is no longer a member of the "
                                  "group, and the group's log does not show it")
        return report


def deleted(device: Device, lock: threading.RLock, group: GroupRef) -> SyncReport:
    """The relay says the group was deleted: a sync checks its word (and drops the group
    only if an owner's deletion fits the verified log)."""
    with lock:
        return sync_group(device, device.member_view(group))


def target(device: Device, lock: threading.RLock, group: GroupRef) -> WaitTarget:
    """The first half of a wait: where to long-poll, and from which cursor."""
    with lock:
        view = device.member_view(group)
        return WaitTarget(device.transport(view.relay_url), device.auth(view),
                          _event_cursor(view))


def after(device: Device, lock: threading.RLock, group: GroupRef, page: EventsPage,
          last: bool) -> SyncReport | None:
    """The second half: sync if the page holds news (or this was the last round), else
    None (wait again)."""
    with lock:
        view = device.member_view(group)
        fresh = _news(view, page)
        _save_event_cursor(device, view, page.cursor)
        if fresh or last:
            return sync_group(device, view)
        return None


def _event_cursor(view: GroupView) -> str:
    """Where to wait from: the furthest of the last wait and the last read of posts (a
    sync moves the latter, so what it read is not waited for again)."""
    return max((view.event_cursor or "0", view.post_cursor or "0"), key=int)


def _news(view: GroupView, page: EventsPage) -> bool:
    """Whether an events page holds something this device has not seen: a post it does
    not hold, or a log entry beyond its verified log."""
    state = view.state
    assert state is not None
    if any(seq > state.seq for seq in page.log_seqs):
        return True
    return any(pid not in view.timeline and pid not in view.rejected
               and pid not in view.stub_ids and pid not in view.held
               for pid in page.post_ids) or page.more


def _save_event_cursor(device: Device, view: GroupView, cursor: str) -> None:
    if cursor != view.event_cursor and int(cursor) >= int(_event_cursor(view)):
        view.event_cursor = cursor
        device.store.update_group(view.group_id, event_cursor=cursor)
