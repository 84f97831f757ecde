"""``vault invite``, ``revoke-invite`` and ``join``; an admin's ``requests``, ``approve``
and ``deny``."""

from __future__ import annotations

import os

import click

from vault.crypto.limits import MAX_INVITE_USES
from vault_client.cli._config import State, pass_state, private_file
from vault_client.cli._failures import TimedOut, fail
from vault_client.cli._formatting import SHORT, group_label, safety_block, when
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import (
    HISTORY_HELP,
    ROLES,
    duration_callback,
    group_option,
    parse_history,
    parse_role,
    session,
    table,
    yes_option,
)
from vault_client.cli._prompts import confirm, open_client
from vault_client.cli._references import find_request, sync_quietly
from vault_client.errors import JoinPendingError
from vault_client.types import InvitePreview


@click.command("invite", cls=IdCommand)
@group_option
@click.option("--max-uses", default=1, show_default=True,
              type=click.IntRange(1, MAX_INVITE_USES),
              help="How many people may use it.")
@click.option("--expires", default="7d", show_default=True, callback=duration_callback,
              metavar="DURATION",
              help="How long it is valid: 30m, 12h, 7d, 2w...")
@click.option("--require-approval/--pre-authorised", "require_approval", default=True,
              show_default=True,
              help="Require an admin to approve each person (after comparing safety "
                   "numbers), or let the invite admit them by itself.")
@click.option("--png", "png", type=click.Path(dir_okay=False), help="Also write the QR code "
              "as a PNG image here.")
@click.option("--svg", "svg", type=click.Path(dir_okay=False), help="Also write the QR code "
              "as an SVG image here.")
@click.option("--no-qr", is_flag=True, help="Do not draw the QR code in the terminal.")
@click.option("--force", is_flag=True, help="Overwrite image files that exist.")
@pass_state
def invite_command(state: State, group_ref: str | None, max_uses: int, expires: float,
                   require_approval: bool, png: str | None, svg: str | None, no_qr: bool,
                   force: bool) -> None:
    """Make an invite (admins): a QR code to scan, or a link to pass on in person."""
    for path in (png, svg):  # before the invite exists: a failure then leaves none behind
        if path is not None and os.path.exists(path) and not force:
            fail(f"{path} already exists; choose another name or add --force (no invite "
                 "was made)")
        if path is not None and not os.path.isdir(os.path.dirname(os.path.abspath(path))):
            fail(f"there is no folder {os.path.dirname(path)} for {path} (no invite was made)")
    client, info = session(state, group_ref)
    invite = client.create_invite(info.group_id, max_uses=max_uses, expires_in=expires,
                                  require_approval=require_approval)
    # From here on the invite exists: its link and id are printed whatever else happens.
    click.echo(f"invite id (to revoke it): {invite.invite_id}")
    if not no_qr:
        click.echo(str(invite.render_qr("text")))
    for path, fmt in ((png, "png"), (svg, "svg")):
        if path is not None:
            data = invite.render_qr(fmt)  # type: ignore[arg-type]
            with private_file(path, overwrite=force) as handle:
                handle.write(data.encode() if isinstance(data, str) else data)
            click.echo(f"QR code written to {path}")
    people = "1 person" if max_uses == 1 else f"up to {max_uses} people"
    click.echo(f"Invite to {group_label(info)} for {people}, valid until "
               f"{when(invite.expires_at_ms)}.")
    if require_approval:
        click.echo("Each person who scans it asks to join; approve them with `vault requests` "
                   "and `vault approve` after comparing safety numbers with them.")
    else:
        click.echo("It admits whoever uses it, without approval.")
    click.echo("Anyone holding this code can use it: show it only to the people it is for.")
    click.echo(f"invite link: {invite.uri}")
    click.echo("See every invite with `vault invites`; stop one with `vault revoke-invite ID`.")


