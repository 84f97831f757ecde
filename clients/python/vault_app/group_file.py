"""A small owner-only JSON file in the home holding, per group id, a list of strings: what
the app keeps that the SDK does not (seen posts, always-shown warnings). Written whole
through a temporary file and a rename; a missing or damaged file reads as empty (nothing
breaks, the app only forgets a preference); the panic wipe overwrites and removes it."""

from __future__ import annotations

import contextlib
import json
import os
import threading
from collections.abc import Iterable
from typing import Any


class GroupListsFile:
    """``{"version": 1, "groups": {group id: [string, ...]}}`` in ``home/file_name``."""

    def __init__(self, home: str, file_name: str) -> None:
        self.path = os.path.join(home, file_name)
        self._lock = threading.Lock()

    def _read(self) -> dict[str, list[str]]:
        """Every group's list (strings only; anything else in the file is dropped)."""
        try:
            with open(self.path, encoding="utf-8") as handle:
                data: Any = json.load(handle)
        except (OSError, ValueError):
            return {}
        groups = data.get("groups") if isinstance(data, dict) else None
        if not isinstance(groups, dict):
            return {}
        return {str(gid): [item for item in items if isinstance(item, str)]
                for gid, items in groups.items() if isinstance(items, list)}

    def _write(self, groups: dict[str, list[str]]) -> None:
        os.makedirs(os.path.dirname(self.path), mode=0o700, exist_ok=True)
        temporary = self.path + ".tmp"
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump({"version": 1, "groups": groups}, handle)
        os.replace(temporary, self.path)

    def forget(self, group_ids: Iterable[str] = ()) -> None:
        with self._lock:
            groups = self._read()
            for gid in group_ids:
                groups.pop(gid, None)
            self._write(groups)

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
