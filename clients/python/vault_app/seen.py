"""Which posts the person has seen, per group, for the unread counts on the groups list.

The SDK does not track reading, so the app keeps its own small file in the home,
``app-seen.json``, owner-only. It holds group ids and post ids (the relay knows both, and
the SDK's local store keeps them in clear too), never content or names. Seeing a group
replaces its set with the posts on screen, so the file never grows beyond the posts a
group has. Panic wipe destroys it with the rest.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from vault_client import PostView, Thread

from vault_app.group_file import GroupListsFile

FILE_NAME: Final = "app-seen.json"


def visible_posts(threads: Iterable[Thread]) -> list[PostView]:
    return [post for thread in threads for post in (thread.root, *thread.replies)]


class SeenPosts(GroupListsFile):
    """The seen-post sets, read from and written to ``app-seen.json`` in *home*."""

    def __init__(self, home: str) -> None:
        super().__init__(home, FILE_NAME)

    def unread(self, group_id: str, threads: Iterable[Thread]) -> int:
        """Posts and replies by others, not deleted, that the person has not seen."""
        with self._lock:
            seen = set(self._read().get(group_id, ()))
        return sum(1 for post in visible_posts(threads)
                   if not post.is_mine and not post.deleted and post.post_id not in seen)

    def mark_seen(self, group_id: str, threads: Iterable[Thread],
                  every: Iterable[Thread] | None = None) -> None:
        """The posts of *threads* (one channel's, shown) are seen; of those seen before,
        the ones still in *every* (the whole group's threads) stay seen. Without *every*,
        *threads* are the whole group."""
        shown = {post.post_id for post in visible_posts(threads)}
        still = shown if every is None else {post.post_id for post in visible_posts(every)}
        with self._lock:
            groups = self._read()
            before = set(groups.get(group_id, ())) & still
            ids = sorted(before | shown)
            if groups.get(group_id) == ids:
                return
            groups[group_id] = ids
            self._write(groups)