@click.command("invites", cls=IdCommand)
@group_option
@click.option("--all", "show_all", is_flag=True, help="Also list invites that no longer work.")
@pass_state
def invites_command(state: State, group_ref: str | None, show_all: bool) -> None:
    """The group's invites (admins): uses left, expiry, and their ids to revoke them."""
    client, info = session(state, group_ref)
    sync_quietly(client, info)
    items = [i for i in client.invites(info.group_id) if show_all or i.usable]
    if not items:
        click.echo(f"No {'' if show_all else 'working '}invites for {group_label(info)}.")
        return
    rows = [("ID", "USES LEFT", "EXPIRES", "APPROVAL", "STATE")]
    for item in items:
        condition = ("works" if item.usable else "revoked" if item.revoked
                     else "used up" if item.uses_left == 0 else "expired or creator not admin")
        rows.append((item.invite_id, f"{item.uses_left} of {item.max_uses}",
                     when(item.expires_at_ms), "yes" if item.requires_approval else "no",
                     condition))
    table(rows)


@click.command("revoke-invite", cls=IdCommand)
@group_option
@click.argument("invite_id")
@pass_state
def revoke_invite(state: State, group_ref: str | None, invite_id: str) -> None:
    """Stop an invite from admitting anyone else (admins)."""
    client, info = session(state, group_ref)
    client.revoke_invite(info.group_id, invite_id)
    click.echo("The invite is revoked: nobody else can use it.")


@click.command("join", cls=IdCommand)
@click.argument("invite", metavar="INVITE")
@click.option("--name", "display_name", metavar="NAME", help="How you want to appear to "
              "members (set once you are admitted).")
@click.option("--wait", "wait_for", callback=duration_callback, default=None, metavar="DURATION",
              help="Wait this long for an admin to approve (e.g. 10m).")
@click.option("--accept-rules", is_flag=True, help="Accept the group's rules (shown first) "
              "without being asked.")
