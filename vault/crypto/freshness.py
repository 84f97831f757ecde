"""Posts and departures: what a member's device concludes from *when* it first received a
post, beyond :func:`~vault.crypto.posts.open_post`'s checks.

A post names the log position its author had verified (``log_seq``) and is sealed under
the epoch in force there. Receivers cannot tell a late post from a backdated one by the
post alone, so each device also keeps, for every post, what it knew when the post first
arrived (an :class:`Arrival`), and judges the post against the verified log with it:

* **Refused**: the author left or was removed at or before ``fence_seq``, the log entry
  this device had verified when it began its last *complete* read of the relay's posts
  before the one that served this post. Every post a member uploaded before departing was
  served by that read, so this one was written after the departure (and dated before):
  only a relay that lets a departed member in can serve it.
* **Late author** (shown, marked): the author departed after ``fence_seq`` but at or before
  ``known_seq`` (the device already knew of the departure when the post first arrived).
  It may have been written before the departure and simply not read yet, or after it:
  the device cannot tell, and says so.
* **Exposed** (shown, marked): former members who may have read a post written on an
  out-of-date view of the group. A member who departed at entry *r* after the post's
  ``log_seq`` held the post's epoch key (they were a member at ``log_seq``); if the post
  was written after *r* (its timestamp is later than that entry's) or first served after
  a complete read that began at or after *r*, its author was shown a log without the
  departure (a relay hiding a removal, or a device offline), and the departed member may
  have read it. The author's own device applies the same rule to its own posts as soon as
  it sees the newer log.

Each rule uses only the verified log and the arrival, so every device that received a
post at the same point judges it the same way; a post retried later (held for a key or a
log head) is judged with the arrival of its first delivery.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Final

from vault.crypto.errors import NotAMemberError

if TYPE_CHECKING:
    from vault.crypto.group_state import GroupState
    from vault.crypto.post_body import PostBody

NOT_KNOWN: Final = -1
"""An :class:`Arrival` field for "nothing": no complete read yet, or no record of it."""


@dataclass(frozen=True)
class Arrival:
    """What a device knew when a post first arrived.

    ``known_seq``: the last entry of the verified log at that moment. ``fence_seq``: the
    entry verified when the last complete read of the relay's posts before this one began
    (:data:`NOT_KNOWN` when there was none). A device's own post arrives when it is
    written (``fence_seq`` :data:`NOT_KNOWN`).
    """

    known_seq: int = NOT_KNOWN
    fence_seq: int = NOT_KNOWN


@dataclass(frozen=True)
class Judgement:
    late_author: bool
    """The author had departed when the post first arrived (after the fence): it may
    have been written after they departed."""
    exposed_to: tuple[bytes, ...]
    """Former members (signing keys, in order of departure) who may have read it."""


def check_not_departed(state: GroupState, body: PostBody, arrival: Arrival) -> None:
    """:class:`NotAMemberError` when the author had departed at or before the fence."""
    record = state.member_record(body.author)
    if record is not None and record.removed_seq is not None \
            and record.removed_seq <= arrival.fence_seq:
        raise NotAMemberError(
            "its author had already left or been removed when this device last read the "
            "group's posts, and it was served only afterwards: it was written after they "
            "departed (and dated before)"
        )


def judge(state: GroupState, body: PostBody, arrival: Arrival) -> Judgement:
    """Mark a post that passed :func:`check_not_departed` (see the module docstring)."""
    record = state.member_record(body.author)
    late = (record is not None and record.removed_seq is not None
            and arrival.fence_seq < record.removed_seq <= arrival.known_seq)
    exposed = []
    for former in state.departed_after(body.log_seq):
        if former.sign_pk == body.author or former.joined_seq > body.log_seq:
            continue  # their own post; or joined after its position, never held its key
        assert former.removed_seq is not None
        written_after = (former.removed_at_ms is not None
                         and body.timestamp_ms > former.removed_at_ms)
        if written_after or former.removed_seq <= arrival.fence_seq:
            exposed.append(former.sign_pk)
    return Judgement(late, tuple(exposed))
