"""``vault search``, ``vault export-posts``, ``vault mute``, polls, pins and ``vault remove
--revoke-invites``, ``vault group delete`` against a real relay process:
the posts on this device that hold some words (every group or one, newest first, content
warnings kept), one's own posts saved to a new private file, and a muted member's posts
collapsed on this device."""
from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from vault_client import Client

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


def test_export_posts_saves_a_new_private_file(root: Path, relay: RelayProcess) -> None:
    cleo = Person("cleo", root, relay)
    cleo("group", "create", "Tuesday circle", "--as", "Cleo")
    cleo("post", "--cw", "loss", "My first words here")
    target = root / "cleo-posts.txt"
    saved = cleo("export-posts", str(target)).output
    assert f"Saved your 1 post(s) in 1 group(s) to {target}" in saved
    assert "not encrypted" in saved
    text = target.read_text(encoding="utf-8")
    assert "Content warning: loss\nMy first words here\n" in text
    assert (target.stat().st_mode & 0o077) == 0
    refused = cleo("export-posts", str(target), expect=1, passphrase=None)
    assert "already exists" in only_error(refused)
    assert "passphrase" not in refused.output.lower()  # said before it is asked for
    as_json = root / "cleo.json"  # the format follows the name, unless --format says
    cleo("export-posts", "--group", "Tuesday circle", str(as_json))
    document = json.loads(as_json.read_text(encoding="utf-8"))
    assert document["format"] == "vault-own-posts"
    assert [p["text"] for p in document["groups"][0]["posts"]] == ["My first words here"]
    forced = root / "cleo.data"
    cleo("export-posts", "--format", "json", str(forced))
    assert json.loads(forced.read_text(encoding="utf-8"))["version"] == 1


def two_in_a_circle(root: Path, relay: RelayProcess, owner: str,
                    other: str) -> tuple[Person, Person, str]:
    """Two people in the terminal, in a group 'Circle' the first made (named after their
    home, capitalised), set up through the SDK; returns them and the group id."""
    first, second = Person(owner, root, relay), Person(other, root, relay)
    with Client(first.passphrase, home=first.home, relay_url=relay.url) as a, \
            Client(second.passphrase, home=second.home, relay_url=relay.url) as b:
        gid = a.create_group("Circle", display_name=owner.split("-")[0].capitalize()).group_id
        joined = b.join(a.create_invite(gid, max_uses=1).uri,
                        display_name=other.split("-")[0].capitalize())
        a.approve(gid, joined.member_id)
        b.sync(gid)
    return first, second, gid


def test_mute_collapses_a_members_posts_in_read_and_search(root: Path,
                                                           relay: RelayProcess) -> None:
    ann, mal, gid = two_in_a_circle(root, relay, "ann-m", "mal-m")
    with Client(mal.passphrase, home=mal.home, relay_url=relay.url) as m:
        m.post(gid, "Unkind words")
    ann("post", "Kind words")
    said = ann("mute", "Mal").output
    assert "Mal is muted in 'Circle' on this device" in said and "Nobody else is told" in said
    read = ann("read").output
    assert "Kind words" in read and "Unkind words" not in read
    assert "(from someone you muted on this device; vault read --show-muted shows it)" in read
    assert "Unkind words" in ann("read", "--show-muted").output
    found = ann("search", "unkind").output
    assert "Unkind words" not in found and "vault search --show-muted" in found
    assert "Mal (muted)" in ann("members").output
    with Client(mal.passphrase, home=mal.home, relay_url=relay.url) as m:
        m.react(gid, m.post(gid, "More unkind words").post_id, "👎")
    assert "'Circle': nothing new" in ann("sync").output  # (a muted member's news: not news)
    assert "shown again" in ann("unmute", "Mal").output
    assert "Unkind words" in ann("read").output
    assert "cannot mute yourself" in only_error(ann("mute", "me", expect=1))
    # A muted member who was removed: muted and unmuted by their id (or its start).
    ann("mute", "Mal")
    with Client(ann.passphrase, home=ann.home, relay_url=relay.url) as a:
        mal_id = next(m.member_id for m in a.members(gid) if m.display_name == "Mal")
        a.remove(gid, mal_id)
    assert f"former member {mal_id[:8]}'s posts are shown again" in ann(
        "unmute", mal_id[:8]).output
    assert "is muted" in ann("mute", mal_id).output


def test_a_poll_asked_and_voted_on_in_the_terminal(root: Path, relay: RelayProcess) -> None:
    ann, ben, _gid = two_in_a_circle(root, relay, "ann-p", "ben-p")
    asked = ann("poll", "Which evening suits you?", "Tuesday", "Thursday", "--closes", "2d")
    poll = post_id(asked)
    assert "Asked" in asked.output
    read = ben("read").output
    assert "Which evening suits you?" in read
    assert "1. Tuesday: 0 votes" in read and "2. Thursday: 0 votes" in read
    assert f"vault vote {poll} NUMBER" in read
    assert "Voted in" in ben("vote", poll, "2").output
    assert "2. Thursday: 1 vote (your vote)" in ben("read").output
    ben("vote", poll, "Tuesday")  # by its text: the vote changes
    shown = ann("read").output
    assert "1. Tuesday: 1 vote" in shown and "2. Thursday: 0 votes" in shown
    assert "options 1 to 2" in only_error(ben("vote", poll, "3", expect=1))
    assert "no such option" in only_error(ben("vote", poll, "Friday", expect=1))
    assert "2 to 10 options" in only_error(ann("poll", "Tea?", "Tea", expect=1))
    plain = post_id(ann("post", "Not a poll"))
    assert "not a poll" in only_error(ben("vote", plain, "1", expect=1))


