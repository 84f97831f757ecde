"""Searching the posts on one's own device (``Client.search``): what a member types into a
search box finds what they expect, in one group or all of them, and nothing of it leaves the
device or reaches its disk."""

from __future__ import annotations

import sqlite3
import string
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

import pytest
from vault_client import AttachmentInfo, PostView
from vault_client._internal import search
from vault_client.errors import InvalidArgumentError, LocalStoreError

from tests.client.test_newcomers import circle, open_client
from tests.relayproc import RelayProcess
from vault.crypto.primitives import default_clock


def texts(posts: list[PostView]) -> list[str]:
    return [p.text for p in posts]


# --- what a query means ------------------------------------------------------------------------


def test_folding_ignores_case_accents_width_punctuation_and_spacing() -> None:
    assert search.fold("Café!  au\tLAIT,\n") == "cafe au lait"
    assert search.fold("Straße") == "strasse"
    full_width = "\uff26\uff35\uff2c\uff2c \uff57\uff49\uff44\uff54\uff48"
    assert search.fold(full_width) == "full width"  # compatibility forms
    assert search.fold("ﬁnally") == "finally"  # a ligature
    assert search.fold("İstanbul") == "istanbul"  # the dot a case fold leaves behind
    assert search.fold("Ελπίδα") == "ελπιδα"
    assert search.fold("Łódź, Ærø") == "lodz aero"  # letters no decomposition takes apart
    assert search.fold("sup\u00adport gr\u200boup") == "support group"  # invisible breaks
    assert search.fold("don't (really)") == "don t really"
    assert search.fold("パパ") != search.fold("ハハ")  # kana voicing marks are letters


@pytest.mark.parametrize("text", [string.printable, "a_b-c", "  Tab\tNew\nline  ", "x", "",
                                  "don't (stop) [now]: ok?!", "\x00\x1f\x7f mixed"])
def test_the_ascii_shortcut_folds_as_the_general_rule_does(text: str) -> None:
    assert search.fold(text) == search._fold_any(text)


def test_terms_are_words_and_quoted_phrases_each_once() -> None:
    assert search.terms('Tuesday  "the   CIRCLE" tuesday, café') == (
        "tuesday", "the circle", "cafe")
    assert search.terms('"unclosed phrase') == ("unclosed phrase",)
    # Typographic quotes, as phones and word processors type them.
    assert search.terms("\u201ctuesday circle\u201d \u00abciao bella\u00bb") == (
        "tuesday circle", "ciao bella")
    assert search.terms("x" * search.MAX_QUERY) == ("x" * search.MAX_QUERY,)


@pytest.mark.parametrize("query", ["", "   ", '""', '" "', "\t\n", "?!", "\U0001f49c"])
def test_a_query_without_words_is_refused(query: str) -> None:
    with pytest.raises(InvalidArgumentError, match="at least one word"):
        search.terms(query)


def test_an_overlong_query_is_refused() -> None:
    with pytest.raises(InvalidArgumentError, match="at most 200 characters"):
        search.terms("x" * (search.MAX_QUERY + 1))


def _post(post_id: str, text: str, *, cw: str | None = None, at: int = 0,
          files: tuple[str, ...] = (), deleted: bool = False) -> PostView:
    attachments = tuple(AttachmentInfo(f"a{i}", "text/plain", 10, name, ref=cast(Any, None))
                        for i, name in enumerate(files))
    return PostView(post_id=post_id, group_id="g", author="a", author_name=None,
                    kind="post", reply_to=None, text=text, content_warning=cw,
                    attachments=attachments, created_at_ms=at, edited_at_ms=None,
                    deleted=deleted, reactions=(), expires_at_ms=None, is_mine=False)


def test_every_term_must_start_a_word_in_text_warning_or_file_names() -> None:
    posts = [
        _post("1", "Went to the Tuesday circle, felt heard"),
        _post("2", "the circle on tuesday was hard", cw="grief"),
        _post("3", "photos", files=("Tuesday circle.jpg", "")),
        _post("4", "tuesday", deleted=True),
        _post("5", "circle\ntuesday"),
        _post("6", "Tuesdays; circles!"),
    ]
    index = search.SearchIndex()

    def found(query: str) -> list[str]:
        return [p.post_id for p in search.matching(index, posts, search.terms(query))]

    assert found("tuesday circle") == ["6", "5", "3", "2", "1"]  # newest (last drawn) first
    assert found("GRIEF") == ["2"]
    assert found('"tuesday circle"') == ["3", "1"]
    assert found("heard") == ["1"] and found("ear") == [] and found("ard") == []
    # A phrase never spans two fields (text | warning | each file name).
    assert found('"hard grief"') == []
    assert found("tuesday wednesday") == []


def test_the_index_folds_a_post_again_only_when_its_words_change() -> None:
    index = search.SearchIndex()
    first = _post("1", "old words")
    search.matching(index, [first], ("old",))
    kept = index.folded["1"][1]
    redrawn = replace(first, reactions=(("+1", ("b",)),))  # a reaction: same words
    assert search.matching(index, [redrawn], ("old",)) == [redrawn]
    assert index.folded["1"][1] is kept
    edited = replace(first, text="new words", edited_at_ms=5)
    assert search.matching(index, [edited], ("old",)) == []
    assert search.matching(index, [edited], ("new",)) == [edited]
    assert search.matching(index, [], ("new",)) == []
    assert index.folded == {}  # a post no longer drawn is no longer held