@pass_state
def join_command(state: State, invite: str, display_name: str | None,
                 wait_for: float | None, accept_rules: bool) -> None:
    """Join a group with an invite: the link, or an image (photo, screenshot) of its QR code.
    The group's description and rules are shown first; you accept them to ask to join."""
    client = open_client(state, create=True)
    if os.path.isfile(invite):
        uri = client.invite_from_image(invite)
    elif "://" not in invite and os.path.splitext(invite)[1].lower() in (
            ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"):
        fail(f"there is no file {invite}")
    else:
        uri = invite
    preview = client.preview_invite(uri)
    accepted = _read_card(preview, accept_rules)
    result = client.join(uri, display_name=display_name, accept_rules=accepted)
    if accepted is not None:
        click.echo("You accepted the group's rules" + (
            "; the admins see it with your request." if result.status == "pending" else "."))
    info = client.group(result.group_id)
    if result.status == "joined":
        click.echo(f"You joined {group_label(info)}.")
    else:
        click.echo(f"You asked to join {group_label(info)}. An admin has to approve you; "
                   f"they see your request with the fingerprint {result.fingerprint}.")
    click.echo("Your safety number with the person who made the invite:\n")
    click.echo(safety_block(result.safety_number))
    click.echo("\nCompare it with them, in person or on a call: if the numbers differ, "
               "someone is in between; do not continue.")
    number = info.number
    if result.status == "pending" and wait_for is not None:
        click.echo("Waiting for an admin to approve...")
        try:
            client.wait_for_approval(result.group_id, timeout=wait_for)
        except JoinPendingError:
            raise TimedOut("nobody approved the request in time; it is still waiting. Run "
                           f"`vault wait -g {number}` later.") from None
        info = client.group(result.group_id)
        click.echo(f"Approved: you are a member of {group_label(info)}.")
    elif result.status == "pending":
        click.echo(f"Then wait for approval: `vault wait -g {number}`.")
    if display_name:
        shown = client.me(result.group_id).display_name if info.status == "member" else None
        if shown == display_name:
            click.echo(f"Members see you as {display_name}.")
        else:
            click.echo(f"Members will see you as {display_name} once you are admitted and "
                       "your device has the group's key (it is set by itself then).")


def _read_card(preview: InvitePreview, accept_rules: bool) -> str | None:
    """Show what the invite says of the group; the rules id the person accepts (None: the
    invite shows no rules to accept)."""
    if not preview.card_shown:
        click.echo("This invite shows no description or rules of the group (an admin's "
                   "device has not published them): ask the person who invited you about "
                   "the group. You will be asked to accept its rules once admitted.")
        return None
    click.echo(f"Group: {preview.name}")
    if preview.description:
        click.echo(f"\n{preview.description}")
    policy = preview.history_policy
    click.echo("\nWhat newcomers read: " + (
        "the admin who approves you decides" if policy is None
        else HISTORY_WORDS[policy] if isinstance(policy, str)
        else f"everything written since key change {policy}") + ".")
    if not preview.up_to_date:
        click.echo("\n(The group's description or rules may have changed since an admin wrote "
                   "this for your invite; the admins see what you read and accepted.)")
    if not preview.rules or not preview.rules.strip():
        return None
    click.echo(f"\nThe group's rules:\n\n{preview.rules}\n")
    confirm("Do you accept these rules?", accept_rules)
    return preview.rules_id


RULES_SEEN = {"current": "accepted the group's rules",
              "earlier": "accepted rules that are not the group's current rules (asked again "
                         "once in)",
              "none": "no acceptance of the group's rules came with the request (asked once "
                      "in)",
              "unknown": "accepted rules this device cannot check yet (run `vault sync`)"}
HISTORY_WORDS = {"none": "nothing written before they join",
                 "current": "what was written since the last change of keys",
                 "all": "everything written before they join"}


@click.command("requests", cls=IdCommand)
@group_option
@pass_state
def requests_command(state: State, group_ref: str | None) -> None:
    """People waiting to join (admins), each with the safety number to compare."""
    client, info = session(state, group_ref)
    requests = client.pending_requests(info.group_id)
    if not requests:
        click.echo(f"Nobody is waiting to join {group_label(info)}.")
        return
    for number, request in enumerate(requests, 1):
        click.echo(f"{number}. {request.joiner[:SHORT]} (fingerprint {request.fingerprint}), "
                   f"asked {when(request.requested_at_ms)}")
        click.echo(f"   {RULES_SEEN[request.accepted_rules]}")
        click.echo("   safety number:")
        click.echo(safety_block(request.safety_number, "     "))
    click.echo("\nAsk each person to read out the number their device shows. Only if it is "
               "the same: `vault approve NUMBER`. Otherwise: `vault deny NUMBER`.")


@click.command("approve", cls=IdCommand)
@group_option
@click.argument("who", metavar="REQUEST")
@click.option("--role", type=click.Choice(ROLES, case_sensitive=False), default="member",
              show_default=True)
@click.option("--history", metavar="POLICY", help=HISTORY_HELP + " (default, and the only "
              "choice once an admin set it: the group's setting)")
@yes_option
@pass_state
def approve_command(state: State, group_ref: str | None, who: str, role: str,
                    history: str | None, yes: bool) -> None:
    """Admit someone waiting to join (its number from `vault requests`, or its id)."""
    client, info = session(state, group_ref)
    request = find_request(client.pending_requests(info.group_id), who)
    click.echo(f"Safety number with {request.joiner[:SHORT]}:\n")
    click.echo(safety_block(request.safety_number))
    confirm("\nIs it the same number their device shows?", yes)
    member = client.approve(info.group_id, request.joiner, role=parse_role(role),
                            share_history=parse_history(history))
    click.echo(f"Approved: {member.member_id[:SHORT]} is now a {role.lower()} of "
               f"{group_label(info)}.")


@click.command("deny", cls=IdCommand)
@group_option
@click.argument("who", metavar="REQUEST")
@yes_option
@pass_state
def deny_command(state: State, group_ref: str | None, who: str, yes: bool) -> None:
    """Refuse someone waiting to join (its number from `vault requests`, or its id)."""
    client, info = session(state, group_ref)
    request = find_request(client.pending_requests(info.group_id), who)
    confirm(f"Refuse {request.joiner[:SHORT]}'s request to join {group_label(info)}?", yes)
    client.deny(info.group_id, request.joiner)
    click.echo("Refused.")
