"""The ``vault`` command line: a member's client built on the SDK's public API only.

    vault group create "Tuesday circle" --relay https://relay.example.org
    vault invite --png invite.png            # the QR code, in the terminal and as an image
    vault join invite.png                    # on the joiner's device (a photo works too)
    vault requests && vault approve 1        # after comparing safety numbers
    vault post "Welcome." && vault read

Passphrases are asked for at a hidden prompt, or read from ``$VAULT_PASSPHRASE`` (scripts);
never from the command line. ``$VAULT_HOME`` chooses where keys and the local store live,
``$VAULT_RELAY`` (or ``vault config --relay``) the relay new groups are created on.

``vault relay serve|purge|migrate`` run a relay; they are attached from :mod:`vault.cli`
when the relay's dependencies are installed (``pip install 'vault[relay]'``).
"""

from __future__ import annotations

import importlib
import importlib.util
import os
from typing import Any

import click

from vault_client import VaultError
from vault_client.cli._commands import COMMANDS
from vault_client.cli._config import State, take_secrets
from vault_client.cli._failures import DEBUG_ENV, Unavailable, from_error
from vault_client.cli._prompts import interrupted

__all__ = ["cli", "main"]


class VaultGroup(click.Group):
    """The root command: SDK errors become one ``vault: ...`` line, never a traceback."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (click.exceptions.ClickException, click.exceptions.Exit, click.exceptions.Abort):
            raise
        except KeyboardInterrupt:
            raise interrupted(ctx.find_object(State)) from None
        except Exception as error:
            if os.environ.get(DEBUG_ENV) and not isinstance(error, VaultError):
                raise
            raise from_error(error) from None


@click.group(cls=VaultGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--home", envvar="VAULT_HOME", metavar="DIR", type=click.Path(file_okay=False),
              help="Where this device's keys and local store live. [env: VAULT_HOME; default: "
                   "the user data folder]")
@click.option("--relay", envvar="VAULT_RELAY", metavar="URL",
              help="The relay new groups are created on. [env: VAULT_RELAY; default: "
                   "`vault config --relay`]")
@click.version_option(package_name="vault", prog_name="vault")
@click.pass_context
def cli(ctx: click.Context, home: str | None, relay: str | None) -> None:
    """Vault: end-to-end encrypted spaces for small support groups.

    Everything you write is encrypted on this device; the relay only stores and passes on
    what it cannot read. Start with `vault group create NAME` or `vault join INVITE`.

    Your passphrase is asked for when a command needs your keys (or set VAULT_PASSPHRASE
    for scripts). Commands that act on a group take -g/--group: its number or name from
    `vault group list`, or its id; it is not needed while you are in one group only.
    """
    ctx.obj = State(home=home, relay=relay, secrets=take_secrets())


_SHORT_HELP = {
    "app": "Open Vault in your web browser (the member app).",
    "approve": "Admit someone waiting to join (admins).",
    "backup": "Back up every group, under twelve words shown once.",
    "deny": "Refuse someone waiting to join (admins).",
    "export-identity": "Save your identity in a group, to move it to another device.",
    "forget": "Delete a group from this device without telling anyone.",
    "import-identity": "Take an identity exported on another device.",
    "invite": "Make an invite: a QR code to scan, or a link (admins).",
    "invites": "The group's invites, with uses left and expiry (admins).",
    "join": "Join a group with an invite link or a picture of its QR code.",
    "leave": "Leave a group; this device then forgets it.",
    "members": "Who is in a group, with their roles.",
    "name": "Set how you appear to a group's members.",
    "post": "Post to a group (or reply, with --reply-to).",
    "pin": "Pin a post for everyone (moderators, admins).",
    "poll": "Ask a group a question with options to vote on.",
    "read": "Read a group's posts as threads.",
    "remove": "Remove a member; they read nothing new (admins).",
    "requests": "People waiting to join, with safety numbers (admins).",
    "restore": "Restore a backup onto this device with its twelve words.",
    "role": "Change a member's role (admins).",
    "sync": "Fetch and check what is new; send waiting posts.",
    "unpin": "Unpin a post for everyone (moderators, admins).",
    "verify": "Show or check your safety number with a member.",
    "vote": "Vote in a poll (again to change your vote).",
    "wait": "Wait for approval, or for something new in a group.",
    "wipe": "Destroy everything Vault keeps on this device.",
}

for _command in COMMANDS:
    if _command.name in _SHORT_HELP:
        _command.short_help = _SHORT_HELP[_command.name]
    cli.add_command(_command)


def _relay_group() -> click.Command:
    """``vault relay`` from :mod:`vault.cli` when the relay extra is installed; else a
    stand-in that says how to install it."""
    if importlib.util.find_spec("flask") is not None:
        try:  # imported by name: the relay is no part of the SDK (nor of its type checks)
            relay = importlib.import_module("vault.cli").relay
        except (ImportError, AttributeError):
            pass
        else:
            if isinstance(relay, click.Command):
                return relay

    @click.command("relay", context_settings={"ignore_unknown_options": True})
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def missing(args: tuple[str, ...]) -> None:
        """Run a relay (needs: pip install 'vault[relay]')."""
        raise Unavailable("running a relay needs the relay's dependencies, which are not "
                          "installed: pip install 'vault[relay]'")

    return missing


cli.add_command(_relay_group(), "relay")


def main(argv: list[str] | None = None) -> Any:
    """The console entry point (``vault``)."""
    return cli.main(args=argv, prog_name="vault")


if __name__ == "__main__":  # pragma: no cover
    main()
