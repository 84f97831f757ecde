"""Syncing with the relay without making a person wait for it.

Opening the groups list or a group's page used to sync first, which takes up to
``retry_for`` seconds (8) while the relay cannot be reached. Now the sync runs on a
background thread, and the page waits for it only while it is going well: as soon as a
request to the relay fails (the SDK's ``on_retry``, counted by :class:`~vault_app.device.
Device`), or after :data:`LONGEST_WAIT` seconds, the page is drawn from what the SDK's local
store holds (``posts``/``threads`` read only that) and says so. The sync goes on in the
background; the group page's live stream and the groups list's periodic refresh (htmx)
show what it brings.

A group is synced through ``client.wait(group, timeout=0)``: its first request (the relay's
events, answered at once) is made *outside* the client's lock, so while the relay is
unreachable the retries never hold the lock that every page needs to read the local store.
Groups this device is not yet a member of (a pending request, a group still being created)
need ``client.sync``, which holds the lock while it retries: those are synced in the
background only while the relay is not known to be in trouble.

One sync per target at a time: many page loads while the relay is down start one thread,
not many.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

from vault_client import Client, GroupInfo

from vault_app.device import Device

log = logging.getLogger(__name__)

LONGEST_WAIT: Final = 5.0
"""The longest a page waits for a sync that is neither done nor failing (a slow relay)."""
POLL: Final = 0.05


@dataclass
class Job:
    """One background sync: *errors* holds what went wrong, per group, once *done* is set."""

    done: threading.Event = field(default_factory=threading.Event)
    errors: list[BaseException] = field(default_factory=list)


@dataclass(frozen=True)
class Outcome:
    """What a page learnt from waiting for a sync."""

    synced: bool
    """The sync finished before the page was drawn (the page shows what the relay has)."""
    offline: bool
    """A request to the relay failed: the page shows what is on this computer."""
    errors: tuple[BaseException, ...] = ()


class Refresher:
    """The background syncs of one launch (at most one per target at a time)."""

    def __init__(self, device: Device) -> None:
        self.device = device
        self._lock = threading.Lock()
        self._running: dict[str, Job] = {}

    def start(self, key: str, work: Callable[[Job], None]) -> Job:
        """Run *work* on a thread unless a sync of *key* is running already (then that one)."""
        with self._lock:
            job = self._running.get(key)
            if job is not None:
                return job
            job = Job()
            self._running[key] = job

        def run() -> None:
            try:
                work(job)
            except Exception as error:  # a lock closed the client under us, or worse
                job.errors.append(error)
            finally:
                with self._lock:
                    self._running.pop(key, None)
                job.done.set()

        threading.Thread(target=run, name=f"vault-sync-{key[:12]}", daemon=True).start()
        return job

    def wait(self, key: str, work: Callable[[Job], None]) -> Outcome:
        """Start (or join) the sync of *key*, and wait while it goes well (see the module)."""
        dev = self.device
        failures = dev.retries
        with self._lock:
            running = key in self._running
        job = self.start(key, work)
        if running and dev.relay_trouble():
            # an earlier sync is still retrying an unreachable relay: draw at once
            return Outcome(synced=False, offline=True)
        deadline = time.monotonic() + LONGEST_WAIT
        while not job.done.wait(POLL):
            if dev.retries > failures:
                return Outcome(synced=False, offline=True)
            if time.monotonic() >= deadline:
                return Outcome(synced=False, offline=False)
        return Outcome(synced=True, offline=False, errors=tuple(job.errors))

    def settle(self, timeout: float) -> bool:
        """Wait until no sync is running (at most *timeout* seconds); whether none is."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                jobs = list(self._running.values())
            if not jobs:
                return True
            for job in jobs:
                if not job.done.wait(max(0.0, deadline - time.monotonic())):
                    return False


def sync_one(client: Client, info: GroupInfo, device: Device) -> None:
    """Bring one group up to date (see the module for why ``wait``)."""
    if info.status == "member":
        client.wait(info.group_id, timeout=0)
    elif info.status in ("pending", "creating") and not device.relay_trouble():
        client.sync(info.group_id)


def group_work(client: Client, info: GroupInfo, device: Device) -> Callable[[Job], None]:
    def work(job: Job) -> None:
        sync_one(client, info, device)

    return work


def all_groups_work(client: Client, device: Device) -> Callable[[Job], None]:
    """Every group, each on its own: one group's failure does not stop the others."""

    def work(job: Job) -> None:
        for info in client.groups():
            try:
                sync_one(client, info, device)
            except Exception as error:
                job.errors.append(error)

    return work