def test_the_same_drawing_is_not_checked_again_and_another_one_is() -> None:
    index = search.SearchIndex()
    drawing, other = object(), object()
    posts = [_post("1", "old words")]
    assert search.matching(index, posts, ("old",), drawing) == posts
    # The same drawing object: its posts are known (what is passed is not even read).
    assert search.matching(index, [], ("old",), drawing) == posts
    edited = [replace(posts[0], text="new words")]
    assert search.matching(index, edited, ("old",), other) == []
    assert search.matching(index, edited, ("new",), other) == edited


def test_groups_merge_newest_first_and_a_groups_own_order_stays() -> None:
    # Group one's results, newest first in its causal order: "late" came after "early",
    # although its author's clock dated it earlier. That order stays; the groups' results
    # interleave by their times.
    one = [_post("late", "x", at=1), _post("early", "x", at=9)]
    two = [_post("b", "x", at=5), _post("a", "x", at=2)]
    assert [p.post_id for p in search.newest_first([one, two])] == ["b", "a", "late", "early"]
    assert [p.post_id for p in search.newest_first([two, one], 3)] == ["b", "a", "late"]
    three = [_post("c", "x", at=7)]
    assert [p.post_id for p in search.newest_first([two, three])] == ["c", "b", "a"]
    assert search.newest_first([]) == []


# --- through the SDK, against a real relay -----------------------------------------------------


def test_a_member_finds_posts_on_their_device_only(tmp_path: Path,
                                                  relay_up: RelayProcess) -> None:
    ahead_ms = [0]  # Ben's clock, moved by the test (expiry is judged on his device)

    def bens_clock() -> int:
        return default_clock() + ahead_ms[0]

    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up, clock=bens_clock) as ben:
        gid = circle(ann, ben)
        other = ann.create_group("Walks", display_name="Ann").group_id
        first = ann.post(gid, "See you at the Tuesday circle").post_id
        ann.reply(gid, first, "Bring the café vouchers")
        ann.post(gid, "Hard week after the funeral", content_warning="grief")
        ann.post(gid, "a post that disappears, tuesday", expires_in=3600)
        gone = ann.post(gid, "tuesday, deleted later").post_id
        ann.delete(gid, gone)
        ann.post(other, "Tuesday walk by the river")

        # Nothing synced yet: Ben's device has nothing to find.
        assert ben.search("tuesday") == []
        ben.sync(gid)
        assert texts(ben.search("TUESDAY", gid)) == [
            "a post that disappears, tuesday", "See you at the Tuesday circle"]
        assert texts(ben.search("cafe")) == ["Bring the café vouchers"]
        behind = ben.search("funeral")
        assert texts(behind) == ["Hard week after the funeral"]
        assert behind[0].hidden_by_default  # still behind its warning
        assert texts(ben.search("grief")) == ["Hard week after the funeral"]
        assert ben.search("tuesday", limit=1)[0].text == "a post that disappears, tuesday"

        # Every group, newest first; Ann sees her own posts and both groups.
        assert texts(ann.search("tuesday")) == [
            "Tuesday walk by the river", "a post that disappears, tuesday",
            "See you at the Tuesday circle"]
        assert {p.group_id for p in ann.search("tuesday")} == {gid, other}

        # An edit is found by its new words, not its old ones.
        ann.edit(gid, first, "See you at the Thursday circle")
        ben.sync(gid)
        assert texts(ben.search("tuesday circle")) == []
        assert texts(ben.search('"thursday circle"')) == ["See you at the Thursday circle"]

        # Two hours on, the disappearing post is gone from Ben's device: nothing finds it.
        ahead_ms[0] = 2 * 3600 * 1000
        assert texts(ben.search("tuesday", gid)) == []
        assert texts(ben.search("disappears")) == []
        ahead_ms[0] = 0

        with pytest.raises(InvalidArgumentError):
            ben.search("  ")
        with pytest.raises(InvalidArgumentError):
            ben.search("tuesday", limit=0)

    # The words searched for and the lowered copies of posts were never written to disk.
    for name in ("ben", "ann"):
        for path in (tmp_path / name).rglob("*"):
            if path.is_file():
                data = path.read_bytes()
                assert b"thursday" not in data.lower(), path
                assert b"funeral" not in data.lower(), path


def test_a_closed_client_searches_nothing(tmp_path: Path, relay_up: RelayProcess) -> None:
    ann = open_client(tmp_path, "ann", relay_up)
    gid = ann.create_group("Circle", display_name="Ann").group_id
    ann.post(gid, "hello")
    assert texts(ann.search("hello")) == ["hello"]
    ann.close()
    with pytest.raises(LocalStoreError, match="closed"):
        ann.search("hello")


def test_the_sqlite_store_holds_no_searchable_text(tmp_path: Path,
                                                   relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann:
        gid = ann.create_group("Circle", display_name="Ann").group_id
        ann.post(gid, "unmistakable words")
        assert texts(ann.search("unmistakable")) == ["unmistakable words"]
        tables = {name for (name,) in sqlite3.connect(tmp_path / "ann" / "client.db").execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
    assert not any("search" in t or "fts" in t for t in tables)
