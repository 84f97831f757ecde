"""The `vault` command line against a real relay process on 127.0.0.1.

Each person is a home directory driven through click's CliRunner, with the passphrase in
$VAULT_PASSPHRASE (or typed at the prompt, where that is what is tested). Every command
unlocks the keystore with the real Argon2id parameters, so the homes are reused across a
flow instead of being made afresh.
"""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner, Result
from vault_client import Posted, PostsWithheld
from vault_client.cli import _posting, cli
from vault_client.cli._config import State
from vault_client.cli._failures import from_error
from vault_client.cli._formatting import parse_duration, show_warnings
from vault_client.errors import ForkError, RollbackError

from tests.client.conftest import VAULT, RelayProcess

SAFETY = re.compile(r"((?:\d{5} ){11}\d{5})")


def safety_numbers(text: str) -> list[str]:
    """The 60-digit numbers in *text* (printed as rows of four groups)."""
    flat = " ".join(text.split())
    return [m.replace(" ", "") for m in SAFETY.findall(flat)]


class Person:
    """One device: a home directory and a passphrase, driving `vault` through CliRunner."""

    def __init__(self, name: str, root: Path, relay: RelayProcess) -> None:
        self.name = name
        self.home = root / name
        self.passphrase = f"{name}'s long passphrase"
        self.relay = relay
        self.config = root / "config.toml"
        self.runner = CliRunner()

    def env(self, passphrase: str | None) -> dict[str, str | None]:
        return {"VAULT_PASSPHRASE": passphrase, "VAULT_RELAY": self.relay.url,
                "VAULT_CONFIG": str(self.config), "VAULT_HOME": None, "VAULT_GROUP": None,
                "VAULT_TRANSFER_PASSPHRASE": None, "VAULT_DEBUG": "1", "EDITOR": "false"}

    def __call__(self, *args: str, input: str | None = None, expect: int = 0,
                 passphrase: str | bool | None = True, debug: bool = True,
                 env: dict[str, str] | None = None) -> Result:
        secret = self.passphrase if passphrase is True else passphrase or None
        env = {**self.env(secret), **(env or {})}
        if not debug:
            env["VAULT_DEBUG"] = None
        result = self.runner.invoke(cli, ["--home", str(self.home), *args], input=input,
                                    env=env, catch_exceptions=False)
        assert result.exit_code == expect, (args, result.output)
        assert "Traceback" not in result.output
        if secret:
            assert secret not in result.output
        return result


