"""The last whole drawing of a group's posts (:func:`.views.post_views`), kept while nothing
it was drawn from has changed.

The member app draws a group whole for its feed, for each live stream's check and for the
unread counts of the groups list; in a group of 10,000 posts one drawing costs about 0.15 s of
CPU. A kept drawing is used only when every input of the drawing is the same object or equal
to what it was: the timeline (and its revision), the log's state, this device's identity, the
arrival marks, the drafts and unsent posts, the epoch keys (which decide the names shown),
the members muted on this device, and a clock inside the window in which no drawn post
expires. Anything else draws afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from vault.crypto.freshness import Arrival
from vault.crypto.group_state import GroupState
from vault.crypto.identity import Identity
from vault.crypto.post_body import PostBody
from vault.crypto.timeline import Timeline
from vault_client.types import PostView

if TYPE_CHECKING:
    from vault_client._internal.group_view import GroupView


@dataclass(frozen=True)
class Drawn:
    timeline: Timeline
    revision: int
    state: GroupState
    me: Identity
    arrivals: dict[bytes, Arrival]
    drafts: tuple[tuple[bytes, PostBody], ...]  # in order: drafts are drawn in this order
    unsent: frozenset[bytes]
    keys: dict[int, bytes]
    muted: frozenset[bytes]
    drawn_at_ms: int
    until_ms: int | None
    """The first expiry after ``drawn_at_ms`` among the posts drawn (None: none expires)."""
    posts: tuple[PostView, ...]


def recall(view: GroupView, now_ms: int) -> list[PostView] | None:
    """The kept drawing of *view* if it still holds at *now_ms*, else None."""
    kept = view.drawn
    if kept is None:
        return None
    holds = (view.timeline is kept.timeline and view.timeline.revision == kept.revision
             and view.state is kept.state and view.me is kept.me
             and kept.drawn_at_ms <= now_ms  # a clock set back may show expired posts again
             and (kept.until_ms is None or now_ms < kept.until_ms)
             and view.unsent == kept.unsent and view.keys == kept.keys
             and view.muted == kept.muted
             and tuple(view.drafts.items()) == kept.drafts and view.arrivals == kept.arrivals)
    return list(kept.posts) if holds else None


def remember(view: GroupView, now_ms: int, posts: list[PostView], until_ms: int | None) -> None:
    """Keep *posts*, just drawn from *view* at *now_ms*, for :func:`recall`."""
    assert view.state is not None
    view.drawn = Drawn(view.timeline, view.timeline.revision, view.state, view.me,
                       dict(view.arrivals), tuple(view.drafts.items()), frozenset(view.unsent),
                       dict(view.keys), view.muted, now_ms, until_ms, tuple(posts))
