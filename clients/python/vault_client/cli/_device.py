"""This device: ``vault config`` (its settings), ``export-identity`` and
``import-identity`` (moving a member identity between devices), and ``wipe``."""

from __future__ import annotations

import os

import click

from vault_client import normalize_relay_url, wipe_home
from vault_client.cli._config import (
    State,
    config_path,
    pass_state,
    private_file,
    read_config,
    write_config,
)
from vault_client.cli._failures import fail
from vault_client.cli._formatting import group_label
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import group_option, session, yes_option
from vault_client.cli._prompts import (
    confirm,
    new_transfer_passphrase,
    open_client,
    transfer_passphrase,
)
from vault_client.errors import InviteUriError


@click.command("config", cls=IdCommand)
@click.option("--relay", "new_relay", metavar="URL",
              help="Save the relay new groups are created on.")
@click.option("--unset-relay", is_flag=True, help="Forget the saved relay.")
@pass_state
def config_command(state: State, new_relay: str | None, unset_relay: bool) -> None:
    """Show or change this computer's Vault settings."""
    path = config_path()
    values = {k: v for k, v in read_config(path).items() if isinstance(v, str)}
    if new_relay is not None or unset_relay:
        if new_relay is not None:
            try:
                values["relay"] = normalize_relay_url(new_relay)
            except InviteUriError:
                fail(f"'{new_relay}' is not a relay address: write it like "
                     "https://relay.example.org (plain http only for this computer, such as "
                     "http://127.0.0.1:8080)")
        else:
            values.pop("relay", None)
        write_config(values, path)
        click.echo(f"Saved in {path}.")
    click.echo(f"settings file: {path}")
    click.echo(f"home (keys and local store): {state.home_dir}")
    relay = state.relay_url()
    click.echo(f"relay for new groups: {relay or '(none: set one with vault config --relay URL)'}")


@click.command("export-identity", cls=IdCommand)
@group_option
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@pass_state
def export_identity_command(state: State, group_ref: str | None, path: str, force: bool) -> None:
    """Save your identity in a group to a file sealed with a passphrase, to move it to
    another device (`vault import-identity` there). [env: VAULT_TRANSFER_PASSPHRASE]"""
    if os.path.exists(path) and not force:
        fail(f"{path} already exists; choose another name or add --force")
    client, info = session(state, group_ref)
    passphrase = new_transfer_passphrase()
    data = client.export_identity(info.group_id, passphrase)
    with private_file(path, overwrite=force) as handle:
        handle.write(data)
    click.echo(f"Your identity in {group_label(info)} is in {path}.")
    click.echo("Keep the file as safe as this device. Use the identity on one device only: "
               "once it is imported on the other one, remove it here with `vault forget` "
               "(not `vault leave`, which would end your membership).")


@click.command("import-identity", cls=IdCommand)
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_state
def import_identity_command(state: State, path: str) -> None:
    """Take an identity exported with `vault export-identity` and sync its group."""
    with open(path, "rb") as handle:
        data = handle.read()
    client = open_client(state, create=True)
    info = client.import_identity(data, transfer_passphrase())
    click.echo(f"Imported: this device is now your member identity in {group_label(info)}.")


@click.command("wipe", cls=IdCommand)
@yes_option
@pass_state
def wipe_command(state: State, yes: bool) -> None:
    """Destroy everything Vault keeps on this device: every identity, key and post. No
    passphrase is needed. This cannot be undone."""
    home = state.home_dir
    confirm(f"Destroy every Vault identity, key and post kept in {home}? Your groups will "
            "still list you until an admin removes you; you cannot get back in without a new "
            "invite.", yes)
    if wipe_home(home):
        click.echo(f"Everything Vault kept in {home} was overwritten and deleted.")
    else:
        click.echo(f"There was nothing to wipe in {home}.")
