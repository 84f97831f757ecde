"""What this relay process knows of each watched group's newest event: the waiting room.

A request waiting for a group's events (a long-poll, an event stream) *watches* the group:
it waits here, on a bell that rings when the group's event counter (``groups.event_seq``)
is known to have moved past the waiter's cursor. Nothing here reads the database: the
counter is fed by commits of this process and, through :mod:`vault.api.wakeup`, by other
processes' commits and a per-process safety re-read. A waiter costs one entry in a dict
and one wait on an event: with gunicorn's gevent worker (threading monkey-patched), that
is a greenlet, not an OS thread.

Only watched groups have an entry (news of other groups is dropped at once), and a group's
entry stays for :data:`LINGER_S` seconds after its last waiter left (until the first safety
re-read after that, which drops it): a client asks again as
soon as it is answered, and in a small group it is often the group's only waiter in this
process; its entry, kept up to date meanwhile, still vouches for the group's counter then
(:meth:`Watch.nothing_beyond`), so its next long-poll reads nothing. Memory is bounded by
the groups someone waited for in the last :data:`LINGER_S` seconds.

When the process is told to stop (:meth:`News.close`), every waiter stops waiting at once:
it answers what it has, and its client asks again, of a process that is not stopping.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

LINGER_S = 10.0
"""How long a group's entry stays after its last waiter left (longer than a client takes to
ask again; shorter than the wake-up's idle stop, so lingering entries are all gone by then)."""


class _Group:
    __slots__ = ("bell", "confirmed_in", "left_at", "seq", "watchers")

    def __init__(self) -> None:
        self.seq = -1  # nothing known yet: the first waiter reads the counter itself
        self.bell = threading.Event()
        self.watchers = 0
        self.left_at = 0.0  # when the last waiter left (meaningful while watchers == 0)
        # The listener generation in which a re-read confirmed ``seq`` (-1: none, or lowered
        # since): see Watch.nothing_beyond.
        self.confirmed_in = -1


class Watch:
    """One waiter's hold on a group (from :meth:`News.watching`)."""

    def __init__(self, news: News, group: _Group) -> None:
        self._news = news
        self._group = group

    @property
    def known(self) -> int:
        """The newest event number this process knows for the group (-1: none yet)."""
        return self._group.seq

    @property
    def closing(self) -> bool:
        """Whether this process is stopping (then nobody waits here any more)."""
        return self._news.closing

    def wait_beyond(self, after: int, timeout: float) -> bool:
        """Wait until an event after *after* is known, or *timeout* seconds pass, or the
        process is stopping; whether an event is known."""
        deadline = time.monotonic() + timeout
        while True:
            with self._news.lock:
                seq, bell, closing = self._group.seq, self._group.bell, self._news.closing
            if seq > after:
                return True
            if closing:
                return False
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            bell.wait(remaining)

    def nothing_beyond(self, after: int, generation: int) -> bool:
        """Whether this process is sure that the group has no event after *after*, without
        reading the database: a re-read confirmed the counter while the listener of
        *generation* (the current one, >= 0) listened, nothing has lowered it since, and it
        is not beyond *after*. Every commit since that re-read is then either in ``known`` or
        still on its way to this watch, which is already registered, so a waiter may wait at
        once. (A lost signal delays it as it delays every waiter: until the next re-read.)"""
        with self._news.lock:
            group = self._group
            return generation >= 0 and group.confirmed_in == generation and 0 <= group.seq <= after

    def settle(self, seq: int, seen: int) -> None:
        """The database says the counter is *seq*, in a read begun when this watch knew
        *seen* (:attr:`known` just before the read): forget news beyond it, if nothing came
        since. (A signal only follows a commit, so news known before the read that the read
        does not show is not true: without this a bogus number would keep waiters waking,
        or asleep, until the next re-read. News that came during the read may be a commit
        the read began too early to see: it stays, and the waiter reads again.)"""
        self._news.correct(self._group, seq, seen=seen)


