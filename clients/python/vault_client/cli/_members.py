"""``vault members``, ``rules``, ``name``, ``role``, ``remove``, ``leave``, ``forget`` and
``verify``."""

from __future__ import annotations

from collections.abc import Sequence

import click

from vault_client.cli._config import State, pass_state
from vault_client.cli._failures import Failure, fail
from vault_client.cli._formatting import (
    SHORT,
    digits,
    group_label,
    member_label,
    note,
    safety_block,
)
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import (
    ROLES,
    group_option,
    parse_role,
    session,
    table,
    yes_option,
)
from vault_client.cli._prompts import confirm, open_client
from vault_client.cli._references import find_group, find_member, sync_quietly


@click.command("members", cls=IdCommand)
@group_option
@click.option("--no-sync", is_flag=True, help="Show this device's copy without asking the relay.")
@pass_state
def members_command(state: State, group_ref: str | None, no_sync: bool) -> None:
    """Who is in the group, with roles (numbered for the commands that take a member)."""
    client, info = session(state, group_ref)
    if not no_sync:
        info = sync_quietly(client, info)
    with_rules = bool(info.rules.strip())
    rows = [("#", "NAME", "ROLE", "FINGERPRINT", "ID", *(("RULES",) if with_rules else ()))]
    for number, member in enumerate(client.members(info.group_id), 1):
        name = (member_label(member) if member.display_name else "(no name yet)") + (
            " (you)" if member.is_me else "") + (" (muted)" if member.muted else "")
        rows.append((str(number), name, member.role.name.lower(), member.fingerprint,
                     member.member_id[:SHORT],
                     *((ACCEPTED[member.accepted_rules],) if with_rules else ())))
    table(rows)


ACCEPTED = {"current": "accepted", "earlier": "earlier rules", "none": "not yet",
            "unknown": "cannot tell yet"}


@click.command("rules", cls=IdCommand)
@group_option
@click.option("--accept", is_flag=True, help="Accept them (you are asked otherwise).")
@pass_state
def rules_command(state: State, group_ref: str | None, accept: bool) -> None:
    """The group's rules, and whether you accepted them; accept them when they changed."""
    client, info = session(state, group_ref)
    info = sync_quietly(client, info)
    if not info.rules.strip():
        click.echo(f"{group_label(info)} has no rules.")
        return
    click.echo(f"The rules of {group_label(info)}:\n\n{info.rules}\n")
    if not info.rules_to_accept:
        click.echo("You have accepted them.")
        return
    confirm("You have not accepted these rules yet. Do you accept them?", accept)
    client.accept_rules(info.group_id, info.rules_id)  # refused if they changed meanwhile
    click.echo("You accepted the rules; the group's admins see it.")


@click.command("name", cls=IdCommand)
@group_option
@click.argument("name")
@pass_state
def name_command(state: State, group_ref: str | None, name: str) -> None:
    """Set how you appear to the group's members (encrypted; each group separately)."""
    client, info = session(state, group_ref)
    client.set_display_name(info.group_id, name)
    click.echo(f"Members of {group_label(info)} see you as {name}.")


@click.command("role", cls=IdCommand)
@group_option
@click.argument("who", metavar="MEMBER")
@click.argument("role", type=click.Choice(ROLES, case_sensitive=False))
@pass_state
def role_command(state: State, group_ref: str | None, who: str, role: str) -> None:
    """Change a member's role (admins; only owners make admins and owners)."""
    client, info = session(state, group_ref)
    member = find_member(client, info, who)
    client.set_role(info.group_id, member.member_id, parse_role(role))
    click.echo(f"{member_label(member)} is now {role.lower()}.")


@click.command("remove", cls=IdCommand)
@group_option
@click.argument("who", metavar="MEMBER")
@click.option("--revoke-invites", is_flag=True,
              help="Also revoke every invite that could still admit someone, so an invite "
                   "they kept lets nobody in.")
