"""The searches made in this launch, kept in this process's memory only, so that a page of
results has an address without the words in it: the search form is POSTed, and answered with
a redirect to ``/groups/<id>/search?r=TOKEN`` (a random token). The browser's Back button
then shows the results again instead of asking to send the form again, and neither its
history nor any address holds what was searched for.

A search is found again only by the browser session that made it, in its group; every lock
of the device forgets them all (:meth:`RecentSearches.forget_all` is a lock listener), and
only the last :data:`MOST` are kept.
"""

from __future__ import annotations

import hmac
import secrets
import threading
from collections import OrderedDict
from dataclasses import dataclass
from typing import Final

MOST: Final = 20


@dataclass(frozen=True)
class _Search:
    session_id: str
    group_id: str
    query: str


class RecentSearches:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._kept: OrderedDict[str, _Search] = OrderedDict()

    def keep(self, session_id: str, group_id: str, query: str) -> str:
        """Keep a search; the token that finds it again."""
        token = secrets.token_urlsafe(16)
        with self._lock:
            self._kept[token] = _Search(session_id, group_id, query)
            while len(self._kept) > MOST:
                self._kept.popitem(last=False)
        return token

    def find(self, token: str, session_id: str, group_id: str) -> str | None:
        """The words of the search *token* names, if this session made it in this group."""
        with self._lock:
            found = self._kept.get(token)
        if found is None or found.group_id != group_id \
                or not hmac.compare_digest(found.session_id, session_id):
            return None
        return found.query

    def forget_all(self) -> None:
        with self._lock:
            self._kept.clear()
