"""What this device knows about one group, in memory: :class:`GroupView`, which every part
of the client reads and the sync engine (:mod:`.sync`) updates, and the posts it holds to
retry (:class:`Held`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from vault.crypto.encoding import b64encode
from vault.crypto.freshness import Arrival
from vault.crypto.group_state import GroupState
from vault.crypto.identity import Identity
from vault.crypto.inbox import OpenedItem
from vault.crypto.log import LogEntry
from vault.crypto.log_entries import HistoryBody
from vault.crypto.log_entries import HistoryPolicy as CorePolicy
from vault.crypto.metadata import MemberProfile
from vault.crypto.post_body import PostBody
from vault.crypto.timeline import Timeline
from vault_client._internal.search import SearchIndex
from vault_client.types import HistoryPolicy

if TYPE_CHECKING:
    from vault_client._internal.drawn import Drawn


@dataclass(frozen=True)
class Held:
    """A post kept to retry (no key for its epoch yet, or a log head this device lacks), with
    what this device knew when it first arrived: a retry is judged as that arrival was."""

    cursor: str | None
    envelope: bytes
    arrival: Arrival


@dataclass
class GroupView:
    """Everything this device knows about one group, in memory."""

    group_id: bytes
    relay_url: str
    status: str
    me: Identity
    state: GroupState | None
    entries: list[bytes]
    local_policy: HistoryPolicy
    """This device's own history policy: the one chosen when it created the group, used
    only while the log holds none (:attr:`policy`)."""
    keys: dict[int, bytes] = field(default_factory=dict)
    timeline: Timeline = field(default_factory=Timeline)
    stubs: dict[bytes, set[int]] = field(default_factory=dict)
    stub_ids: set[bytes] = field(default_factory=set)
    rejected: set[bytes] = field(default_factory=set)
    held: dict[bytes, Held] = field(default_factory=dict)
    arrivals: dict[bytes, Arrival] = field(default_factory=dict)
    """What this device knew when each stored post first arrived (absent: not recorded)."""
    drafts: dict[bytes, PostBody] = field(default_factory=dict)
    """This device's posts as written that could not be sealed yet (see the outbox)."""
    unsent: set[bytes] = field(default_factory=set)
    """This device's posts waiting in the outbox (drafts, and sealed posts not sent yet)."""
    marks: dict[bytes, int] = field(default_factory=dict)
    """Per author, the highest post number the device this identity was imported from had
    seen (empty for an identity made here)."""
    mark_gaps: dict[bytes, list[tuple[int, int]]] = field(default_factory=dict)
    """Holes those marks opened, reported by the next sync unless its posts fill them."""
    issued: set[tuple[int, bytes]] = field(default_factory=set)
    post_cursor: str | None = None
    event_cursor: str | None = None
    inbox: dict[bytes, tuple[int, OpenedItem]] = field(default_factory=dict)
    """The moderators' inbox items sealed to this member that opened here, by item id, with
    the relay's cursor (kept in memory: fetched again from the relay when the client
    opens)."""
    inbox_held: dict[bytes, tuple[int, bytes]] = field(default_factory=dict)
    """Inbox items written on a log position this device has not reached yet: tried again
    at the next read."""
    inbox_cursor: str | None = None
    number: int = 0
    rules_texts: tuple[int, dict[bytes, tuple[str | None, int]]] | None = field(
        default=None, repr=False, compare=False)
    """The rules text of each group METADATA entry readable here, by rules ref, and the log
    length it was read at (see :mod:`.rules`)."""
    names: dict[tuple[bytes, bytes], MemberProfile | None] = field(default_factory=dict)
    """Members' profiles as opened, by (member, envelope)."""
    expiring: dict[bytes, int] = field(default_factory=dict)
    tombstones: set[bytes] = field(default_factory=set)
    fence_seq: int = -1
    """The log entry this device had verified when it began its last complete read of the
    relay's posts (-1: none yet). Every post a member uploaded before leaving or being
    removed was served by the end of that read if the departure is at or before this entry,
    so such a member's post served later was written after they departed (and dated
    before: only a relay that lets them in can serve it).

    With the log's last entry it makes a post's :class:`Arrival`
    (:meth:`arrival_now`)."""
    drawn: Drawn | None = field(default=None, repr=False, compare=False)
    """The last whole drawing of the posts, while it holds (see :mod:`.drawn`)."""
    muted: frozenset[bytes] = frozenset()
    """Members whose posts this device shows collapsed (see :mod:`.muting`)."""
    search_index: SearchIndex = field(default_factory=SearchIndex, repr=False, compare=False)
    """The posts in the form searches compare (see :mod:`.search`), in memory only."""

    def arrival_now(self) -> Arrival:
        assert self.state is not None
        return Arrival(self.state.seq, self.fence_seq)

    @property
    def gid(self) -> str:
        return b64encode(self.group_id)

    @property
    def policy(self) -> HistoryPolicy:
        """The history policy in force: the group's (its last HISTORY entry), else this
        device's own."""
        state = self.state
        if state is not None and state.history is not None:
            return policy_of(state.history)
        return self.local_policy

    def entry(self, seq: int) -> LogEntry:
        return LogEntry.decode(self.entries[seq])

    def joined_seq(self) -> int:
        assert self.state is not None
        record = self.state.member_record(self.me.sign_pk)
        return 0 if record is None else record.joined_seq


def policy_of(body: HistoryBody) -> HistoryPolicy:
    """A HISTORY entry's policy as the SDK names it."""
    if body.policy is CorePolicy.FROM_EPOCH:
        return body.from_epoch
    return {CorePolicy.NONE: "none", CorePolicy.CURRENT: "current",
            CorePolicy.ALL: "all"}[body.policy]  # type: ignore[return-value]


def history_body(policy: HistoryPolicy) -> HistoryBody:
    """The HISTORY entry body that sets *policy* (checked by the caller)."""
    if isinstance(policy, int):
        return HistoryBody(CorePolicy.FROM_EPOCH, policy)
    return HistoryBody({"none": CorePolicy.NONE, "current": CorePolicy.CURRENT,
                        "all": CorePolicy.ALL}[policy])
