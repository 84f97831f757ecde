"""Search over the posts this device has decrypted, on this device only.

Nothing searchable leaves the device or reaches its disk: the words are matched against the
posts as :func:`.views.post_views` draws them (edits applied, deleted and expired posts
gone), and the lowered form of each post is kept in memory only (:class:`SearchIndex`, on
the group's view), dropped with the view when the client closes or is locked.

Matching is what a person expects of a search box: every word must appear (in any order),
at the start of a word of the post ("walk" finds "walking", "art" does not find "heart"); a
"quoted phrase" (straight or typographic quotes) must appear as written. Case, accents,
punctuation and how words are spaced do not matter ("cafe" finds "Café!", "STRASSE" finds
"Straße", "lodz" finds "Łódź"). A post matches on its text (a poll's question), its content
warning, its attachments' file names and a poll's options.
"""

from __future__ import annotations

import heapq
import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from operator import attrgetter
from typing import Final

from vault_client.errors import InvalidArgumentError
from vault_client.types import PostView

MAX_QUERY: Final = 200
"""Characters in a search (longer is refused: nobody types that into a search box)."""

_QUOTES: Final = "\"\u201c\u201d\u201e\u00ab\u00bb"  # " “ ” „ « »
_TERM: Final = re.compile(f"[{_QUOTES}]([^{_QUOTES}]*)[{_QUOTES}]?|([^\\s{_QUOTES}]+)")
_NOT_WORD: Final = re.compile(r"[\W_]+")
_LETTERS: Final = str.maketrans({
    # Latin letters that no decomposition takes apart.
    "ł": "l", "ø": "o", "đ": "d", "ħ": "h", "\u0131": "i", "ŧ": "t", "ŀ": "l",
    "æ": "ae", "œ": "oe", "þ": "th", "ð": "d",
    # Invisible characters that would split a word: soft hyphen, zero-width ones.
    "\u00ad": None, "\u200b": None, "\u200c": None, "\u200d": None, "\u2060": None,
    "\ufeff": None,
})
_KEPT_MARKS: Final = frozenset("\u3099\u309a")  # kana voicing marks: パ is not ハ
_ASCII_BREAKS: Final = str.maketrans({c: " " for c in map(chr, range(128)) if not c.isalnum()})


def fold(text: str) -> str:
    """*text* as searches compare it: compatibility-decomposed and case-folded, without
    accents (combining marks) or punctuation, its words separated by one space."""
    if text.isascii():  # (most posts: a table, twice as fast, and the same answer)
        return " ".join(text.lower().translate(_ASCII_BREAKS).split())
    return _fold_any(text)


def _fold_any(text: str) -> str:
    folded = unicodedata.normalize(
        "NFKD", unicodedata.normalize("NFKD", text).casefold()).translate(_LETTERS)
    bare = "".join(c for c in folded if c in _KEPT_MARKS or not unicodedata.combining(c))
    # (composed again, so a kept mark stays part of its letter, not a word break)
    return _NOT_WORD.sub(" ", unicodedata.normalize("NFC", bare)).strip()


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
    # Each field starts with a space (a term matches at a word start: " " + term), and the
    # fields are joined by a line break, which no folded term holds: a phrase never spans
    # two fields.
    parts = [fold(post.text)]
    if post.content_warning is not None:
        parts.append(fold(post.content_warning))
    parts.extend(fold(a.file_name) for a in post.attachments if a.file_name)
    if post.poll is not None:
        parts.extend(fold(option) for option in post.poll.options)
    return " " + " \n ".join(parts)


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
    """The posts holding every one of the *wanted* terms (from :func:`terms`), each at the
    start of a word, newest first: the group's drawing (*posts*, in causal order) read
    backwards (*drawing*: see :meth:`SearchIndex.refresh`)."""
    starts = [" " + term for term in wanted]
    entries = index.refresh(posts, drawing)
    if len(starts) == 1:
        (start,) = starts
        found = [post for post, text in entries if start in text]
    else:
        found = [post for post, text in entries if all(s in text for s in starts)]
    found.reverse()
    return found


def newest_first(groups: Sequence[list[PostView]], limit: int | None = None) -> list[PostView]:
    """Several groups' results (each newest first, from :func:`matching`) as one list,
    newest first, at most *limit*. Within a group the order stays the group's causal
    order: a post dated in the future by its author's clock does not rise above the posts
    written after it; across groups, the posts' own times decide."""
    merged = heapq.merge(*groups, key=attrgetter("created_at_ms"), reverse=True)
    return list(merged if limit is None else itertools.islice(merged, limit))
