"""``vault group create|list|info|update|delete|dismiss``."""

from __future__ import annotations

import click

from vault_client import Client
from vault_client.cli._config import State, pass_state
from vault_client.cli._failures import fail
from vault_client.cli._formatting import SHORT, deletion_text, group_label, note
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import (
    HISTORY_HELP,
    group_option,
    indent,
    parse_history,
    session,
    table,
    yes_option,
)
from vault_client.cli._prompts import confirm, open_client
from vault_client.cli._references import sync_quietly


@click.group("group")
def group_command() -> None:
    """Create groups and see the ones this device is in."""


@group_command.command("create", cls=IdCommand)
@click.argument("name")
@click.option("--description", default="", help="A short description members see.")
@click.option("--rules", default="", help="The group's rules, shown to members.")
@click.option("--display-name", "--as", "display_name", metavar="NAME",
              help="How you appear to members.")
@click.option("--history", "history", metavar="POLICY", default="none", show_default=True,
              help=HISTORY_HELP)
@click.option("--relay", "relay", metavar="URL",
              help="The relay to create it on (default: --relay / VAULT_RELAY / settings).")
@pass_state
def group_create(state: State, name: str, description: str, rules: str,
                 display_name: str | None, history: str, relay: str | None) -> None:
    """Create a group with you as its owner. Its name, description and rules are encrypted:
    the relay never sees them."""
    policy = parse_history(history)
    assert policy is not None
    relay_url = relay or state.relay_url()
    if not relay_url:
        fail("no relay to create the group on: add --relay URL, set VAULT_RELAY, or save one "
             "with `vault config --relay URL`")
    client = open_client(state, create=True)
    info = client.create_group(name, description, rules, relay_url=relay_url,
                               display_name=display_name, history_policy=policy)
    number = info.number
    if info.status == "creating":
        click.echo(f"{group_label(info)} is kept on this device (number {number}) but not "
                   f"created yet: the relay at {info.relay_url} cannot be reached. Run "
                   "`vault sync` when it can; the group is created then.")
        return
    click.echo(f"Created {group_label(info)} (number {number}, id {info.group_id[:SHORT]}) on "
               f"{info.relay_url}. You are its owner.")
    click.echo(f"Next: invite people with `vault invite -g {number}`.")


@group_command.command("list", cls=IdCommand)
@pass_state
def group_list(state: State) -> None:
    """The groups this device is in (or asked to join), numbered for --group."""
    client = open_client(state)
    groups = client.groups()
    if not groups:
        _list_deleted(client)
        click.echo("This device is in no group yet. Create one with `vault group create NAME`, "
                   "or join one with `vault join INVITE`.")
        return
    _list_deleted(client)
    rows = [("#", "NAME", "STATUS", "ROLE", "MEMBERS", "ID")]
    for info in groups:
        number = info.number
        name = info.name or ("(waiting for approval)" if info.status == "pending"
                             else "(not readable yet)")
        rows.append((str(number), name, info.status,
                     info.my_role.name.lower() if info.my_role is not None else "-",
                     str(info.member_count), info.group_id[:SHORT]))
    table(rows)


@group_command.command("info", cls=IdCommand)
@click.argument("group_ref", metavar="[GROUP]", required=False, envvar="VAULT_GROUP")
@click.option("--no-sync", is_flag=True, help="Show this device's copy without asking the relay.")
@click.option("--code-at", "code_at", type=click.IntRange(0), metavar="ENTRY",
              help="Show the group code at this log entry (to compare with a member whose "
                   "device is at that entry).")
