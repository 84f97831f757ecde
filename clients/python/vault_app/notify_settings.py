"""Which groups' notifications the member turned off, on this device only.

The browser shows a notification ("New post in Tuesday circle": the group's name, never who
wrote or what) when a post arrives in a group whose page is open in a tab the person is not
looking at, once they allowed it (the browser asks). A group can be left out: its id is kept
in the home's ``app-notify.json`` (owner-only, overwritten and removed by the panic wipe),
as :mod:`vault_app.shown_warnings` keeps its warnings."""

from __future__ import annotations

from typing import Final

from vault_app.group_file import GroupListsFile

FILE_NAME: Final = "app-notify.json"
_OFF: Final = "off"


class NotifySettings(GroupListsFile):
    def __init__(self, home: str) -> None:
        super().__init__(home, FILE_NAME)

    def enabled(self, group_id: str) -> bool:
        with self._lock:
            return _OFF not in self._read().get(group_id, ())

    def set_enabled(self, group_id: str, on: bool) -> None:
        with self._lock:
            groups = self._read()
            if on:
                groups.pop(group_id, None)
            else:
                groups[group_id] = [_OFF]
            self._write(groups)
