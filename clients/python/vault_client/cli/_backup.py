"""``vault backup`` (every group on this device, to a file, under twelve words shown once)
and ``vault restore`` (that file onto a new device)."""

from __future__ import annotations

import os
import sys
import time

import click

from vault_client.cli._config import RECOVERY_PHRASE_ENV, State, pass_state, private_file
from vault_client.cli._failures import fail
from vault_client.cli._formatting import note
from vault_client.cli._ids import IdCommand
from vault_client.cli._prompts import env_passphrase, open_client
from vault_client.errors import ForkError, KeystoreLockedError, RollbackError


@click.command("backup", cls=IdCommand)
@click.argument("path", type=click.Path(dir_okay=False), required=False)
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@pass_state
def backup_command(state: State, path: str | None, force: bool) -> None:
    """Back up every group on this device to PATH (default: vault-backup-DATE.vault here),
    sealed under twelve words shown once. With the file and the words, `vault restore`
    brings your groups back on a new device if this one is lost."""
    path = path or f"vault-backup-{time.strftime('%Y-%m-%d')}.vault"
    if os.path.exists(path) and not force:
        fail(f"{path} already exists; choose another name or add --force")
    client = open_client(state)
    made = client.backup()
    if force and os.path.exists(path):
        os.remove(path)  # (written anew, owner-only: not truncated, keeping another mode)
    with private_file(path, overwrite=False) as handle:
        handle.write(made.data)
    client.backup_saved(made)
    click.echo(f"Backed up {made.groups} group{'s' if made.groups != 1 else ''} to {path}.")
    if made.left_out:
        click.echo(f"Not in it: {made.left_out} group{'s' if made.left_out != 1 else ''} you "
                   "are still waiting to join (or creating); make a new backup once you are in.")
    click.echo("\nYour recovery phrase (shown only now; write it on paper, in this order):\n")
    for number, word in enumerate(made.recovery_phrase.split(), 1):
        click.echo(f"  {number:2}. {word}")
    if not sys.stdout.isatty():
        note("The twelve words went to a file or another program, not to a screen: make "
             "sure they are not kept there.")
    click.echo("\nWhoever has both the file and these words can be you in every group: keep "
               "them apart, and never type the words into anything but Vault. Groups you "
               "join later are not in this backup; make a new one then.")


@click.command("restore", cls=IdCommand)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_state
def restore_command(state: State, path: str) -> None:
    """Restore a backup made with `vault backup` onto this device: asks for its twelve
    words. [env: VAULT_RECOVERY_PHRASE]"""
    with open(path, "rb") as handle:
        data = handle.read()
    client = open_client(state, create=True)
    phrase = env_passphrase(RECOVERY_PHRASE_ENV)
    if phrase is None:
        phrase = click.prompt("The twelve words of the recovery phrase", hide_input=True,
                              err=True)
    try:
        results = client.restore(data, phrase)
    except KeystoreLockedError as error:  # (not this device's passphrase: the words)
        fail(error.message)
    names = {info.group_id: info.name for info in client.groups() if info.name}
    failed = 0
    for result in results:
        name = names.get(result.group_id) or result.group_id
        if result.outcome == "restored":
            click.echo(f"restored: {name}")
        elif result.outcome == "already_here":
            click.echo(f"already on this device: {name}")
        elif result.outcome == "not_a_member":
            click.echo(f"not restored, no longer a member: {name}")
        elif result.error_code in (RollbackError.code, ForkError.code):
            failed += 1
            click.echo(f"SECURITY WARNING: not restored: {name}: the relay served an older or "
                       f"different membership log than the backup had verified "
                       f"({result.error}). Do not trust this group's relay until you have "
                       "compared safety numbers with other members.", err=True)
        else:
            failed += 1
            click.echo(f"not restored: {name}: {result.error}")
    if failed:
        fail(f"{failed} group{'s' if failed != 1 else ''} could not be restored; the others "
             "are on this device. Run `vault restore` again later to retry.")