def only_error(result: Result) -> str:
    """A failure is one line, `vault: <message>`, last on stderr (after any prompts)."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    errors = [line for line in lines if line.startswith("vault: ")]
    assert len(errors) == 1 and lines[-1] == errors[0], result.stderr
    return errors[0]


def post_id(result: Result) -> str:
    match = re.search(r"\(id ([A-Za-z0-9_-]{8})\)", result.output)
    assert match, result.output
    return match.group(1)


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory, relay: RelayProcess) -> Path:
    """Fresh homes for each relay backend (the relay fixture is parametrized)."""
    return tmp_path_factory.mktemp("cli")


@pytest.mark.slow
def test_three_people(root: Path, relay: RelayProcess) -> None:
    ann, ben, cleo = (Person(n, root / "flow", relay) for n in ("ann", "ben", "cleo"))

    # First use: the passphrase is asked for at a hidden prompt, twice (confirmation).
    typed = f"{ann.passphrase}\n{ann.passphrase}\n"
    made = ann("group", "create", "Tuesday circle", "--description", "A quiet place.",
               "--rules", "What is said here stays here.", "--as", "Ann",
               input=typed, passphrase=None)
    assert "Choose a passphrase" in made.output and "Repeat for confirmation" in made.output
    assert "Created 'Tuesday circle'" in made.output and "You are its owner" in made.output

    png, svg = root / "flow" / "invite.png", root / "flow" / "invite.svg"
    invite = ann("invite", "--png", str(png), "--svg", str(svg), "--max-uses", "2",
                 "--expires", "1h")
    assert png.read_bytes().startswith(b"\x89PNG") and (png.stat().st_mode & 0o077) == 0
    assert b"<svg" in svg.read_bytes()
    assert "▀" in invite.output or "█" in invite.output  # the QR code, drawn in the terminal
    uri = re.search(r"invite link: (\S+)", invite.output)
    assert uri and "up to 2 people" in invite.output

    # The group's description and rules come first: Ben is asked to accept them ('n'
    # changes nothing), Cleo accepts them by option.
    declined = ben("join", uri.group(1), input="n\n", expect=1)
    assert "What is said here stays here." in declined.output
    assert "nothing was changed" in declined.output and "safety number" not in declined.output
    ben_join = ben("join", uri.group(1), input="y\n")
    cleo_join = cleo("join", str(png), "--accept-rules")  # decodes the PNG Ann's device wrote
    for joined in (ben_join, cleo_join):
        assert "Group: Tuesday circle" in joined.output and "A quiet place." in joined.output
        assert "You accepted the group's rules" in joined.output
        assert "An admin has to approve you" in joined.output
    (ben_number,), (cleo_number,) = safety_numbers(ben_join.output), \
        safety_numbers(cleo_join.output)
    ben_id = re.search(r"request with the fingerprint ((?:[0-9a-f]{4} ?){4})", ben_join.output)
    assert ben_id  # what the joiner tells the admin, who finds the request by it

    pending = ann("requests")
    assert sorted(safety_numbers(pending.output)) == sorted([ben_number, cleo_number])
    assert pending.output.count("accepted the group's rules") == 2
    # Approving asks whether the numbers match; 'n' changes nothing.
    refused = ann("approve", ben_id.group(1).strip(), input="n\n", expect=1)
    assert "nothing was changed" in refused.output
    approved = ann("approve", ben_id.group(1).strip(), input="y\n")
    assert ben_number == safety_numbers(approved.output)[0]
    assert "is now a member" in approved.output
    ann("approve", "1", "--history", "current", "--yes")  # Cleo: the one left
    assert "Nobody is waiting" in ann("requests").output

    assert "Approved: you are a member of 'Tuesday circle'" in ben("wait", "--timeout",
                                                                   "20").output
    cleo("wait", "--timeout", "20")
    ben("name", "Ben")
    cleo("name", "Cleo")

    welcome = post_id(ann("post", "Welcome, both of you."))
    woke = cleo("wait", "--timeout", "20")  # returns as soon as something new arrived
    assert "new post" in woke.output and "Welcome, both of you." in woke.output
    reply = ben("post", "--reply-to", welcome, "--cw", "loss", input="My mother died in May.\n")
    assert "Replied" in reply.output
    attachment = root / "flow" / "note.txt"
    attachment.write_text("a poem")
    with_file = post_id(ben("post", "A poem that helped me.", "--attach", str(attachment)))
    ann("react", welcome, "💜")

    hidden = cleo("read")
    assert "Welcome, both of you." in hidden.output and "Content warning: loss" in hidden.output
    assert "My mother died in May." not in hidden.output  # behind its content warning
    assert "--show-cw" in hidden.output and "💜 1" in hidden.output
    shown = cleo("read", "--show-cw")
    assert "My mother died in May." in shown.output
    thread = cleo("read", "--show-cw", "--thread", welcome, "--no-sync")
    assert "A poem that helped me." not in thread.output

    assert f"attachment: {attachment.name} (text/plain" in cleo("read", "--no-sync").output
    saved = cleo("attachments", with_file, "--to", str(root / "flow" / "saved"))
    assert "saved" in saved.output
    (file,) = (root / "flow" / "saved").iterdir()
    assert file.name == attachment.name and file.read_text() == "a poem"
    assert file.stat().st_mode & 0o077 == 0
    cleo("attachments", with_file, "--to", str(root / "flow" / "saved"))  # never overwrites
    again = root / "flow" / "saved" / f"{attachment.stem} (2){attachment.suffix}"
    assert again.read_text() == "a poem" and file.read_text() == "a poem"

    members = ann("members")
    assert re.search(r"Ann \(you\)\s+owner", members.output)
    assert re.search(r"Ben\s+member", members.output) and "Cleo" in members.output
    ann("role", "Cleo", "moderator")
    assert re.search(r"Cleo\s+moderator", ann("members", "--no-sync").output)

    shown_number = safety_numbers(ann("verify", "Ben").output)
    assert shown_number == [ben_number]
    assert "numbers match" in ann("verify", "Ben", ben_number).output
    wrong = ann("verify", "Ben", "1" * 60, expect=1)
    assert "do NOT match" in only_error(wrong)

    info = ann("group", "info")
    assert "What is said here stays here." in info.output and "members:" in info.output
    # The group code two members compare in person (issue 8, point 9): the same at the same
    # entry on two devices, different at another entry.
    shown = r"group code:\s+([\d ]+?) \(at entry (\d+)\)"
    ann_code = re.search(shown, info.output)
    assert ann_code is not None
    cleo_code = re.search(shown, cleo("group", "info", "--code-at", ann_code[2]).output)
    assert cleo_code is not None and cleo_code.groups() == ann_code.groups()
    first = re.search(shown, cleo("group", "info", "--code-at", "0").output)
    assert first is not None and first[1] != ann_code[1]
    listing = ann("group", "list")
    assert re.search(r"1\s+Tuesday circle\s+member\s+owner\s+3", listing.output)

    removed = ann("remove", "Ben", "--yes")
    assert "Removed Ben" in removed.output
    refused_post = ben("post", "Am I still here?", expect=1)
    assert "no longer a member" in only_error(refused_post)
    ann("post", "After Ben left.")
    later = cleo("read")
    assert "After Ben left." in later.output
    assert re.search(r"Ben\s+member", cleo("members").output) is None

    assert "Ben" in ann("sync").output or "nothing new" in ann("sync").output
    cleo("leave", "--yes")
    assert "no group yet" in cleo("group", "list").output


@pytest.mark.slow
def test_error_paths(root: Path, relay: RelayProcess, monkeypatch: pytest.MonkeyPatch) -> None:
    ann = Person("ann", root / "errors", relay)
    ann("group", "create", "First")
    ann("group", "create", "Second group")

    wrong = ann("group", "list", passphrase="not the passphrase", expect=1)
    assert "wrong passphrase" in only_error(wrong)
    # At the prompt a person gets three tries; a right one after a wrong one works.
    retried = ann("group", "list", input=f"typo\n{ann.passphrase}\n", passphrase=None)
    assert "does not open" in retried.output and "Second group" in retried.output
    thrice = ann("group", "list", input="a\nb\nc\n", passphrase=None, expect=1)
    assert thrice.stderr.strip().splitlines()[-1].startswith("vault: wrong passphrase")
    assert "does not open" in thrice.stderr

    bad_uri = ann("join", "https://relay.example.org/join#v1.not-an-invite", expect=1)
    only_error(bad_uri)
    not_vault = ann("join", "hello there", expect=1)
    assert "not a Vault invite" in only_error(not_vault)
    no_qr = root / "errors" / "blank.png"
    from PIL import Image

    Image.new("RGB", (64, 64), "white").save(no_qr)
    assert "no QR code" in only_error(ann("join", str(no_qr), expect=1))
    assert "there is no file" in only_error(ann("join", "missing.png", expect=1))

    assert "no group matches 'nosuch'" in only_error(ann("read", "-g", "nosuch", expect=1))
    assert "2 groups" in only_error(ann("read", expect=1))
    assert "First" in ann("read", "-g", "1").output  # by number
    assert "Second group" in ann("read", "-g", "second").output  # by the start of a name
    group_id = re.search(r"id:\s+(\S+)", ann("group", "info", "2").output)
    assert group_id and "Second group" in ann("read", "-g", group_id.group(1)[:6]).output

    assert "nothing to post" in only_error(ann("post", "-g", "1", input="\n", expect=1))
    # In a terminal, `vault post` opens an editor, which does not inherit the passphrase.
    editor = root / "errors" / "editor.sh"
    editor.write_text('#!/bin/sh\nprintf "from the editor: %s\\n" '
                      '"${VAULT_PASSPHRASE:-no passphrase here}" > "$1"\n')
    editor.chmod(0o755)
    monkeypatch.setattr(_posting, "stdin_is_terminal", lambda: True)
    ann("post", "-g", "1", env={"EDITOR": str(editor)})
    assert "from the editor: no passphrase here" in ann("read", "-g", "1").output
    assert "no post matches" in only_error(ann("react", "-g", "1", "zzzzzzzz", "+1",
                                               expect=1))
    assert "that is you" in only_error(ann("verify", "-g", "1", "me", expect=1))
    assert "nothing new within" in only_error(ann("wait", "-g", "1", "--timeout", "1",
                                                  expect=3))
    bad_expiry = ann("invite", "-g", "1", "--expires", "soon", expect=2)
    assert "not a duration" in bad_expiry.output

    # Export and import move an identity; a wrong export passphrase is one clear line.
    export = root / "errors" / "first.vaultid"
    transfer = "a transfer passphrase for the phone\n"
    ann("export-identity", "-g", "1", str(export), input=transfer * 2)
    assert export.stat().st_mode & 0o077 == 0
    assert "already exists" in only_error(ann("export-identity", "-g", "1", str(export),
                                              input="x\nx\n", expect=1))
    assert "already in that group" in only_error(
        ann("import-identity", str(export), input=transfer, expect=1))
    moved = Person("ann-phone", root / "errors", relay)
    bad = moved("import-identity", str(export), input="wrong\n", expect=1)
    only_error(bad)
    moved("import-identity", str(export), input="a transfer passphrase for the phone\n")
    assert "First" in moved("group", "list").output

    # Wipe asks first; with --yes it destroys the home without needing the passphrase.
    ann("wipe", input="n\n", expect=1)
    assert ann.home.exists()
    assert "overwritten and deleted" in ann("wipe", "--yes", passphrase=None).output
    assert not (ann.home / "keystore.vault").exists()


def test_units() -> None:
    assert parse_duration("90") == 90 and parse_duration("2h") == 7200
    assert parse_duration("7d") == 7 * 86400 and parse_duration("1w") == 7 * 86400
    with pytest.raises(click.BadParameter):
        parse_duration("tomorrow")
    # Security problems are worded as such; sync warnings go to stderr, prominently.
    assert "SECURITY WARNING" in from_error(RollbackError("the relay rolled the log back")).message
    assert "SECURITY WARNING" in from_error(ForkError("two logs")).message

    class Reported:
        def __init__(self) -> None:
            self.found = [PostsWithheld("g", "2 posts by Ben are missing", "b", ((3, 4),), 2)]

        def warnings(self) -> list[PostsWithheld]:
            return list(self.found)

    @click.command()
    def show() -> None:
        client, state = Reported(), State()
        show_warnings(client, state)  # type: ignore[arg-type]
        show_warnings(client, state)  # type: ignore[arg-type]  # each is printed once
        client.found.append(PostsWithheld("g", "1 post by Cleo is missing", "c", ((7, 7),), 1))
        show_warnings(client, state)  # type: ignore[arg-type]

    result = CliRunner().invoke(show)
    assert result.stderr == ("WARNING: 2 posts by Ben are missing\n"
                             "WARNING: 1 post by Cleo is missing\n")


def test_what_became_of_a_post_is_said_as_it_is() -> None:
    """`vault post` and its siblings say what became of the post: sent; kept on this device,
    with what it waits for; or refused, as a failure with the reason (exit status 1)."""
    client: Any = object()

    @click.command()
    @click.argument("case")
    def show(case: str) -> None:
        if case == "sent":
            _posting.report_posted(client, Posted("g", "sent-post-id", True), "Posted")
        elif case == "queued":
            _posting.report_posted(client, Posted("g", "waiting-post-id", False, "queued",
                                            "the relay cannot be reached; it will be sent "
                                            "when the relay is back"), "Replied")
        else:
            _posting.report_posted(client, Posted("g", "refused-post-id", False, "refused",
                                            "the relay refused a post, so it was not sent: "
                                            "too late"), "Posted")

    assert CliRunner().invoke(show, ["sent"]).output == "Posted (id sent-pos).\n"
    queued = CliRunner().invoke(show, ["queued"])
    assert queued.exit_code == 0 and queued.output.startswith(
        "Saved on this device, not sent yet (id waiting-): the relay cannot be reached")
    refused = CliRunner().invoke(show, ["refused"])
    assert refused.exit_code == 1 and "not sent: the relay refused a post" in refused.output


def test_relay_group_without_the_relay_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    import importlib.util

    from vault_client import cli as cli_module

    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    stand_in = cli_module._relay_group()
    result = CliRunner().invoke(stand_in, ["serve"])
    assert result.exit_code == 2
    assert "pip install 'vault[relay]'" in result.stderr
    # With it installed, `vault relay` is the relay's own group.
    assert {"serve", "purge", "migrate"} <= set(cli.commands["relay"].commands)  # type: ignore[attr-defined]


@pytest.mark.slow
def test_installed_command(root: Path, relay: RelayProcess) -> None:
    """The installed `vault` script, as a person's shell runs it."""
    home = root / "installed"
    passphrase = "a passphrase only the environment knows"
    env = {**os.environ, "VAULT_HOME": str(home), "VAULT_RELAY": relay.url,
           "VAULT_PASSPHRASE": passphrase, "VAULT_CONFIG": str(root / "installed.toml")}
    env.pop("VAULT_GROUP", None)

    def vault(*args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([VAULT, *args], env=env, capture_output=True, text=True,
                              timeout=60, check=False)
        assert done.returncode == 0, (args, done.stdout, done.stderr)
        assert passphrase not in done.stdout + done.stderr
        return done

    created = vault("group", "create", "Morning walkers", "--as", "Dee")
    assert "Created 'Morning walkers'" in created.stdout
    png = home.parent / "walkers.png"
    invite = vault("invite", "--png", str(png), "--no-qr", "--pre-authorised")
    assert png.read_bytes().startswith(b"\x89PNG") and "without approval" in invite.stdout
    listing = vault("group", "list")
    assert re.search(r"1\s+Morning walkers\s+member\s+owner\s+1", listing.stdout)
    failed = subprocess.run([VAULT, "read", "-g", "nope"], env=env, capture_output=True,
                            text=True, timeout=60, check=False)
    assert failed.returncode == 1 and failed.stderr.strip() == \
        "vault: no group matches 'nope'; see `vault group list`"


def test_arguments_that_begin_with_a_dash_are_ids() -> None:
    """How every member command splits what it is given (ids are base64url: one in 64
    begins with "-", one in 4,096 with "--")."""
    from vault_client.cli._ids import split_arguments
    from vault_client.cli._joining import approve_command, revoke_invite
    from vault_client.cli._reading import read_command

    assert split_arguments(approve_command, ["-q36DYln"]) == ["--", "-q36DYln"]
    assert split_arguments(approve_command, ["-g", "2", "-q36DYln", "-y"]) == \
        ["-g", "2", "-y", "--", "-q36DYln"]
    assert split_arguments(approve_command, ["-g3", "--role", "moderator", "-yq36"]) == \
        ["-g3", "--role", "moderator", "--", "-yq36"]
    assert split_arguments(approve_command, ["-gx9", "-y"]) == ["-y", "--", "-gx9"]
    assert split_arguments(approve_command, ["-y", "abc"]) == ["-y", "abc"]  # unchanged
    assert split_arguments(approve_command, ["--history=none", "--QtdM"]) == \
        ["--history=none", "--", "--QtdM"]
    assert split_arguments(revoke_invite, ["--", "-abc"]) == ["--", "-abc"]
    assert split_arguments(read_command, ["--thread", "-abc", "-g", "-def"]) == \
        ["--thread", "-abc", "-g", "-def"]  # option values stay with their option


@pytest.mark.slow
def test_any_printed_id_is_accepted(root: Path, relay: RelayProcess) -> None:
    """Posts whose ids begin with "-": the ids `vault` prints for them work in every
    command that takes a post."""
    from vault_client import Client

    ann = Person("ann", root / "dash", relay)
    ann("group", "create", "Dashes", "--as", "Ann")
    with Client(ann.passphrase, home=ann.home) as client:
        (group,) = client.groups()
        dashed = None
        for number in range(2000):
            posted = client.post(group.group_id, f"post {number}")
            if posted.post_id.startswith("-"):
                dashed = posted.post_id
                break
        assert dashed is not None
    shown = ann("read", "--thread", dashed[:8])
    assert f"[{dashed[:8]}]" in shown.output
    ann("react", dashed[:8], "🤍")
    ann("edit", dashed, "edited with a dash id")
    ann("post", "--reply-to", dashed[:8], "a reply")
    done = ann("delete", dashed[:8], "--yes")
    assert "Deleted" in done.output
