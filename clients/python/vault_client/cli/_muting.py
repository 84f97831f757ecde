"""``vault mute`` and ``unmute``: a member's posts shown collapsed on this device only."""

from __future__ import annotations

import click

from vault_client.cli._config import State, pass_state
from vault_client.cli._formatting import group_label, member_label
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import group_option, session
from vault_client.cli._references import find_member


@click.command("mute", cls=IdCommand)
@group_option
@click.argument("who", metavar="MEMBER")
@pass_state
def mute_command(state: State, group_ref: str | None, who: str) -> None:
    """Show a member's posts collapsed on this device (`vault read --show-muted` shows
    them). Nobody is told, and nothing changes for anyone else."""
    client, info = session(state, group_ref)
    member = find_member(client, info, who)
    client.mute(info.group_id, member.member_id)
    click.echo(f"{member_label(member)} is muted in {group_label(info)} on this device: "
               "their posts are shown collapsed here. Nobody else is told.")


@click.command("unmute", cls=IdCommand)
@group_option
@click.argument("who", metavar="MEMBER")
@pass_state
def unmute_command(state: State, group_ref: str | None, who: str) -> None:
    """Show a muted member's posts like everyone else's again (on this device)."""
    client, info = session(state, group_ref)
    member = find_member(client, info, who)
    client.unmute(info.group_id, member.member_id)
    click.echo(f"{member_label(member)}'s posts are shown again in {group_label(info)}.")