class News:
    """Per process: group id -> newest known event number, and the groups' waiters."""

    def __init__(self, *, linger_s: float = LINGER_S,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.lock = threading.Lock()
        self._groups: dict[bytes, _Group] = {}
        self._linger_s = linger_s
        self._clock = clock
        self._waiters = 0
        self._idle_since = clock()
        self.closing = False

    def close(self) -> None:
        """The process is stopping: wake every waiter, and let none wait from now on."""
        with self.lock:
            self.closing = True
            groups = list(self._groups.values())
        for group in groups:
            # (a bell a publish replaced since was set by that publish)
            group.bell.set()

    @contextmanager
    def watching(self, group_id: bytes) -> Iterator[Watch]:
        """Register interest in *group_id* (before reading its counter, so that no news
        committed in between is missed) for the duration of the block."""
        with self.lock:
            group = self._groups.get(group_id)
            if group is None:
                group = self._groups[group_id] = _Group()
            group.watchers += 1
            self._waiters += 1
        try:
            yield Watch(self, group)
        finally:
            with self.lock:
                group.watchers -= 1
                self._waiters -= 1
                if group.watchers == 0:  # it lingers (see watched), still fed with news
                    group.left_at = self._clock()
                if self._waiters == 0:
                    self._idle_since = self._clock()

    def publish(self, group_id: bytes, seq: int) -> None:
        """A commit took event number *seq* in *group_id*: wake its waiters (if any; kept
        for a group someone waited for lately, dropped for others)."""
        with self.lock:
            group = self._groups.get(group_id)
        if group is not None:
            self._publish_to(group, seq)

    def correct(self, group: _Group, seq: int, *, confirmed_in: int = -1,
                seen: int | None = None) -> None:
        """Set a group's number to what the database read says (lowering bogus news).
        *confirmed_in*: the listener generation the read was made in (a re-read's), -1 for
        none. *seen*: the number known when the read began (None: unknown); news that came
        after that may be of a commit the read did not see, so it is lowered only while the
        number is still *seen*. A number above the read's is never confirmed."""
        with self.lock:
            if seq < group.seq:
                if seen is None or group.seq == seen:
                    group.seq = seq
                group.confirmed_in = -1
                return
            group.confirmed_in = confirmed_in
        self._publish_to(group, seq)

    def refreshed(self, groups: dict[bytes, _Group], seqs: dict[bytes, int],
                  generation: int, seen: dict[bytes, int] | None = None) -> None:
        """The safety re-read found *seqs* for the *groups* watched when it began (entries
        made since missed news it cannot vouch for: they are left alone), in listener
        *generation* (-1: none listened); *seen*: each group's number when it began."""
        for group_id, seq in seqs.items():
            group = groups.get(group_id)
            if group is not None:
                self.correct(group, seq, confirmed_in=generation,
                             seen=None if seen is None else seen.get(group_id))

    def _publish_to(self, group: _Group, seq: int) -> None:
        with self.lock:
            if seq <= group.seq:
                return
            group.seq = seq
            bell, group.bell = group.bell, threading.Event()
        bell.set()

    def watched(self) -> dict[bytes, _Group]:
        """The groups this process keeps news of, now: those someone waits for, and those
        whose last waiter left less than the linger time ago (older ones are dropped here;
        the safety re-read calls this every few seconds)."""
        with self.lock:
            gone = self._clock() - self._linger_s
            for group_id in [gid for gid, group in self._groups.items()
                             if group.watchers == 0 and group.left_at < gone]:
                del self._groups[group_id]
            return dict(self._groups)

    def drop_lingering(self) -> None:
        """Forget every group nobody waits for now (news is no longer heard)."""
        with self.lock:
            for group_id in [gid for gid, group in self._groups.items() if not group.watchers]:
                del self._groups[group_id]

    def waiting(self) -> int:
        """How many waiters this process holds."""
        with self.lock:
            return self._waiters

    def idle_for(self) -> float:
        """Seconds since the last waiter left (0 while someone waits)."""
        with self.lock:
            return 0.0 if self._waiters else self._clock() - self._idle_since


def payload(group_id: bytes, seq: int) -> bytes:
    """News as other processes receive it: ``<group id hex>:<event number>``, nothing else."""
    return f"{group_id.hex()}:{seq}".encode("ascii")


def parse_payload(message: bytes) -> tuple[bytes, int] | None:
    """(group id, event number) from :func:`payload`'s bytes; None for anything else."""
    try:
        gid_hex, _, seq_text = message.decode("ascii").partition(":")
        return bytes.fromhex(gid_hex), int(seq_text)
    except (UnicodeDecodeError, ValueError):
        return None