@pass_state
def group_info(state: State, group_ref: str | None, no_sync: bool, code_at: int | None) -> None:
    """Everything about one group: name, rules, your role, its key epoch and log head, and
    the group code to compare with other members."""
    client, info = session(state, group_ref)
    if not no_sync:
        info = sync_quietly(client, info)
    role = info.my_role.name.lower() if info.my_role is not None else "-"
    lines = [
        ("name", info.name or "(not readable yet: this device has no key for it)"),
        ("id", info.group_id),
        ("relay", info.relay_url),
        ("status", info.status),
        ("your role", role),
        ("your member id", info.my_member_id),
        ("members", str(info.member_count)),
        ("key epoch", str(info.epoch)),
        ("log", f"{info.log_seq + 1} entries, head {info.log_head}"),
        ("history for new members", str(info.history_policy)),
    ]
    if info.log_seq >= 0:
        lines.insert(-1, ("group code", f"{client.group_code(info.group_id, code_at)} (at "
                                        f"entry {info.log_seq if code_at is None else code_at})"))
    if info.unsent_posts:
        lines.append(("unsent posts", f"{info.unsent_posts} (sent with the next `vault sync`)"))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key + ':':<{width + 1}} {value}")
    note("Compare the group code with another member, in person, for the same entry: a "
         "different code means you are shown different versions of the group.")
    if info.rotation_pending:
        note("A member left and no admin has started a new key yet; an admin's next sync does.")
    for title, text in (("Description", info.description), ("Rules", info.rules)):
        if text:
            click.echo(f"\n{title}:\n{indent(text, '  ')}")


@group_command.command("update", cls=IdCommand)
@group_option
@click.option("--name", help="A new name.")
@click.option("--description", help="A new description.")
@click.option("--rules", help="New rules.")
@click.option("--history", metavar="POLICY",
              help=HISTORY_HELP + " (the group's setting: admins)")
@pass_state
def group_update(state: State, group_ref: str | None, name: str | None,
                 description: str | None, rules: str | None, history: str | None) -> None:
    """Change a group's name, description or rules (admins), or what your device lets new
    members read."""
    if name is None and description is None and rules is None and history is None:
        fail("nothing to change: give --name, --description, --rules or --history")
    client, info = session(state, group_ref)
    policy = parse_history(history)
    if policy is not None:
        client.set_history_policy(info.group_id, policy)
    if name is not None or description is not None or rules is not None:
        info = client.update_group(info.group_id, name=name, description=description,
                                   rules=rules)
    click.echo(f"Updated {group_label(client.group(info.group_id))}.")


def _list_deleted(client: Client) -> None:
    """The deleted groups this device was told of, before the groups it is in."""
    for notice in client.deleted_groups():
        click.echo(f"{deletion_text(notice)} (`vault group dismiss {notice.group_id[:SHORT]}` "
                   "clears this note)")


@group_command.command("delete", cls=IdCommand)
@group_option
@click.option("--discard-unsent", is_flag=True,
              help="Delete even though some of your posts were not sent yet (they are lost).")
@yes_option
@pass_state
def group_delete(state: State, group_ref: str | None, discard_unsent: bool, yes: bool) -> None:
    """Delete a group for everyone (owners only). The relay purges everything it holds for
    it, and every member's device drops its copy when it next syncs. There is no undo."""
    client, info = session(state, group_ref)
    confirm(f"Delete {group_label(info)} for all {info.member_count} members? Its posts, "
            "members and invites go from the relay and from every member's device. There is "
            "no undo.", yes)
    deleted = client.delete_group(info.group_id, discard_unsent=discard_unsent)
    click.echo(f"Deleted {group_label(info)} for everyone: the relay no longer holds it, and "
               "members' devices drop their copies when they next sync.")
    if deleted.unsent_posts:
        note(f"{deleted.unsent_posts} of your posts were never sent.")


@group_command.command("dismiss", cls=IdCommand)
@click.argument("group_ref", metavar="GROUP")
@pass_state
def group_dismiss(state: State, group_ref: str) -> None:
    """Clear the note of a deleted group (its id, or the start of it, or its name)."""
    client = open_client(state)
    text = group_ref.strip()
    found = [n for n in client.deleted_groups()
             if n.group_id.startswith(text) or (n.name and n.name == text)]
    if len(found) != 1:
        fail("no deleted group matches that; `vault group list` shows them" if not found
             else "more than one deleted group matches that: give more of its id")
    notice = found[0]
    client.dismiss_deleted_group(notice.group_id)
    click.echo(f"Cleared the note of {repr(notice.name) if notice.name else 'that group'}.")