@yes_option
@pass_state
def remove_command(state: State, group_ref: str | None, who: str, revoke_invites: bool,
                   yes: bool) -> None:
    """Remove a member (admins). A new group key is started: they can read nothing posted
    from now on, and their key can never rejoin."""
    client, info = session(state, group_ref)
    member = find_member(client, info, who)
    if member.is_me:
        fail("that is you; to go, use `vault leave`")
    extra = " and revoke every open invite" if revoke_invites else ""
    confirm(f"Remove {member_label(member)} from {group_label(info)}{extra}?", yes)
    revoked = client.remove(info.group_id, member.member_id, revoke_invites=revoke_invites)
    click.echo(f"Removed {member_label(member)}. A new key was shared with everyone else.")
    if revoke_invites:
        click.echo(f"Revoked {revoked} open invite{'' if revoked == 1 else 's'}: nobody can "
                   "join with them any more.")


@click.command("leave", cls=IdCommand)
@group_option
@click.option("--hand-over-to", "heir", metavar="MEMBER",
              help="The group's last owner names the member who becomes owner instead.")
@click.option("--discard-unsent", is_flag=True,
              help="Leave even though some of your posts were not sent yet (they are lost).")
@yes_option
@pass_state
def leave_command(state: State, group_ref: str | None, heir: str | None,
                  discard_unsent: bool, yes: bool) -> None:
    """Leave a group. This device then forgets it: its keys and posts."""
    client, info = session(state, group_ref)
    successor = None if heir is None else find_member(client, info, heir)
    if successor is not None and successor.is_me:
        fail("name another member to hand the group over to")
    extra = "" if successor is None else f" {member_label(successor)} becomes its owner."
    confirm(f"Leave {group_label(info)}?{extra} To come back you would need a new invite.",
            yes)
    client.leave(info.group_id, hand_over_to=None if successor is None else
                 successor.member_id, discard_unsent=discard_unsent)
    click.echo(f"You left {group_label(info)}; this device no longer keeps anything of it.")


@click.command("forget", cls=IdCommand)
@group_option
@yes_option
@pass_state
def forget_command(state: State, group_ref: str | None, yes: bool) -> None:
    """Delete a group from this device without telling anyone: after you were removed, a
    request was refused, or the identity moved to another device."""
    client = open_client(state)
    info = find_group(client, group_ref, ("denied", "removed", "left"))
    if info.status == "member":
        note("This device is still a member; members will keep seeing you in the group. To "
             "end your membership, use `vault leave` instead.")
    confirm(f"Delete {group_label(info)} and its keys and posts from this device?", yes)
    client.forget_group(info.group_id)
    click.echo(f"This device no longer keeps anything of {group_label(info)}.")


@click.command("verify", cls=IdCommand)
@group_option
@click.argument("who", metavar="MEMBER")
@click.argument("number", nargs=-1)
@pass_state
def verify_command(state: State, group_ref: str | None, who: str, number: Sequence[str]) -> None:
    """Show your safety number with a member, or check the NUMBER they read out to you."""
    client, info = session(state, group_ref)
    info = sync_quietly(client, info)  # the keys as the group's log has them now
    member = find_member(client, info, who)
    if member.is_me:
        fail("that is you; a safety number is compared with another member")
    mine = client.safety_number(info.group_id, member.member_id)
    label = member_label(member)
    if not number:
        click.echo(f"Your safety number with {label}:\n")
        click.echo(safety_block(mine))
        click.echo(f"\nCompare it with the number {label}'s device shows for you, in person or "
                   "on a call. The same number means nobody is in between.")
        return
    given = digits(" ".join(number))
    if given == digits(mine):
        click.echo(f"The numbers match: the keys your device sees are {label}'s.")
        return
    raise Failure(f"the numbers do NOT match. The keys your device sees for {label} may not "
                  "be theirs: do not trust this member's messages, and tell an admin.",
                  alarm=True)
