"""Search over the posts this device has decrypted, on this device only.

Nothing searchable leaves the device or reaches its disk: the words are matched against the
posts as :func:`.views.post_views` draws them (edits applied, deleted and expired posts
gone), and the lowered form of each post is kept in memory only (:class:`SearchIndex`, on
the group's view), dropped with the view when the client closes or is locked.

Matching is what a person expects of a search box: every word must appear (in any order),
a "quoted phrase" must appear as written; case and accents do not matter ("cafe" finds
"Café", "STRASSE" finds "Straße"), nor does how words are spaced. A post matches on its
text, its content warning and its attachments' file names.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Final

from vault_client.errors import InvalidArgumentError
from vault_client.types import PostView

MAX_QUERY: Final = 200
"""Characters in a search (longer is refused: nobody types that into a search box)."""

_TERM: Final = re.compile(r'"([^"]*)"|([^\s"]+)')


def fold(text: str) -> str:
    """*text* as searches compare it: compatibility-decomposed, case-folded, without
    accents (combining marks), its runs of white space one space."""
    if text.isascii():
        return " ".join(text.lower().split())
    folded = unicodedata.normalize("NFKD", unicodedata.normalize("NFKD", text).casefold())
    return " ".join("".join(c for c in folded if not unicodedata.combining(c)).split())


def terms(query: str) -> tuple[str, ...]:
    """The words and "quoted phrases" of *query*, folded, each once, in order.

    An empty query (or one of quotes and spaces only), or one longer than
    :data:`MAX_QUERY` characters: :class:`InvalidArgumentError`."""
    if len(query) > MAX_QUERY:
        raise InvalidArgumentError(
            f"a search is at most {MAX_QUERY} characters: use fewer or shorter words")
    found: list[str] = []
    for phrase, word in _TERM.findall(query):
        term = fold(phrase or word)
        if term and term not in found:
            found.append(term)
    if not found:
        raise InvalidArgumentError("give at least one word to search for")
    return tuple(found)


def _haystack(post: PostView) -> str:
    # Fields joined by a line break, which no folded term holds: a phrase never spans two.
    parts = [fold(post.text)]
    if post.content_warning is not None:
        parts.append(fold(post.content_warning))
    parts.extend(fold(a.file_name) for a in post.attachments if a.file_name)
    return "\n".join(parts)


@dataclass
class SearchIndex:
    """One group's posts in folded form, by post id, each with what it was folded from: a
    post is folded again only when its text, content warning or attachments change. Within
    one drawing of the group (the same :class:`~.drawn.Drawn`), nothing is checked again."""

    folded: dict[str, tuple[PostView, str]] = field(default_factory=dict)
    drawing: object | None = None
    entries: list[tuple[PostView, str]] = field(default_factory=list)

    def refresh(self, posts: Iterable[PostView],
                drawing: object | None = None) -> list[tuple[PostView, str]]:
        """Each of *posts* (the deleted left out) with its folded form; the index then holds
        these posts only. *drawing*: what *posts* were drawn as (the same object again:
        the same posts, and the folded forms are returned as they are)."""
        if drawing is not None and drawing is self.drawing:
            return self.entries
        kept = self.folded
        fresh: dict[str, tuple[PostView, str]] = {}
        for post in posts:
            if post.deleted:
                continue
            old = kept.get(post.post_id)
            if old is not None and (old[0] is post or _same_words(old[0], post)):
                fresh[post.post_id] = (post, old[1])
            else:
                fresh[post.post_id] = (post, _haystack(post))
        self.folded, self.drawing = fresh, drawing
        self.entries = list(fresh.values())
        return self.entries


def _same_words(old: PostView, new: PostView) -> bool:
    return (old.text == new.text and old.content_warning == new.content_warning
            and old.attachments == new.attachments)


def matching(index: SearchIndex, posts: Iterable[PostView], wanted: tuple[str, ...],
             drawing: object | None = None) -> list[PostView]:
    """The posts holding every one of the *wanted* terms (from :func:`terms`), in the
    order given (*drawing*: see :meth:`SearchIndex.refresh`)."""
    if len(wanted) == 1:
        (term,) = wanted
        return [post for post, text in index.refresh(posts, drawing) if term in text]
    return [post for post, text in index.refresh(posts, drawing)
            if all(t in text for t in wanted)]


def newest_first(posts: Iterable[PostView], limit: int | None = None) -> list[PostView]:
    """*posts* newest first (by when their authors wrote them), at most *limit*."""
    ordered = sorted(posts, key=attrgetter("created_at_ms", "post_id"), reverse=True)
    return ordered if limit is None else ordered[:limit]
