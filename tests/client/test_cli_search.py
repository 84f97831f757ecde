"""``vault search`` against a real relay process: the posts on this device that hold some
words, in every group or one, newest first, content warnings kept."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.client.test_cli import Person, only_error, post_id
from tests.relayproc import RelayProcess

pytestmark = pytest.mark.slow  # a real relay process; every command unlocks with Argon2id


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, relay: RelayProcess) -> Path:
    return tmp_path_factory.mktemp("cli-search")


def test_search_finds_what_a_person_asks_for(root: Path, relay: RelayProcess) -> None:
    ann = Person("ann", root, relay)
    ann("group", "create", "Tuesday circle", "--as", "Ann")
    ann("group", "create", "Walks", "--as", "Ann")
    circle = ("--group", "Tuesday circle")
    first = post_id(ann("post", *circle, "See you at the Tuesday circle"))
    ann("post", *circle, "--reply-to", first, "Bring the café vouchers")
    hidden = post_id(ann("post", *circle, "--cw", "grief",
                         "Tuesday was hard, after the funeral"))
    ann("post", "--group", "Walks", "Tuesday walk by the river")

    everywhere = ann("search", "tuesday").output
    # Newest first, each result named by its group.
    assert everywhere.index("Tuesday walk") < everywhere.index("Content warning: grief") \
        < everywhere.index("See you at the Tuesday circle")
    assert "in 'Walks'" in everywhere and "in 'Tuesday circle'" in everywhere
    assert "after the funeral" not in everywhere  # behind its warning
    assert "1 result(s) hidden behind content warnings" in everywhere

    one = ann("search", *circle, "CAFE").output
    assert "Bring the café vouchers" in one and f"a reply to [{first}]" in one
    assert "in 'Walks'" not in ann("search", *circle, "tuesday").output

    revealed = ann("search", "funeral", "--reveal", hidden).output
    assert "Tuesday was hard, after the funeral" in revealed
    assert "after the funeral" in ann("search", "funeral", "--show-cw").output
    assert "no result shown has the id" in only_error(
        ann("search", "funeral", "--reveal", "zzzzzzzz", expect=1))

    assert f"to read it: vault search --reveal {hidden}" in everywhere  # words asked again

    # A phrase as written; every word must be there. The shell takes the quotes off
    # `vault search "by walk"`: an argument holding a space is a phrase.
    assert "See you at" in ann("search", '"tuesday circle"').output
    assert "Tuesday walk by the river" in ann("search", "walk by").output
    assert "Tuesday walk by the river" in ann("search", "by", "walk").output
    assert "No post in your groups" in ann("search", "by walk").output
    nothing = ann("search", "tuesday", "wednesday").output
    assert nothing.strip() == "No post in your groups holds all of: tuesday wednesday"

    # At most --last results, and a note that there are more.
    limited = ann("search", "tuesday", "--last", "1")
    assert "Tuesday walk" in limited.output and "See you at" not in limited.output
    assert "Showing the 1 newest" in limited.stderr

    # Without words they are asked for: they stay out of argv and the shell's history.
    asked = ann("search", "--no-sync", input="river\n")
    assert "Search for" in asked.stderr and "Tuesday walk by the river" in asked.output

    assert "at least one word" in only_error(ann("search", '""', expect=1))
    assert "at most 200 characters" in only_error(ann("search", "x" * 201, expect=1))
