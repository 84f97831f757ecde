"""Which posts the person has seen, per group, for the unread counts on the groups list.

The SDK does not track reading, so the app keeps its own small file in the home,
``app-seen.json``, owner-only. It holds group ids and post ids (the relay knows both, and
the SDK's local store keeps them in clear too), never content or names. Seeing a group
replaces its set with the posts on screen, so the file never grows beyond the posts a
group has. Panic wipe destroys it with the rest.
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable
from typing import Any, Final

from vault_client import PostView, Thread

FILE_NAME: Final = "app-seen.json"


def visible_posts(threads: Iterable[Thread]) -> list[PostView]:
    return [post for thread in threads for post in (thread.root, *thread.replies)]


class SeenPosts:
    """The seen-post sets, read from and written to ``app-seen.json`` in *home*."""

    def __init__(self, home: str) -> None:
        self.path = os.path.join(home, FILE_NAME)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, list[str]]:
        try:
            with open(self.path, encoding="utf-8") as handle:
                data: Any = json.load(handle)
        except (OSError, ValueError):
            return {}  # none yet, or damaged: everything counts as unread, nothing breaks
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, dict):
            return {}
        return {str(gid): [str(p) for p in ids] for gid, ids in groups.items()
                if isinstance(ids, list)}

    def unread(self, group_id: str, threads: Iterable[Thread]) -> int:
        """Posts and replies by others, not deleted, that the person has not seen."""
        with self._lock:
            seen = set(self._read().get(group_id, ()))
        return sum(1 for post in visible_posts(threads)
                   if not post.is_mine and not post.deleted and post.post_id not in seen)

    def mark_seen(self, group_id: str, threads: Iterable[Thread]) -> None:
        ids = sorted(post.post_id for post in visible_posts(threads))
        with self._lock:
            groups = self._read()
            if groups.get(group_id) == ids:
                return
            groups[group_id] = ids
            self._write(groups)

    def forget(self, group_ids: Iterable[str] = ()) -> None:
        with self._lock:
            groups = self._read()
            for gid in group_ids:
                groups.pop(gid, None)
            self._write(groups)

    def _write(self, groups: dict[str, list[str]]) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        temporary = self.path + ".tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"version": 1, "groups": groups}, handle)
        os.replace(temporary, self.path)

    def destroy(self) -> None:
        """Overwrite and remove the file (panic wipe)."""
        with self._lock:
            for path in (self.path, self.path + ".tmp"):
                with contextlib.suppress(OSError):
                    size = os.path.getsize(path)
                    with open(path, "r+b") as handle:
                        handle.write(b"\0" * size)
                        handle.flush()
                        os.fsync(handle.fileno())
                    os.remove(path)
