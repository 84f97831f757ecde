"""Vault as three new people and a bot author meet it (issue 9): nothing a member writes is
lost, nothing says "done" that did not happen, nobody is left stuck. One test per finding,
against a real relay process on 127.0.0.1 (SQLite: these are the client's behaviours, the
relay's backend changes none of them), through the SDK or the `vault` command line."""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import pytest
from vault_client import Client, NewPost, Role
from vault_client.errors import (
    InvalidArgumentError,
    NameTakenError,
    NotPermittedError,
    PassphraseRejectedError,
    UnknownReferenceError,
)

from tests.client.conftest import PASSPHRASE
from tests.client.test_cli import Person, only_error, post_id
from tests.relayproc import VAULT, RelayProcess
from vault.crypto.encoding import b64decode

pytestmark = pytest.mark.slow  # a real relay process, stopped and restarted


@pytest.fixture(scope="module")
def relay(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RelayProcess]:
    process = RelayProcess(tmp_path_factory.mktemp("relay") / "data")
    yield process
    process.stop()


def open_client(root: Path, name: str, relay: RelayProcess, **kw: Any) -> Client:
    return Client(PASSPHRASE + name, home=root / name, relay_url=relay.url, **kw)


def circle(ann: Client, *others: Client, history: str = "current") -> str:
    """Ann's group, the others admitted (named after their home directory)."""
    gid = ann.create_group("Circle", display_name="Ann").group_id
    for other in others:
        result = other.join(ann.create_invite(gid).uri)
        ann.approve(gid, result.member_id, share_history=history)  # type: ignore[arg-type]
        other.sync(gid)
        other.set_display_name(gid, Path(other.home).name.capitalize())
    for person in (ann, *others):
        person.sync(gid)
    return gid


@contextmanager
def in_a_circle(root: Path, relay: RelayProcess, *names: str
                ) -> Iterator[tuple[str, list[Client]]]:
    """People named *names*, the first owning the group 'Circle' (see :func:`circle`), each
    with a client open for the block (closed after it)."""
    with ExitStack() as stack:
        people = [stack.enter_context(open_client(root, name, relay)) for name in names]
        yield circle(*people), people


def epoch_keys_on_disk(client: Client, gid: str) -> set[int]:
    with sqlite3.connect(Path(client.home) / "client.db") as conn:
        return {int(e) for (e,) in conn.execute(
            "SELECT epoch FROM epoch_keys WHERE group_id=?", (b64decode(gid),))}


# --- 1. a command the device refuses changes nothing; no post is lost -------------------------


def test_a_refused_removal_leaves_nothing_behind(tmp_path: Path, relay_up: RelayProcess) -> None:
    """Ben, a moderator, tries to remove Cleo: his device refuses (only admins remove) and
    keeps nothing of the attempt, not even the new key it would have made. Ann then removes
    Cleo and posts: Ben's device reads the post, also after being opened again."""
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben, \
            open_client(tmp_path, "cleo", relay_up) as cleo:
        gid = circle(ann, ben, cleo)
        ann.set_role(gid, ben.me(gid).member_id, Role.MODERATOR)
        ben.sync(gid)
        before = (ben.group(gid).log_seq, epoch_keys_on_disk(ben, gid))
        with pytest.raises(NotPermittedError, match="only admins can remove members"):
            ben.remove(gid, cleo.me(gid).member_id)
        assert (ben.group(gid).log_seq, epoch_keys_on_disk(ben, gid)) == before
        ann.remove(gid, cleo.me(gid).member_id)
        posted = ann.post(gid, "After Cleo left.")
        report = ben.sync(gid)[0]
        assert not report.warnings
        assert ben.get_post(gid, posted.post_id).text == "After Cleo left."
    with open_client(tmp_path, "ben", relay_up) as ben:
        assert ben.get_post(gid, posted.post_id).text == "After Cleo left."


# --- 2, 3. writing while the relay cannot be reached ---------------------------------------


