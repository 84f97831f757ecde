"""Content warnings a member chose to always see opened, per group, on this device only.

A post with a content warning is shown closed ("Show" opens it). A member may say, for one
group, "always show posts with this warning": posts whose warning matches one of theirs are
then shown open. The SDK keeps no such preference, so the app keeps its own small file in
the home, ``app-warnings.json``, owner-only, as :mod:`vault_app.seen` does. Unlike that
file it holds words other members wrote (the warnings), so it is written only when the
member asks, never grows past :data:`MAX_PER_GROUP` a group, and the panic wipe overwrites
and removes it with the rest.

Two warnings match when they are the same words, ignoring case and spacing: "Self harm"
matches "self  harm", not "self-harm".
"""

from __future__ import annotations

from typing import Final

from vault_app.group_file import GroupListsFile

FILE_NAME: Final = "app-warnings.json"
MAX_PER_GROUP: Final = 50
MAX_WARNING: Final = 512
"""The protocol's longest content warning, in bytes; nothing longer is ever stored."""


def warning_key(warning: str) -> str:
    """What two warnings must share to match."""
    return " ".join(warning.casefold().split())


class ShownWarnings(GroupListsFile):
    """The always-shown warnings, read from and written to ``app-warnings.json``."""

    def __init__(self, home: str) -> None:
        super().__init__(home, FILE_NAME)

    def _read(self) -> dict[str, list[str]]:
        # (a damaged file reads as none: every warning is shown closed, nothing breaks)
        return {gid: texts[:MAX_PER_GROUP] for gid, texts in super()._read().items()}

    def for_group(self, group_id: str) -> list[str]:
        """The warnings shown open in *group_id*, as the member saved them."""
        with self._lock:
            return list(self._read().get(group_id, ()))

    def matcher(self, group_id: str) -> frozenset[str]:
        return frozenset(warning_key(w) for w in self.for_group(group_id))

    def add(self, group_id: str, warning: str) -> bool:
        """Always show *warning* in *group_id*; False when it cannot be kept (empty, too
        long, or the group has too many already)."""
        warning = " ".join(warning.split())
        if not warning or len(warning.encode("utf-8", "surrogatepass")) > MAX_WARNING:
            return False
        with self._lock:
            groups = self._read()
            texts = groups.setdefault(group_id, [])
            if warning_key(warning) in {warning_key(w) for w in texts}:
                return True
            if len(texts) >= MAX_PER_GROUP:
                return False
            texts.append(warning)
            self._write(groups)
        return True

    def remove(self, group_id: str, warning: str) -> None:
        key = warning_key(warning)
        with self._lock:
            groups = self._read()
            texts = [w for w in groups.get(group_id, []) if warning_key(w) != key]
            if texts:
                groups[group_id] = texts
            else:
                groups.pop(group_id, None)
            self._write(groups)
