"""The backup file just made, kept in this process's memory only until the person downloads
it: the page that shows the twelve words (once: they are kept nowhere) offers the file under
a random token, in a form field, never in an address.

One backup is kept at a time: a new one replaces it. It is found again only by the browser
session that made it, and every lock of the device forgets it (:meth:`PendingBackup.forget`
is a lock listener; the panic wipe locks first), so the file never outlives the unlocked
keystore it came from. It may be downloaded more than once (a second copy, on another
stick) until then.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass, replace

from vault_client import BackupMade

from vault_app.security import same_text


@dataclass(frozen=True, repr=False)
class Kept:
    """A backup file waiting to be downloaded."""

    token: str
    session_id: str
    made: BackupMade

    @property
    def data(self) -> bytes:
        return self.made.data

    @property
    def made_at_ms(self) -> int:
        return self.made.made_at_ms

    def __repr__(self) -> str:
        return f"Kept({self.made!r})"


class PendingBackup:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: Kept | None = None

    def keep(self, session_id: str, made: BackupMade) -> str:
        """Keep *made*'s file (replacing any backup kept before), without its words; the
        token that finds it again."""
        token = secrets.token_urlsafe(24)
        with self._lock:
            self._kept = Kept(token, session_id, replace(made, recovery_phrase=""))
        return token

    def find(self, token: str, session_id: str) -> Kept | None:
        """The backup *token* names, if this session made it and it is still kept."""
        with self._lock:
            kept = self._kept
        if kept is None or not same_text(token, kept.token) \
                or not same_text(session_id, kept.session_id):
            return None
        return kept

    def forget(self) -> None:
        with self._lock:
            self._kept = None