def test_a_post_written_while_the_relay_is_down_is_kept_and_said(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    """With the relay down, `vault post` says at once that it cannot be reached and that it
    keeps trying, then that the post is saved on this device; `vault read` shows it as not
    sent; the next `vault sync` sends it, once."""
    ann, ben = Person("ann", tmp_path, relay_up), Person("ben", tmp_path, relay_up)
    ann("group", "create", "Circle", "--as", "Ann")
    invite = re.search(r"invite link: (\S+)", ann("invite", "--no-qr", "--pre-authorised").output)
    assert invite
    ben("join", invite.group(1), "--name", "Ben")
    ann("sync")
    ben("sync")
    relay_up.stop()
    quick = {"VAULT_RETRY_SECONDS": "1"}
    saved = ben("post", "Written on the train.", env=quick)
    assert "cannot be reached; trying again for up to" in saved.stderr
    assert "Saved on this device, not sent yet" in saved.output
    assert "Written on the train." in ben("read", "--no-sync").output
    assert "not sent yet" in ben("read", "--no-sync").output
    relay_up.start()
    ann.relay = ben.relay = relay_up  # (the same address: the port is kept)
    ben("sync")
    shown = ann("read").output
    assert shown.count("Written on the train.") == 1 and "not sent yet" not in ben(
        "read").output


def test_ctrl_c_while_posting_keeps_the_post_and_says_so(
        tmp_path: Path, relay_up: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C after the post was saved, while the device is still talking to the relay:
    the command stops with a plain line saying the post is kept, and it goes out later."""
    from vault_client._internal import posting

    ann = Person("ann", tmp_path, relay_up)
    ann("group", "create", "Circle", "--as", "Ann")

    def interrupted(*_args: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(posting, "_freshen", interrupted)
    stopped = ann("post", "Half-way through.", expect=130)
    assert "saved on this device" in stopped.stderr and "Traceback" not in stopped.stderr
    monkeypatch.undo()
    assert "not sent yet" in ann("read", "--no-sync").output
    ann("sync")
    shown = ann("read").output
    assert "Half-way through." in shown and "not sent yet" not in shown


def test_ctrl_c_before_the_post_is_kept_says_it_was_not_taken(
        tmp_path: Path, relay_up: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C before the device kept the post: the command says nothing was kept or sent,
    and indeed nothing waits to go out and nothing reaches the group."""
    from vault_client._internal import outbox

    ann = Person("ann", tmp_path, relay_up)
    ann("group", "create", "Circle", "--as", "Ann")

    def interrupted(*_args: Any, **_kwargs: Any) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(outbox, "queue", interrupted)
    stopped = ann("post", "Never kept.", expect=130)
    assert "nothing was kept or sent" in stopped.stderr
    assert "saved on this device" not in stopped.stderr and "Traceback" not in stopped.stderr
    monkeypatch.undo()
    ann("sync")
    shown = ann("read").output
    assert "Never kept." not in shown and "not sent yet" not in shown


# --- 4, 5. a group created offline; one broken group among several ------------------------


def test_a_group_created_offline_is_made_on_the_next_sync(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    ann = Person("ann", tmp_path, relay_up)
    ann("group", "create", "Working group", "--as", "Ann")
    relay_up.stop()
    quick = {"VAULT_RETRY_SECONDS": "1"}
    made = ann("group", "create", "Offline group", "--as", "Ann", env=quick)
    assert "not created yet" in made.output and "vault sync" in made.output
    listing = ann("group", "list", env=quick).output
    assert re.search(r"2\s+Offline group\s+creating", listing)
    failed = ann("sync", env=quick, expect=1)
    assert "could not sync" in failed.stderr and "Working group" in failed.stderr
    relay_up.start()
    done = ann("sync")
    assert "Offline group" in done.output and "Working group" in done.output
    assert re.search(r"2\s+Offline group\s+member\s+owner", ann("group", "list").output)
    assert "invite link:" in ann("invite", "-g", "2", "--no-qr").output


def test_one_group_that_cannot_sync_does_not_stop_the_others(
        tmp_path: Path, relay_up: RelayProcess, tmp_path_factory: pytest.TempPathFactory
        ) -> None:
    """Ann is in three groups: one on a relay that is down, one she was removed from, one
    that works. `vault sync` syncs each on its own, names the one that failed, shows the
    removal as such, and exits with status 1."""
    other = RelayProcess(tmp_path_factory.mktemp("other-relay") / "data")
    try:
        with open_client(tmp_path, "ann", relay_up) as ann_sdk, \
                open_client(tmp_path, "ben", relay_up) as ben:
            ann_sdk.create_group("Elsewhere", relay_url=other.url, display_name="Ann")
            kept = ben.create_group("Ben's group", display_name="Ben").group_id
            ann_sdk.join(ben.create_invite(kept, require_approval=False).uri)
            ben.sync(kept)  # (Ben's device starts a new epoch for her, history "none")
            ann_sdk.sync(kept)
            ben.remove(kept, next(m.member_id for m in ben.members(kept) if not m.is_me))
            ann_sdk.create_group("Works", display_name="Ann")
        other.stop()
        ann = Person("ann", tmp_path, relay_up)
        ann.passphrase = PASSPHRASE + "ann"
        result = ann("sync", env={"VAULT_RETRY_SECONDS": "1"}, expect=1)
        assert re.search(r"'Elsewhere': could not sync: .*cannot be reached", result.stderr)
        assert "you were removed from this group" in result.output
        assert "'Works': nothing new" in result.output
        assert re.search(r"Ben's group\s+removed", ann("group", "list").output)
    finally:
        other.stop()


# --- 6, 7. refusals up front; invites that can always be found -----------------------------


def test_what_a_role_does_not_allow_is_refused_up_front(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = circle(ann, ben)
        mine = ann.post(gid, "Ann's words.")
        ben.sync(gid)
        seq = ben.group(gid).log_seq
        with pytest.raises(NotPermittedError, match="only edit your own posts"):
            ben.edit(gid, mine.post_id, "Ben's words instead")
        with pytest.raises(NotPermittedError, match="only moderators and admins"):
            ben.delete(gid, mine.post_id)
        for refused in (lambda: ben.create_invite(gid), lambda: ben.rotate(gid),
                        lambda: ben.update_group(gid, name="Mine now"),
                        lambda: ben.set_role(gid, ben.me(gid).member_id, Role.ADMIN)):
            with pytest.raises(NotPermittedError, match="only"):
                refused()
        assert ben.group(gid).log_seq == seq and ben.group(gid).unsent_posts == 0
        ann.sync(gid)
        assert [p.text for p in ann.posts(gid)] == ["Ann's words."]


def test_an_invite_is_never_made_without_its_link_and_can_always_be_found(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    ann = Person("ann", tmp_path, relay_up)
    ann("group", "create", "Circle", "--as", "Ann")
    taken = tmp_path / "taken.png"
    taken.write_bytes(b"a photo of the cat")
    seq = re.search(r"(\d+) entries", ann("group", "info").output)
    refused = ann("invite", "--png", str(taken), expect=1)
    assert "already exists" in only_error(refused) and "no invite was made" in only_error(
        refused)
    assert re.search(r"(\d+) entries", ann("group", "info").output).group(1) == seq.group(1)
    made = ann("invite", "--no-qr", "--max-uses", "3")
    invite_id = re.search(r"invite id \(to revoke it\): (\S+)", made.output)
    assert invite_id
    listed = ann("invites").output
    assert invite_id.group(1) in listed and "3 of 3" in listed
    ann("revoke-invite", invite_id.group(1))
    assert "No working invites" in ann("invites").output
    assert "revoked" in ann("invites", "--all").output


# --- 8. group numbers that never move ------------------------------------------------------


def test_group_numbers_stay_with_their_group(tmp_path: Path, relay_up: RelayProcess) -> None:
    ann = Person("ann", tmp_path, relay_up)
    for name in ("First", "Second", "Third"):
        ann("group", "create", name, "--as", "Ann")
    ann("forget", "-g", "2", "--yes")
    listing = ann("group", "list").output
    assert re.search(r"1\s+First", listing) and re.search(r"3\s+Third", listing)
    assert "Second" not in listing
    assert "'Third'" in ann("read", "-g", "3").output
    assert "no group number 2" in only_error(ann("read", "-g", "2", expect=1))
    ann("group", "create", "Fourth", "--as", "Ann")
    assert re.search(r"4\s+Fourth", ann("group", "list").output)  # 2 is never given again


# --- 9. several programs of one person share a home ----------------------------------------


def test_a_second_program_can_post_while_one_follows(tmp_path: Path,
                                                     relay_up: RelayProcess) -> None:
    """`vault wait --follow` runs in one terminal; the same person posts from another, on the
    same home (no "one client per home" refusal); the follower shows what Ben then writes.
    Ctrl-C stops it with a plain line (exit status 0), not an error."""
    import signal
    import threading

    ann = Person("ann", tmp_path, relay_up)
    ann("group", "create", "Circle", "--as", "Ann")
    invite = re.search(r"invite link: (\S+)", ann("invite", "--no-qr", "--pre-authorised").output)
    assert invite
    with open_client(tmp_path, "ben", relay_up) as ben:
        gid = ben.join(invite.group(1)).group_id
        ann("sync")
        ben.sync(gid)
        env = {**os.environ, "VAULT_HOME": str(ann.home), "VAULT_PASSPHRASE": ann.passphrase,
               "VAULT_CONFIG": str(ann.config)}
        env.pop("VAULT_GROUP", None)
        follower = subprocess.Popen([VAULT, "wait", "--follow"], env=env,
                                    stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        lines: list[str] = []
        assert follower.stdout is not None
        threading.Thread(target=lambda: lines.extend(iter(follower.stdout.readline, "")),
                         daemon=True).start()
        try:
            time.sleep(3)  # (the follower opens the same home and starts waiting)
            assert "Posted" in ann("post", "From the second terminal.").output
            assert ben.post(gid, "Hello from Ben.").delivered
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline and \
                    not any("Hello from Ben." in line for line in lines):
                assert follower.poll() is None
                time.sleep(0.2)
            follower.send_signal(signal.SIGINT)
            _out, err = follower.communicate(timeout=30)
        finally:
            if follower.poll() is None:
                follower.kill()
    assert any("Hello from Ben." in line for line in lines)
    assert follower.returncode == 0 and "Stopped following." in err and "Traceback" not in err


# --- 10. names when joining --------------------------------------------------------------


def test_a_joiner_names_themself_when_joining(tmp_path: Path, relay_up: RelayProcess) -> None:
    """The name given with `join --name` is set by itself once the joiner is admitted and
    has the key: with approval, and with a pre-authorised invite before any admin synced
    (where the joiner may already post: it goes out once the key comes). The joiner sees
    who made the invite, and the group's name once admitted."""
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben, \
            open_client(tmp_path, "cleo", relay_up) as cleo:
        gid = ann.create_group("Tuesday circle", display_name="Ann").group_id
        asked = ben.join(ann.create_invite(gid).uri, display_name="Ben")
        assert asked.status == "pending" and asked.inviter_name is None
        ann.approve(gid, asked.member_id)
        ben.sync(gid)
        ann.sync(gid)
        assert {m.display_name for m in ann.members(gid)} == {"Ann", "Ben"}
        assert ben.group(gid).name == "Tuesday circle"
        assert {m.display_name for m in ben.members(gid)} == {"Ann", "Ben"}

        joined = cleo.join(ann.create_invite(gid, require_approval=False).uri,
                           display_name="Cleo")
        assert joined.status == "joined"
        early = cleo.post(gid, "Hello, I just arrived.")
        assert early.status == "queued" and "key" in (early.reason or "")
        ann.sync(gid)  # Ann's device starts a new epoch for her (history "none")
        cleo.sync(gid)
        assert cleo.group(gid).unsent_posts == 0
        ann.sync(gid)
        assert "Hello, I just arrived." in [p.text for p in ann.posts(gid)]
        assert {m.display_name for m in ann.members(gid)} == {"Ann", "Ben", "Cleo"}
        ben.sync(gid)  # (Ben's device seals his name again for the new epoch)
        cleo.sync(gid)
        assert {m.display_name for m in cleo.members(gid)} == {"Ann", "Ben", "Cleo"}


# --- 11. passphrases ---------------------------------------------------------------------


def test_a_weak_passphrase_is_refused(tmp_path: Path, relay_up: RelayProcess) -> None:
    with pytest.raises(PassphraseRejectedError, match="too easy to guess"):
        Client("x", home=tmp_path / "weak")
    assert not (tmp_path / "weak" / "keystore.vault").exists()
    dee = Person("dee", tmp_path, relay_up)
    typed = "password1\npassword1\nmy quiet garden of ferns\nmy quiet garden of ferns\n"
    made = dee("group", "create", "Circle", input=typed, passphrase=None)
    assert "too easy to guess" in made.stderr and "Created 'Circle'" in made.output


# --- 12. coming back; forgetting ---------------------------------------------------------


def test_asking_again_after_a_denial(tmp_path: Path, relay_up: RelayProcess) -> None:
    ann, ben = Person("ann", tmp_path, relay_up), Person("ben", tmp_path, relay_up)
    ann("group", "create", "Circle", "--as", "Ann")
    first = re.search(r"invite link: (\S+)", ann("invite", "--no-qr").output)
    assert first
    ben("join", first.group(1))
    ann("deny", "1", "--yes")
    ben("sync")
    assert re.search(r"denied", ben("group", "list").output)
    again = re.search(r"invite link: (\S+)", ann("invite", "--no-qr").output)
    assert again
    assert "An admin has to approve you" in ben("join", again.group(1)).output
    ann("deny", "1", "--yes")
    ben("sync")
    assert "no longer keeps anything" in ben("forget", "--yes").output  # the one to forget


def test_posting_without_an_editor_asks_for_the_text_right_here(
        tmp_path: Path, relay_up: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """In a terminal with no $EDITOR or $VISUAL, `vault post` asks for the text where the
    person is typing (point 15), instead of opening an editor they never chose."""
    monkeypatch.setattr("vault_client.cli._posting.stdin_is_terminal", lambda: True)
    ann = Person("ann", tmp_path, relay_up)
    ann("group", "create", "Circle", "--as", "Ann")
    typed = ann("post", input="Typed right here.\n", env={"EDITOR": "", "VISUAL": ""})
    assert "press Ctrl-D on a new line" in typed.stderr and "Posted" in typed.output
    assert "Typed right here." in ann("read").output


def test_verify_reads_the_group_first(tmp_path: Path, relay_up: RelayProcess) -> None:
    """`vault verify` syncs before it looks a member up (point 15): a name set since this
    device's last sync is found."""
    ann, ben = Person("ann", tmp_path, relay_up), Person("ben", tmp_path, relay_up)
    ann("group", "create", "Circle", "--as", "Ann")
    invite = re.search(r"invite link: (\S+)", ann("invite", "--no-qr", "--pre-authorised").output)
    assert invite
    ben("join", invite.group(1), "--name", "Ben")
    ann("sync")  # Ben gets the key ...
    ben("sync")  # ... and sets his name, which Ann's device has not read yet
    assert "Your safety number with Ben" in ann("verify", "Ben").output


# --- 13. the last owner --------------------------------------------------------------------


def test_the_last_owner_hands_the_group_over_as_they_leave(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = circle(ann, ben)
        with pytest.raises(NotPermittedError, match="last owner"):
            ann.leave(gid)
        assert ann.group(gid).status == "member"
        ann.leave(gid, hand_over_to="Ben")
        assert [g.group_id for g in ann.groups()] == []
        ben.sync(gid)
        assert ben.group(gid).my_role == Role.OWNER


# --- 14. no alarms in ordinary use ---------------------------------------------------------


def test_ordinary_use_raises_no_warnings(tmp_path: Path, relay_up: RelayProcess) -> None:
    """Posts from before a newcomer joined (history "none") are not "withheld"; a key
    change is not "the rules changed"."""
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben, \
            open_client(tmp_path, "cleo", relay_up) as cleo:
        gid = circle(ann, ben)
        for n in range(3):
            ann.post(gid, f"before Cleo {n}")
            ben.post(gid, f"Ben before Cleo {n}")
        result = cleo.join(ann.create_invite(gid).uri, display_name="Cleo")
        ann.approve(gid, result.member_id, share_history="none")
        first = cleo.sync(gid)[0]
        assert first.unreadable_history == 6 and not first.warnings
        told = [type(e).__name__ for e in first.events]
        assert "JoinApproved" in told and "GroupUpdated" not in told  # not "rules changed"
        assert not [e for e in first.events if type(e).__name__ == "MemberJoined"
                    and e.member_id == result.member_id]  # nor "someone joined": it is Cleo
        ann.post(gid, "Welcome, Cleo.")
        ben.sync(gid)
        ben.post(gid, "Welcome.")
        report = cleo.sync(gid)[0]
        assert not report.warnings and not cleo.warnings()
        ann.rotate(gid)
        events = ben.sync(gid)[0].events
        assert not [e for e in events if type(e).__name__ in ("GroupUpdated",
                                                              "ProfileUpdated")]


def test_a_pre_authorised_newcomer_is_not_told_the_rules_changed(
        tmp_path: Path, relay_up: RelayProcess) -> None:
    """Joined with an invite that needs no approval: the first sync with the group key shows
    the group as it is, not "the name, description or rules changed" (nor "someone joined")."""
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "dee", relay_up) as dee:
        gid = ann.create_group("Circle", display_name="Ann").group_id
        ann.update_group(gid, description="Tuesdays", rules="Be kind.")
        joined = dee.join(ann.create_invite(gid, require_approval=False).uri,
                          display_name="Dee")
        before_key = [type(e).__name__ for e in dee.sync(gid)[0].events]
        ann.sync(gid)  # Ann's device shares the group key with Dee
        first = dee.sync(gid)[0]
        told = [type(e).__name__ for e in first.events] + before_key
        assert "GroupUpdated" not in told and not first.warnings
        assert not [e for e in first.events if type(e).__name__ == "MemberJoined"
                    and e.member_id == joined.member_id]
        assert dee.group(gid).name == "Circle"
        ann.update_group(gid, rules="Be kind. Listen.")
        assert "GroupUpdated" in [type(e).__name__ for e in dee.sync(gid)[0].events]


# --- 15. words for people ------------------------------------------------------------------


def test_plain_words_for_newcomers(tmp_path: Path, relay_up: RelayProcess) -> None:
    ann = Person("ann", tmp_path, relay_up)
    first = ann("group", "list", expect=1)  # nothing made on a read
    assert "no Vault keystore yet" in only_error(first)
    assert not (ann.home / "keystore.vault").exists()
    bad = ann("config", "--relay", "relay dot example", expect=1)
    assert "is not a relay address" in only_error(bad) and "invite" not in only_error(bad)
    ann("group", "create", "Circle", "--as", "Ann")
    note = tmp_path / "poem.txt"
    note.write_text("a poem")
    with_file = ann("post", "--attach", str(note), input="")  # no text: fine with a file
    assert "Posted" in with_file.output
    warned = post_id(ann("post", "--cw", "loss", "Hidden words."))
    other = post_id(ann("post", "--cw", "grief", "Other hidden words."))
    shown = ann("read", "--reveal", warned).output
    assert "Hidden words." in shown and "Other hidden words." not in shown and other
    edited = ann("edit", warned, "Hidden, edited.")
    assert f"Edited (post {warned})" in edited.output
    assert "Content warning: loss" in ann("read").output  # the edit kept it
    missing = ann("read", "--reveal", "nosuchpost", expect=1)
    assert "no post matches 'nosuchpost'" in only_error(missing)


def test_an_attachment_keeps_its_file_name(tmp_path: Path, relay_up: RelayProcess) -> None:
    """A member who saves an attachment gets the name the file had; a name that could
    mislead (a right-to-left override) or escape the folder is made harmless before it is
    sent, and a post another client sent with one would be refused (protocol ATT-3)."""
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = circle(ann, ben)
        tricky = tmp_path / "invoice\u202efdp.exe"
        tricky.write_bytes(b"not a pdf")
        plain = tmp_path / "Élodie's garden.txt"
        plain.write_text("roses")
        ann.post(gid, "Two files.", attachments=[tricky, plain, (b"raw", "text/plain")])
        ben.sync(gid)
        (post,) = [p for p in ben.posts(gid) if p.text == "Two files."]
        assert [a.file_name for a in post.attachments] == [
            "invoice_fdp.exe", "Élodie's garden.txt", ""]
        folder = tmp_path / "saved"
        folder.mkdir()
        paths = [ben.save_attachment(gid, a, folder) for a in post.attachments]
        assert [p.name for p in paths][:2] == ["invoice_fdp.exe", "Élodie's garden.txt"]
        assert paths[2].name.startswith("attachment-") and paths[2].suffix == ".txt"
        assert paths[1].read_text() == "roses"
        assert ben.save_attachment(gid, post.attachments[1], folder).name == \
            "Élodie's garden (2).txt"


def test_an_attachment_without_a_name_still_travels_as_before(tmp_path: Path,
                                                              relay_up: RelayProcess) -> None:
    """Attachments without names go out in a version-1 post body, the layout builds before
    file names wrote and read (protocol §6.1, PB-1, PB-2); a version-1 post kept in the local
    store opens again after a restart, and its attachment is saved under a name of the
    device's own. A named attachment makes the post version 2."""
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = circle(ann, ben)
        unnamed = ann.post(gid, "Unnamed.", attachments=[(b"raw", "text/plain")]).post_id
        named = ann.post(gid, "Named.", attachments=[(b"raw", "text/plain", "a.txt")]).post_id
        ben.sync(gid)
        timeline = ben._device.view(gid).timeline
        opened = [timeline.get(b64decode(pid)) for pid in (unnamed, named)]
        assert [o.body.encode()[:2] if o else None for o in opened] == [b"\x06\x01",
                                                                       b"\x06\x02"]
    with open_client(tmp_path, "ben", relay_up) as ben:  # from the local store (StoredPost)
        (post,) = [p for p in ben.posts(gid) if p.post_id == unnamed]
        assert [a.file_name for a in post.attachments] == [""]
        folder = tmp_path / "saved"
        folder.mkdir()
        path = ben.save_attachment(gid, post.attachments[0], folder)
        assert path.name == f"attachment-{post.attachments[0].attachment_id[:8]}.txt"
        assert path.read_bytes() == b"raw"


# --- 16-18. the SDK as a client author meets it ---------------------------------------------


def test_the_sdk_takes_names_and_says_what_is_wrong(tmp_path: Path,
                                                   relay_up: RelayProcess) -> None:
    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = circle(ann, ben)
        assert ann.group("Circle").group_id == gid  # a group by its name
        assert ann.safety_number("Circle", "Ben") == ann.safety_number(
            gid, ben.me(gid).member_id)  # a member by theirs
        with pytest.raises(UnknownReferenceError, match="no member 'Nobody'"):
            ann.remove(gid, "Nobody")
        with pytest.raises(UnknownReferenceError):
            ann.group("no such group")
        with pytest.raises(InvalidArgumentError):
            ann.post(gid, "soon gone", expires_in=0)
        with pytest.raises(NameTakenError):
            ben.set_display_name(gid, "ANN")
        posted = ann.post(gid, "For the bot.")
        events = ben.sync(gid)[0].events
        (arrived,) = [e for e in events if isinstance(e, NewPost)]
        assert arrived.post is not None and arrived.post.text == "For the bot."
        assert arrived.post_id == posted.post_id


def test_a_sync_shows_each_new_post_as_members_see_it_and_only_those(
        tmp_path: Path, relay_up: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    """A sync's NewPost events carry the new posts with the edits and reactions known so
    far, and the device draws only those: a group's older posts are not drawn again for
    every sync (in a group of 10,000 posts that made each new post cost ~0.3 s)."""
    from vault_client._internal import views

    with open_client(tmp_path, "ann", relay_up) as ann, \
            open_client(tmp_path, "ben", relay_up) as ben:
        gid = circle(ann, ben)
        older = [ann.post(gid, f"older {i}").post_id for i in range(5)]
        ben.sync(gid)
        fresh = ann.post(gid, "first words")
        ann.edit(gid, fresh.post_id, "better words")
        ann.react(gid, older[0], "+1")
        ann.react(gid, fresh.post_id, "<3")
        drawn: list[bytes] = []
        draw = views._post_view

        def counted(view: Any, post: Any, *args: Any) -> Any:
            drawn.append(post.post_id)
            return draw(view, post, *args)

        monkeypatch.setattr(views, "_post_view", counted)
        events = ben.sync(gid)[0].events
        monkeypatch.undo()
        shown = [e for e in events if isinstance(e, NewPost) and e.post is not None]
        assert [e.post_id for e in shown] == [fresh.post_id]
        post = shown[0].post
        assert post is not None
        assert (post.text, post.reactions) == ("better words", (("<3", (ann.me(gid).member_id,)),))
        assert post.edited_at_ms is not None
        assert drawn == [b64decode(fresh.post_id)]
        # The older post's reaction reached it too, for whoever asks.
        (first,) = [p for p in ben.posts(gid) if p.post_id == older[0]]
        assert first.reactions == (("+1", (ann.me(gid).member_id,)),)


def test_the_async_client_and_event_handlers(tmp_path: Path, relay_up: RelayProcess) -> None:
    """An asyncio bot: an AsyncClient awaits news with an async long-poll, and Handlers
    call a coroutine for each new post."""
    import asyncio

    from vault_client import AsyncClient, Handlers, PostView

    with open_client(tmp_path, "ann", relay_up) as ann:
        gid = ann.create_group("Bots welcome", display_name="Ann").group_id
        invite = ann.create_invite(gid, require_approval=False)

        async def bot() -> list[str]:
            seen: list[str] = []
            async with AsyncClient(PASSPHRASE + "bot", home=tmp_path / "bot") as client:
                joined = await client.join(invite.uri, display_name="Echo")
                handlers = Handlers(client, joined.group_id, wait_timeout=10)

                @handlers.on_post
                async def echo(post: PostView) -> None:
                    if not post.is_mine:
                        seen.append(post.text)
                        await client.reply(joined.group_id, post, "echo: " + post.text)
                        handlers.stop()

                async def speak() -> None:
                    await asyncio.sleep(2)
                    await asyncio.to_thread(ann.sync, gid)
                    await asyncio.to_thread(ann.post, gid, "Anyone there?")

                await asyncio.gather(handlers.run_async(rounds=20), speak())
            return seen

        assert asyncio.run(bot()) == ["Anyone there?"]
        ann.sync(gid)
        assert "echo: Anyone there?" in [p.text for p in ann.posts(gid)]