def test_a_moderator_pins_in_the_terminal(root: Path, relay: RelayProcess) -> None:
    ann, ben, _gid = two_in_a_circle(root, relay, "ann-pin", "ben-pin")
    agreements = post_id(ann("post", "Our agreements: what is said here stays here"))
    ann("post", "Tonight at seven")
    assert "Pinned" in ann("pin", agreements).output
    read = ben("read").output
    assert f"Pinned: [{agreements}] Our agreements: what is said here stays here" in read
    assert re.search(rf"\[{agreements}\] Ann, [^\n]*\(pinned", read)
    assert "only moderators and admins can pin" in only_error(ben("pin", agreements,
                                                                  expect=1))
    assert "already pinned" in only_error(ann("pin", agreements, expect=1))
    assert "Unpinned" in ann("unpin", agreements).output
    assert "Pinned:" not in ben("read").output


def test_remove_with_revoke_invites_in_the_terminal(root: Path, relay: RelayProcess) -> None:
    ann, _ben, gid = two_in_a_circle(root, relay, "ann-r", "ben-r")
    with Client(ann.passphrase, home=ann.home, relay_url=relay.url) as a:
        a.create_invite(gid, max_uses=5)
        a.create_invite(gid, max_uses=5)
    said = ann("remove", "Ben", "--revoke-invites", "--yes").output
    assert "Removed Ben" in said
    assert "Revoked 2 open invites: nobody can join with them any more." in said
    assert "No working invites" in ann("invites").output
    listed = ann("invites", "--all").output
    assert listed.count("revoked") == 2 and listed.count("used up") == 1


def test_an_owner_deletes_a_group_in_the_terminal(root: Path, relay: RelayProcess) -> None:
    ann, ben, gid = two_in_a_circle(root, relay, "ann-d", "ben-d")
    ann("post", "Last words here")
    assert "only an owner" in only_error(ben("group", "delete", "--yes", expect=1))
    said = ann("group", "delete", "--yes").output
    assert "Deleted 'Circle' for everyone" in said
    assert "'Circle' was deleted by you on" in ann("group", "list").output
    synced = ben("sync").output
    assert "'Circle' was deleted by its owner Ann on" in synced
    assert "this device no longer keeps anything of it." in synced
    listed = ben("group", "list").output
    assert f"`vault group dismiss {gid[:8]}` clears this note" in listed
    assert "This device is in no group yet" in listed
    assert "Cleared the note of 'Circle'" in ben("group", "dismiss", gid[:8]).output
    assert "was deleted" not in ben("group", "list").output


def test_channels_in_the_terminal(root: Path, relay: RelayProcess) -> None:
    ann, ben, _gid = two_in_a_circle(root, relay, "ann-ch", "ben-ch")
    assert "Only the main channel so far" in ben("channels").stderr
    said = ann("channel", "add", "News", "--announcements").output
    assert "Added the announcements channel 'News'" in said
    ann("channel", "add", "Off topic")
    listed = ben("channels").output
    assert re.search(r"1\s+General\s+main channel\s+can post", listed)
    assert re.search(r"2\s+News\s+announcements \(moderators and admins post\)\s+react and "
                     r"vote", listed)
    assert re.search(r"3\s+Off topic\s+discussion\s+can post", listed)
    assert "only admins" in only_error(ben("channel", "add", "Mine", expect=1))
    assert "Posted in News" in ann("post", "--channel", "News", "Room 4 this week").output
    ben("post", "--channel", "3", "Anyone up for a walk?")
    ben("post", "Hello all")
    refused = ben("post", "--channel", "news", "Me too", expect=1)
    assert "only moderators and admins can post in an announcements channel" in \
        only_error(refused)
    assert "has no channel 'Nowhere'" in only_error(ben("post", "--channel", "Nowhere", "x",
                                                        expect=1))
    everything = ben("read").output
    assert "# News\n" in everything and "# Off topic\n" in everything
    only_news = ben("read", "--channel", "News").output
    assert "Room 4 this week" in only_news and "Hello all" not in only_news
    assert "Hello all" in ben("read", "--channel", "General").output
    assert "Anyone up for a walk?" not in ben("read", "--channel", "1").output
    ann("channel", "move", "Off topic", "2")
    ann("channel", "rename", "News", "Announcements")
    assert re.search(r"2\s+Off topic.*\n3\s+Announcements", ben("channels").output)
    assert "cannot be removed" in only_error(ann("channel", "remove", "General", expect=1))
    assert "now in General" in ann("channel", "remove", "Off topic").output
    assert "Anyone up for a walk?" in ben("read", "--channel", "General").output


def test_the_moderators_inbox_in_the_terminal(root: Path, relay: RelayProcess) -> None:
    ann, ben, _gid = two_in_a_circle(root, relay, "ann-in", "ben-in")
    hers = post_id(ann("post", "A post by the only admin"))
    refused = ben("report", hers, "Unkind", expect=1)
    assert "no moderator or admin besides the member you would report" in only_error(refused)
    sent = ben("ask-mods", "I am having a hard week").output
    assert "Sent to the moderators of 'Circle'" in sent
    listed = ann("inbox").output
    assert "1. [" in listed and "Ben asks for support (open)" in listed
    assert "I am having a hard week" in listed
    assert "Answered Ben, privately." in ann("answer", "1", "Call me tonight").output
    mine = ben("inbox").output
    assert "Ann answered" in mine and "Call me tonight" in mine
    assert "only moderators and admins" in only_error(ben("answer", "1", "x", expect=1))
    assert "The other moderators see it." in ann("resolve", "1", "answered").output
    assert "still open" in ann("inbox").output
    assert "resolved: answered" in ann("inbox", "--all").output
