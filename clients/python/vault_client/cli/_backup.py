"""``vault backup`` (every group on this device, to a file, under twelve words shown once)
and ``vault restore`` (that file onto a new device)."""

from __future__ import annotations

import os
import time

import click

from vault_client.cli._config import RECOVERY_PHRASE_ENV, State, pass_state, private_file
from vault_client.cli._failures import fail
from vault_client.cli._ids import IdCommand
from vault_client.cli._prompts import env_passphrase, open_client


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
    if made.groups == 0:
        fail("you are in no group on this device yet: there is nothing to back up")
    with private_file(path, overwrite=force) as handle:
        handle.write(made.data)
    click.echo(f"Backed up {made.groups} group{'s' if made.groups != 1 else ''} to {path}.")
    click.echo("\nYour recovery phrase (shown only now; write it on paper, in this order):\n")
    for number, word in enumerate(made.recovery_phrase.split(), 1):
        click.echo(f"  {number:2}. {word}")
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
    results = client.restore(data, phrase)
    failed = 0
    for result in results:
        name = result.group.name if result.group is not None and result.group.name \
            else result.group_id
        if result.outcome == "restored":
            click.echo(f"restored: {name}")
        elif result.outcome == "already_here":
            click.echo(f"already on this device: {result.group_id}")
        elif result.outcome == "not_a_member":
            click.echo(f"not restored, no longer a member: {result.group_id}")
        else:
            failed += 1
            click.echo(f"not restored: {result.group_id}: {result.error}")
    if failed:
        fail(f"{failed} group{'s' if failed != 1 else ''} could not be restored; the others "
             "are on this device. Run `vault restore` again later to retry.")
