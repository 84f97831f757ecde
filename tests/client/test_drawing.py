"""A group drawn whole (``Client.posts``, ``Client.threads``) is kept between drawings and
drawn again when something it shows changes: the member app draws a group for its feed, its
live streams and its unread counts, and in a group of 10,000 posts one drawing costs ~0.15 s.

After each kind of change, what a member's device shows is what a fresh drawing shows."""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from vault_client import Client, PostView
from vault_client import events as ev
from vault_client._internal.drawn import recall

from tests.client.test_newcomers import circle, open_client
from tests.relayproc import RelayProcess
from vault.crypto.encoding import b64decode
from vault.crypto.freshness import Arrival
from vault.crypto.primitives import default_clock
from vault.crypto.timeline import Timeline


def drawn_afresh(client: Client, gid: str) -> list[PostView]:
    client._device.view(gid).drawn = None
    return client.posts(gid)


def test_a_kept_drawing_never_shows_the_group_as_it_was(tmp_path: Path,
                                                       relay_up: RelayProcess) -> None:
    ahead_ms = [0]  # Ben's clock, moved by the test (expiry is judged on his device)

    def bens_clock() -> int:
        return default_clock() + ahead_ms[0]

    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up, clock=bens_clock, retry_for=0.5) as ben:
        gid = circle(ann, ben)

        def shown() -> dict[str, PostView]:
            kept = ben.posts(gid)  # (kept from the last drawing when nothing changed)
            assert kept == drawn_afresh(ben, gid)
            return {p.text: p for p in kept}

        first = ann.post(gid, "first").post_id
        ann.post(gid, "gone in a minute", expires_in=60)
        ben.sync(gid)
        assert set(shown()) == {"first", "gone in a minute"}
        assert ben._device.view(gid).drawn is not None
        assert ben.posts(gid) == ben.posts(gid)  # a kept drawing: the same each time

        ann.edit(gid, first, "first, edited")
        ben.sync(gid)
        assert "first, edited" in shown()

        ann.react(gid, first, "+1")
        ben.sync(gid)
        assert shown()["first, edited"].reactions == (("+1", (ann.me(gid).member_id,)),)

        ann.set_display_name(gid, "Annie")  # the log changes, the posts do not
        ben.sync(gid)
        assert shown()["first, edited"].author_name == "Annie"

        ahead_ms[0] = 120_000  # two minutes on: the passing post is gone from Ben's device
        assert "gone in a minute" not in shown()
        ahead_ms[0] = 0  # the clock set back: shown again, as a fresh drawing shows it
        assert "gone in a minute" in shown()

        relay_up.stop()
        waiting = ben.post(gid, "written on the train")
        assert not waiting.delivered
        assert shown()["written on the train"].unsent
        relay_up.start()
        ben.sync(gid)
        assert not shown()["written on the train"].unsent

        ann.delete(gid, first)
        ben.sync(gid)
        assert "first, edited" not in shown()
        assert [p.deleted for p in ben.posts(gid) if p.post_id == first] == [True]


def test_a_drawing_is_kept_only_while_everything_it_was_drawn_from_is_unchanged(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    """Each input of a drawing, changed alone, makes the next one fresh (in the test above
    most changes move several inputs at once)."""
    with open_client(tmp_path, "ann", relay_up) as ann:
        gid = ann.create_group("Circle", display_name="Ann").group_id
        kept = ann.post(gid, "kept").post_id
        ann.post(gid, "passing", expires_in=60)
        view = ann._device.view(gid)
        drawing = ann.posts(gid)
        assert view.drawn is not None
        now = view.drawn.drawn_at_ms
        body = view.timeline.get(b64decode(kept))
        assert body is not None
        assert recall(view, now) == drawing

        timeline, revision, state, me = view.timeline, view.timeline.revision, view.state, view.me
        other = b"\x01" * 16
        same_count = Timeline()  # another timeline, as many changes old
        same_count._revision = revision
        changes: list[tuple[str, Callable[[], object], Callable[[], object]]] = [
            ("the timeline", lambda: setattr(view, "timeline", same_count),
             lambda: setattr(view, "timeline", timeline)),
            ("its posts", lambda: setattr(timeline, "_revision", revision + 1),
             lambda: setattr(timeline, "_revision", revision)),
            ("the log's state", lambda: setattr(view, "state", replace(state)),
             lambda: setattr(view, "state", state)),
            ("the identity", lambda: setattr(view, "me", copy.copy(me)),
             lambda: setattr(view, "me", me)),
            ("an arrival", lambda: view.arrivals.__setitem__(other, Arrival()),
             lambda: view.arrivals.pop(other)),
            ("a draft", lambda: view.drafts.__setitem__(other, body.body),
             lambda: view.drafts.pop(other)),
            ("the unsent posts", lambda: view.unsent.add(other),
             lambda: view.unsent.discard(other)),
            ("the epoch keys", lambda: view.keys.__setitem__(99, bytes(32)),
             lambda: view.keys.pop(99)),
        ]
        for what, change, undo in changes:
            change()
            assert recall(view, now) is None, what
            undo()
            assert recall(view, now) == drawing, what
        first_draft, second_draft = b"\x02" * 16, b"\x03" * 16
        view.drafts[first_draft] = view.drafts[second_draft] = body.body
        ann.posts(gid)  # drawn with two drafts, in that order (the order they are shown in)
        assert view.drawn is not None and recall(view, view.drawn.drawn_at_ms) is not None
        view.drafts[first_draft] = view.drafts.pop(first_draft)  # the same drafts, reordered
        assert recall(view, view.drawn.drawn_at_ms) is None, "the drafts' order"
        del view.drafts[first_draft], view.drafts[second_draft]
        assert ann.posts(gid) == drawing

        assert recall(view, now - 1) is None  # a clock set back
        (expires,) = [p.expires_at_ms for p in drawing if p.text == "passing"]
        assert expires is not None
        assert recall(view, expires - 1) == drawing
        assert recall(view, expires) is None  # "passing" has expired


def test_a_sync_that_brings_most_of_the_group_leaves_it_drawn(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    """A first sync brings the whole group: its NewPost events carry the posts as a fresh
    drawing shows them, and that drawing is kept for the screen that shows the group next.
    A sync that brings one post of many draws just that one."""
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = ann.create_group("Circle", display_name="Ann").group_id
        for i in range(6):
            ann.post(gid, f"post {i}")
        result = ben.join(ann.create_invite(gid).uri)
        ann.approve(gid, result.member_id, share_history="all")
        events = [e for report in ben.sync(gid) for e in report.events
                  if isinstance(e, ev.NewPost)]
        view = ben._device.view(gid)
        assert view.drawn is not None
        kept = recall(view, view.drawn.drawn_at_ms)
        assert kept is not None  # drawn whole by the sync, and still holding
        afresh = drawn_afresh(ben, gid)
        assert kept == afresh
        assert [e.post for e in events] == afresh and len(afresh) == 6

        ann.post(gid, "one more")
        (report,) = ben.sync(gid)
        (new,) = [e for e in report.events if isinstance(e, ev.NewPost)]
        assert new.post == drawn_afresh(ben, gid)[-1]
        ann.post(gid, "and another")
        before = view.drawn
        ben.sync(gid)
        assert view.drawn is before  # one new post of eight: drawn alone, nothing kept
        assert recall(view, default_clock()) is None
