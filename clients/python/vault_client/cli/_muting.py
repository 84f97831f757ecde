"""``vault mute`` and ``unmute``: a member's posts shown collapsed on this device only."""

from __future__ import annotations

import click

from vault_client import Client, GroupInfo
from vault_client.cli._config import State, pass_state
from vault_client.cli._formatting import SHORT, group_label, member_label
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import group_option, session
from vault_client.cli._references import find_member

ID_LENGTH = 43  # a member id as Vault prints it whole (32 bytes, base64url)


def who_is(client: Client, info: GroupInfo, who: str) -> tuple[str, str]:
    """(member id, how to name them): a current member as `find_member` finds them, or a
    former member by their id (whole, or the start of a muted one's)."""
    ref = who.strip()
    current = {m.member_id for m in client.members(info.group_id)}
    former = [m for m in client.muted(info.group_id) if m not in current
              and len(ref) >= SHORT and m.startswith(ref)]
    if len(former) == 1:
        return former[0], f"former member {former[0][:SHORT]}"
    if len(ref) == ID_LENGTH and ref not in current:  # (the SDK checks they were a member)
        return ref, f"former member {ref[:SHORT]}"
    member = find_member(client, info, who)
    return member.member_id, member_label(member)


@click.command("mute", cls=IdCommand)
@group_option
@click.argument("who", metavar="MEMBER")
@pass_state
def mute_command(state: State, group_ref: str | None, who: str) -> None:
    """Show a member's posts collapsed on this device (`vault read --show-muted` shows
    them). Nobody is told, and nothing changes for anyone else. A former member: give
    their id."""
    client, info = session(state, group_ref)
    member_id, label = who_is(client, info, who)
    client.mute(info.group_id, member_id)
    click.echo(f"{label} is muted in {group_label(info)} on this device: "
               "their posts are shown collapsed here. Nobody else is told.")


@click.command("unmute", cls=IdCommand)
@group_option
@click.argument("who", metavar="MEMBER")
@pass_state
def unmute_command(state: State, group_ref: str | None, who: str) -> None:
    """Show a muted member's posts like everyone else's again (on this device)."""
    client, info = session(state, group_ref)
    member_id, label = who_is(client, info, who)
    client.unmute(info.group_id, member_id)
    click.echo(f"{label}'s posts are shown again in {group_label(info)}.")
