"""The member commands of ``vault``: groups, invites, joining, posting, reading, membership,
identities. Built on the SDK's public API only (:mod:`vault_client`)."""

from __future__ import annotations

import mimetypes
import os
import time
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

import click

from vault_client import (
    Client,
    GroupInfo,
    HistoryPolicy,
    PostView,
    Role,
    SyncReport,
    Thread,
    normalize_relay_url,
    wipe_home,
)
from vault_client import events as ev
from vault_client.cli._support import (
    SHORT,
    Failure,
    State,
    TimedOut,
    config_path,
    confirm,
    describe_events,
    digits,
    duration_option,
    fail,
    find_group,
    find_member,
    find_post,
    find_request,
    group_label,
    member_label,
    names_of,
    new_transfer_passphrase,
    note,
    open_client,
    pass_state,
    private_file,
    read_config,
    read_stdin,
    safety_block,
    show_warnings,
    size_text,
    stdin_is_terminal,
    sync_quietly,
    transfer_passphrase,
    when,
    write_config,
)
from vault_client.errors import InviteUriError, JoinPendingError, VaultError

F = TypeVar("F", bound=Callable[..., Any])

ROLES = ("member", "moderator", "admin", "owner")


def group_option(func: F) -> F:
    return click.option(
        "-g", "--group", "group_ref", envvar="VAULT_GROUP", metavar="GROUP",
        help="Which group: its number or name from `vault group list`, or its id. Not "
             "needed when this device is in one group only. [env: VAULT_GROUP]",
    )(func)


def yes_option(func: F) -> F:
    return click.option("-y", "--yes", is_flag=True, help="Do not ask for confirmation.")(func)


def _duration(ctx: click.Context, param: click.Parameter, value: str | None) -> float | None:
    try:
        return duration_option(value)
    except click.BadParameter as error:
        error.ctx, error.param = ctx, param
        raise


def _role(name: str) -> Role:
    return Role[name.upper()]


def _history(text: str | None) -> HistoryPolicy | None:
    if text is None:
        return None
    value = text.strip().lower()
    if value in ("none", "current", "all"):
        return value  # type: ignore[return-value]
    if value.isdigit():
        return int(value)
    raise click.BadParameter("history is 'none', 'current', 'all' or an epoch number")


HISTORY_HELP = ("What newly admitted members may read: 'none' (only what is written after "
                "they join), 'current' (since the last key change), 'all', or an epoch number.")


def _session(state: State, group_ref: str | None) -> tuple[Client, GroupInfo]:
    client = open_client(state)
    return client, find_group(client, group_ref)


# --- configuration ---------------------------------------------------------------------------


@click.command("config")
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
            except InviteUriError as error:
                fail(f"'{new_relay}' is not a relay address: {error.message}")
        else:
            values.pop("relay", None)
        write_config(values, path)
        click.echo(f"Saved in {path}.")
    click.echo(f"settings file: {path}")
    click.echo(f"home (keys and local store): {state.home_dir}")
    relay = state.relay_url()
    click.echo(f"relay for new groups: {relay or '(none: set one with vault config --relay URL)'}")


# --- groups ----------------------------------------------------------------------------------


@click.group("group")
def group_command() -> None:
    """Create groups and see the ones this device is in."""


@group_command.command("create")
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
    policy = _history(history)
    assert policy is not None
    relay_url = relay or state.relay_url()
    if not relay_url:
        fail("no relay to create the group on: add --relay URL, set VAULT_RELAY, or save one "
             "with `vault config --relay URL`")
    client = open_client(state)
    info = client.create_group(name, description, rules, relay_url=relay_url,
                               display_name=display_name, history_policy=policy)
    number = [g.group_id for g in client.groups()].index(info.group_id) + 1
    click.echo(f"Created {group_label(info)} (number {number}, id {info.group_id[:SHORT]}) on "
               f"{info.relay_url}. You are its owner.")
    click.echo(f"Next: invite people with `vault invite -g {number}`.")


@group_command.command("list")
@pass_state
def group_list(state: State) -> None:
    """The groups this device is in (or asked to join), numbered for --group."""
    client = open_client(state)
    groups = client.groups()
    if not groups:
        click.echo("This device is in no group yet. Create one with `vault group create NAME`, "
                   "or join one with `vault join INVITE`.")
        return
    rows = [("#", "NAME", "STATUS", "ROLE", "MEMBERS", "ID")]
    for number, info in enumerate(groups, 1):
        name = info.name or ("(waiting for approval)" if info.status == "pending"
                             else "(not readable yet)")
        rows.append((str(number), name, info.status,
                     info.my_role.name.lower() if info.my_role is not None else "-",
                     str(info.member_count), info.group_id[:SHORT]))
    _table(rows)


@group_command.command("info")
@click.argument("group_ref", metavar="[GROUP]", required=False, envvar="VAULT_GROUP")
@click.option("--no-sync", is_flag=True, help="Show this device's copy without asking the relay.")
@pass_state
def group_info(state: State, group_ref: str | None, no_sync: bool) -> None:
    """Everything about one group: name, rules, your role, its key epoch and log head."""
    client, info = _session(state, group_ref)
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
    if info.unsent_posts:
        lines.append(("unsent posts", f"{info.unsent_posts} (sent with the next `vault sync`)"))
    width = max(len(k) for k, _ in lines)
    for key, value in lines:
        click.echo(f"{key + ':':<{width + 1}} {value}")
    if info.rotation_pending:
        note("A member left and no admin has started a new key yet; an admin's next sync does.")
    for title, text in (("Description", info.description), ("Rules", info.rules)):
        if text:
            click.echo(f"\n{title}:\n{_indent(text, '  ')}")


@group_command.command("update")
@group_option
@click.option("--name", help="A new name.")
@click.option("--description", help="A new description.")
@click.option("--rules", help="New rules.")
@click.option("--history", metavar="POLICY", help=HISTORY_HELP + " (this device's setting)")
@pass_state
def group_update(state: State, group_ref: str | None, name: str | None,
                 description: str | None, rules: str | None, history: str | None) -> None:
    """Change a group's name, description or rules (admins), or what your device lets new
    members read."""
    if name is None and description is None and rules is None and history is None:
        fail("nothing to change: give --name, --description, --rules or --history")
    client, info = _session(state, group_ref)
    policy = _history(history)
    if policy is not None:
        client.set_history_policy(info.group_id, policy)
    if name is not None or description is not None or rules is not None:
        info = client.update_group(info.group_id, name=name, description=description,
                                   rules=rules)
    click.echo(f"Updated {group_label(client.group(info.group_id))}.")


# --- invites and joining ---------------------------------------------------------------------


@click.command("invite")
@group_option
@click.option("--max-uses", default=1, show_default=True, type=click.IntRange(1, 10_000),
              help="How many people may use it.")
@click.option("--expires", default="7d", show_default=True, callback=_duration,
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
    client, info = _session(state, group_ref)
    invite = client.create_invite(info.group_id, max_uses=max_uses, expires_in=expires,
                                  require_approval=require_approval)
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
    click.echo(f"invite id (to revoke it): {invite.invite_id}")


@click.command("revoke-invite")
@group_option
@click.argument("invite_id")
@pass_state
def revoke_invite(state: State, group_ref: str | None, invite_id: str) -> None:
    """Stop an invite from admitting anyone else (admins)."""
    client, info = _session(state, group_ref)
    client.revoke_invite(info.group_id, invite_id)
    click.echo("The invite is revoked: nobody else can use it.")


@click.command("join")
@click.argument("invite", metavar="INVITE")
@click.option("--name", "display_name", metavar="NAME", help="How you want to appear to "
              "members (set once you are admitted).")
@click.option("--wait", "wait_for", callback=_duration, default=None, metavar="DURATION",
              help="Wait this long for an admin to approve (e.g. 10m).")
@pass_state
def join_command(state: State, invite: str, display_name: str | None,
                 wait_for: float | None) -> None:
    """Join a group with an invite: the link, or an image (photo, screenshot) of its QR code."""
    client = open_client(state)
    if os.path.isfile(invite):
        result = client.join_from_image(invite)
    elif "://" not in invite and os.path.splitext(invite)[1].lower() in (
            ".png", ".jpg", ".jpeg", ".gif", ".bmp", ".webp", ".tif", ".tiff"):
        fail(f"there is no file {invite}")
    else:
        result = client.join(invite)
    label = f"group {result.group_id[:SHORT]}"
    if result.status == "joined":
        info = client.group(result.group_id)
        click.echo(f"You joined {group_label(info)}.")
    else:
        click.echo(f"You asked to join {label}. An admin has to approve you; they see your "
                   f"request as {result.member_id[:SHORT]}.")
    click.echo("Your safety number with the person who made the invite:\n")
    click.echo(safety_block(result.safety_number))
    click.echo("\nCompare it with them, in person or on a call: if the numbers differ, "
               "someone is in between; do not continue.")
    if result.status == "pending":
        if wait_for is None:
            click.echo(f"Then wait for approval: `vault wait -g {result.group_id[:SHORT]}`.")
            if display_name:
                click.echo("Once you are in, set your name: "
                           f"`vault name -g {result.group_id[:SHORT]} '{display_name}'`.")
            return
        click.echo("Waiting for an admin to approve...")
        try:
            client.wait_for_approval(result.group_id, timeout=wait_for)
        except JoinPendingError:
            raise TimedOut("nobody approved the request in time; it is still waiting. Run "
                           f"`vault wait -g {result.group_id[:SHORT]}` later.") from None
        click.echo(f"Approved: you are a member of {group_label(client.group(result.group_id))}.")
    if display_name:
        client.set_display_name(result.group_id, display_name)
        click.echo(f"Members see you as {display_name}.")


@click.command("requests")
@group_option
@pass_state
def requests_command(state: State, group_ref: str | None) -> None:
    """People waiting to join (admins), each with the safety number to compare."""
    client, info = _session(state, group_ref)
    requests = client.pending_requests(info.group_id)
    if not requests:
        click.echo(f"Nobody is waiting to join {group_label(info)}.")
        return
    for number, request in enumerate(requests, 1):
        click.echo(f"{number}. {request.joiner[:SHORT]} (fingerprint {request.fingerprint}), "
                   f"asked {when(request.requested_at_ms)}")
        click.echo("   safety number:")
        click.echo(safety_block(request.safety_number, "     "))
    click.echo("\nAsk each person to read out the number their device shows. Only if it is "
               "the same: `vault approve NUMBER`. Otherwise: `vault deny NUMBER`.")


@click.command("approve")
@group_option
@click.argument("who", metavar="REQUEST")
@click.option("--role", type=click.Choice(ROLES, case_sensitive=False), default="member",
              show_default=True)
@click.option("--history", metavar="POLICY", help=HISTORY_HELP + " (default: the group's "
              "setting on this device)")
@yes_option
@pass_state
def approve_command(state: State, group_ref: str | None, who: str, role: str,
                    history: str | None, yes: bool) -> None:
    """Admit someone waiting to join (its number from `vault requests`, or its id)."""
    client, info = _session(state, group_ref)
    request = find_request(client.pending_requests(info.group_id), who)
    click.echo(f"Safety number with {request.joiner[:SHORT]}:\n")
    click.echo(safety_block(request.safety_number))
    confirm("\nIs it the same number their device shows?", yes)
    member = client.approve(info.group_id, request.joiner, role=_role(role),
                            share_history=_history(history))
    click.echo(f"Approved: {member.member_id[:SHORT]} is now a {role.lower()} of "
               f"{group_label(info)}.")


@click.command("deny")
@group_option
@click.argument("who", metavar="REQUEST")
@yes_option
@pass_state
def deny_command(state: State, group_ref: str | None, who: str, yes: bool) -> None:
    """Refuse someone waiting to join (its number from `vault requests`, or its id)."""
    client, info = _session(state, group_ref)
    request = find_request(client.pending_requests(info.group_id), who)
    confirm(f"Refuse {request.joiner[:SHORT]}'s request to join {group_label(info)}?", yes)
    client.deny(info.group_id, request.joiner)
    click.echo("Refused.")


# --- posting ---------------------------------------------------------------------------------

_EDITOR_NOTE = "# Write your post above. Lines starting with '#' are left out.\n"


def _text(text: str | None, what: str) -> str:
    """The text argument; '-' or nothing reads stdin when it is not a terminal, else an
    editor opens."""
    if text == "-" or (text is None and not stdin_is_terminal()):
        text = read_stdin()
    elif text is None:
        edited = click.edit("\n\n" + _EDITOR_NOTE)
        text = "" if edited is None else "\n".join(
            line for line in edited.splitlines() if not line.startswith("#"))
    text = text.strip("\n")
    if not text.strip():
        fail(f"nothing to {what}: the text is empty")
    return text


def _posted(posted: Any, verb: str) -> None:
    if posted.delivered:
        click.echo(f"{verb} (id {posted.post_id[:SHORT]}).")
    else:
        click.echo(f"{verb} on this device only (id {posted.post_id[:SHORT]}): the relay could "
                   "not be reached. It is sent with your next `vault sync`, once.")


@click.command("post")
@group_option
@click.argument("text", required=False)
@click.option("--reply-to", metavar="POST", help="Reply to this post (an id from `vault read`).")
@click.option("--cw", "content_warning", metavar="WARNING",
              help="A content warning: readers see only it until they choose to read on.")
@click.option("--expires", callback=_duration, default=None, metavar="DURATION",
              help="Make it disappear for everyone after this long (e.g. 1d).")
@click.option("--attach", "attachments", multiple=True,
              type=click.Path(exists=True, dir_okay=False), help="Attach a file (encrypted). "
              "Repeat for more.")
@pass_state
def post_command(state: State, group_ref: str | None, text: str | None,
                 reply_to: str | None, content_warning: str | None, expires: float | None,
                 attachments: Sequence[str]) -> None:
    """Post to the group. TEXT, or '-' for standard input; without it an editor opens."""
    body = _text(text, "post")
    client, info = _session(state, group_ref)
    if content_warning is not None and not content_warning.strip():
        fail("a content warning needs some words (e.g. --cw 'loss')")
    if reply_to is not None:
        target = find_post(client, info, reply_to)
        posted = client.reply(info.group_id, target.post_id, body,
                              content_warning=content_warning, expires_in=expires,
                              attachments=list(attachments))
        _posted(posted, "Replied")
    else:
        posted = client.post(info.group_id, body, content_warning=content_warning,
                             expires_in=expires, attachments=list(attachments))
        _posted(posted, "Posted")


@click.command("react")
@group_option
@click.argument("post", metavar="POST")
@click.argument("reaction")
@pass_state
def react_command(state: State, group_ref: str | None, post: str, reaction: str) -> None:
    """React to a post (e.g. with an emoji)."""
    client, info = _session(state, group_ref)
    target = find_post(client, info, post)
    _posted(client.react(info.group_id, target.post_id, reaction), "Reacted")


@click.command("edit")
@group_option
@click.argument("post", metavar="POST")
@click.argument("text", required=False)
@click.option("--cw", "content_warning", metavar="WARNING", help="The content warning "
              "(leave it out to remove one).")
@pass_state
def edit_command(state: State, group_ref: str | None, post: str, text: str | None,
                 content_warning: str | None) -> None:
    """Replace the text of one of your posts."""
    body = _text(text, "post")
    client, info = _session(state, group_ref)
    target = find_post(client, info, post)
    _posted(client.edit(info.group_id, target.post_id, body,
                                content_warning=content_warning), "Edited")


@click.command("delete")
@group_option
@click.argument("post", metavar="POST")
@yes_option
@pass_state
def delete_command(state: State, group_ref: str | None, post: str, yes: bool) -> None:
    """Delete one of your posts (moderators: anyone's)."""
    client, info = _session(state, group_ref)
    target = find_post(client, info, post)
    confirm(f"Delete post {target.post_id[:SHORT]} for everyone?", yes)
    _posted(client.delete(info.group_id, target.post_id), "Deleted")


# --- reading ---------------------------------------------------------------------------------


def _indent(text: str, prefix: str) -> str:
    return "\n".join(prefix + line if line else prefix.rstrip() for line in text.splitlines())


def render_post(post: PostView, names: dict[str, str], *, show_cw: bool, depth: int) -> str:
    pad = "    " * depth
    body = pad + "    "
    who = post.author_name or names.get(post.author, post.author[:SHORT])
    flags = []
    if post.is_mine:
        flags.append("you")
    if post.edited_at_ms is not None:
        flags.append("edited")
    if post.expires_at_ms is not None:
        flags.append(f"disappears {when(post.expires_at_ms)}")
    extra = f" ({', '.join(flags)})" if flags else ""
    lines = [f"{pad}[{post.post_id[:SHORT]}] {who}, {when(post.created_at_ms)}{extra}"]
    if post.deleted:
        lines.append(body + "(deleted)")
        return "\n".join(lines)
    hidden = post.hidden_by_default and not show_cw
    if post.content_warning is not None:
        if hidden:
            lines.append(f"{body}Content warning: {post.content_warning}. Hidden; to read it: "
                         f"vault read --show-cw")
        else:
            lines.append(f"{body}Content warning: {post.content_warning}")
    if not hidden:
        lines.append(_indent(post.text, body))
        for item in post.attachments:
            lines.append(f"{body}attachment: {item.media_type}, {size_text(item.size)} "
                         f"(save it: vault attachments {post.post_id[:SHORT]})")
    if post.reactions:
        lines.append(body + "reactions: " + ", ".join(
            f"{text} {len(who_)}" for text, who_ in post.reactions))
    return "\n".join(lines)


def render_thread(thread: Thread, names: dict[str, str], *, show_cw: bool) -> str:
    depth = {thread.root.post_id: 0}
    parts = [render_post(thread.root, names, show_cw=show_cw, depth=0)]
    for reply in thread.replies:
        level = min(depth.get(reply.reply_to or "", 0) + 1, 4)
        depth[reply.post_id] = level
        parts.append(render_post(reply, names, show_cw=show_cw, depth=level))
    return "\n".join(parts)


@click.command("read")
@group_option
@click.option("--show-cw", is_flag=True, help="Show posts behind content warnings too.")
@click.option("--thread", "thread_ref", metavar="POST", help="Only the thread of this post.")
@click.option("--last", type=click.IntRange(1), metavar="N", help="Only the last N threads.")
@click.option("--no-sync", is_flag=True, help="Show this device's copy without asking the relay.")
@pass_state
def read_command(state: State, group_ref: str | None, show_cw: bool, thread_ref: str | None,
                 last: int | None, no_sync: bool) -> None:
    """Read the group's posts, as threads. Posts with a content warning stay hidden unless
    you add --show-cw."""
    client, info = _session(state, group_ref)
    if not no_sync:
        info = sync_quietly(client, info)
    if info.status == "pending":
        click.echo(f"Your request to join {group_label(info)} is still waiting for an admin.")
        return
    threads = client.threads(info.group_id)
    if thread_ref is not None:
        target = find_post(client, info, thread_ref)
        threads = [t for t in threads if target.post_id in
                   {t.root.post_id, *(r.post_id for r in t.replies)}]
    if last is not None:
        threads = threads[-last:]
    if not threads:
        click.echo(f"No posts in {group_label(info)} yet. Write one with `vault post`.")
        return
    names = names_of(client, info)
    click.echo(f"{group_label(info)}\n")
    click.echo("\n\n".join(render_thread(t, names, show_cw=show_cw) for t in threads))
    hidden = sum(1 for t in threads for p in (t.root, *t.replies)
                 if p.hidden_by_default and not p.deleted)
    if hidden and not show_cw:
        note(f"\n{hidden} post(s) hidden behind content warnings; add --show-cw to read them.")


@click.command("attachments")
@group_option
@click.argument("post", metavar="POST")
@click.option("--to", "directory", type=click.Path(file_okay=False), default=".",
              show_default=True, help="The folder to save them in.")
@pass_state
def attachments_command(state: State, group_ref: str | None, post: str, directory: str) -> None:
    """Download, decrypt and save the attachments of a post."""
    client, info = _session(state, group_ref)
    target = find_post(client, info, post)
    if not target.attachments:
        fail(f"post {target.post_id[:SHORT]} has no attachments")
    os.makedirs(directory, exist_ok=True)
    for number, item in enumerate(target.attachments, 1):
        data = client.attachment(info.group_id, item)
        ext = mimetypes.guess_extension(item.media_type) or ".bin"
        path = os.path.join(directory, f"{target.post_id[:SHORT]}-{number}{ext}")
        with private_file(path, overwrite=False) as handle:
            handle.write(data)
        click.echo(f"saved {path} ({item.media_type}, {size_text(len(data))})")


# --- membership ------------------------------------------------------------------------------


@click.command("members")
@group_option
@click.option("--no-sync", is_flag=True, help="Show this device's copy without asking the relay.")
@pass_state
def members_command(state: State, group_ref: str | None, no_sync: bool) -> None:
    """Who is in the group, with roles (numbered for the commands that take a member)."""
    client, info = _session(state, group_ref)
    if not no_sync:
        info = sync_quietly(client, info)
    rows = [("#", "NAME", "ROLE", "FINGERPRINT", "ID")]
    for number, member in enumerate(client.members(info.group_id), 1):
        name = (member.display_name or "(no name yet)") + (" (you)" if member.is_me else "")
        rows.append((str(number), name, member.role.name.lower(), member.fingerprint,
                     member.member_id[:SHORT]))
    _table(rows)


@click.command("name")
@group_option
@click.argument("name")
@pass_state
def name_command(state: State, group_ref: str | None, name: str) -> None:
    """Set how you appear to the group's members (encrypted; each group separately)."""
    client, info = _session(state, group_ref)
    client.set_display_name(info.group_id, name)
    click.echo(f"Members of {group_label(info)} see you as {name}.")


@click.command("role")
@group_option
@click.argument("who", metavar="MEMBER")
@click.argument("role", type=click.Choice(ROLES, case_sensitive=False))
@pass_state
def role_command(state: State, group_ref: str | None, who: str, role: str) -> None:
    """Change a member's role (admins; only owners make admins and owners)."""
    client, info = _session(state, group_ref)
    member = find_member(client, info, who)
    client.set_role(info.group_id, member.member_id, _role(role))
    click.echo(f"{member_label(member)} is now {role.lower()}.")


@click.command("remove")
@group_option
@click.argument("who", metavar="MEMBER")
@yes_option
@pass_state
def remove_command(state: State, group_ref: str | None, who: str, yes: bool) -> None:
    """Remove a member (admins). A new group key is started: they can read nothing posted
    from now on."""
    client, info = _session(state, group_ref)
    member = find_member(client, info, who)
    if member.is_me:
        fail("that is you; to go, use `vault leave`")
    confirm(f"Remove {member_label(member)} from {group_label(info)}?", yes)
    client.remove(info.group_id, member.member_id)
    click.echo(f"Removed {member_label(member)}. A new key was shared with everyone else.")


@click.command("leave")
@group_option
@yes_option
@pass_state
def leave_command(state: State, group_ref: str | None, yes: bool) -> None:
    """Leave a group. This device then forgets it: its keys and posts."""
    client, info = _session(state, group_ref)
    confirm(f"Leave {group_label(info)}? To come back you would need a new invite.", yes)
    client.leave(info.group_id)
    click.echo(f"You left {group_label(info)}; this device no longer keeps anything of it.")


@click.command("forget")
@group_option
@yes_option
@pass_state
def forget_command(state: State, group_ref: str | None, yes: bool) -> None:
    """Delete a group from this device without telling anyone: after you were removed, a
    request was refused, or the identity moved to another device."""
    client, info = _session(state, group_ref)
    if info.status == "member":
        note("This device is still a member; members will keep seeing you in the group. To "
             "end your membership, use `vault leave` instead.")
    confirm(f"Delete {group_label(info)} and its keys and posts from this device?", yes)
    client.forget_group(info.group_id)
    click.echo(f"This device no longer keeps anything of {group_label(info)}.")


@click.command("verify")
@group_option
@click.argument("who", metavar="MEMBER")
@click.argument("number", nargs=-1)
@pass_state
def verify_command(state: State, group_ref: str | None, who: str, number: Sequence[str]) -> None:
    """Show your safety number with a member, or check the NUMBER they read out to you."""
    client, info = _session(state, group_ref)
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


# --- syncing and waiting -----------------------------------------------------------------------


def _report_line(client: Client, report: SyncReport) -> str:
    info = client.group(report.group_id)
    if info.status == "pending":
        return f"{group_label(info)}: still waiting for an admin to approve you"
    names = names_of(client, info) if info.status == "member" else {}
    words = describe_events(report, names)
    if report.unsent_posts:
        words.append(f"{report.unsent_posts} post(s) still waiting to be sent")
    if report.unreadable_history:
        words.append(f"{report.unreadable_history} older post(s) from before you joined "
                     "are not shared with you")
    return f"{group_label(info)}: {', '.join(words) if words else 'nothing new'}"


@click.command("sync")
@group_option
@pass_state
def sync_command(state: State, group_ref: str | None) -> None:
    """Fetch and check what is new (every group, or one with --group); send waiting posts."""
    client = open_client(state)
    if group_ref is not None:
        reports = client.sync(find_group(client, group_ref).group_id)
    else:
        reports = client.sync()
    show_warnings(client)
    if not reports:
        click.echo("This device is in no group yet.")
    for report in reports:
        click.echo(_report_line(client, report))


@click.command("wait")
@group_option
@click.option("--timeout", default="60s", show_default=True, callback=_duration,
              metavar="DURATION",
              help="Give up after this long (exit status 3).")
@click.option("--follow", is_flag=True, help="Keep waiting and print new posts as they come.")
@click.option("--show-cw", is_flag=True, help="Print posts behind content warnings too.")
@pass_state
def wait_command(state: State, group_ref: str | None, timeout: float, follow: bool,
                 show_cw: bool) -> None:
    """Wait for something to happen in a group: an admin approving your join, or new posts
    and members. For scripts: exit status 0 when something happened, 3 on timeout."""
    client, info = _session(state, group_ref)
    if info.status == "pending":
        try:
            info = client.wait_for_approval(info.group_id, timeout=timeout)
        except JoinPendingError:
            raise TimedOut(f"nobody approved the request within {int(timeout)} seconds; it is "
                           "still waiting") from None
        click.echo(f"Approved: you are a member of {group_label(info)}.")
        return
    if info.status != "member":
        fail(f"this device is no longer a member of {group_label(info)}")
    deadline = time.monotonic() + timeout
    happened = False
    while follow or time.monotonic() < deadline:
        remaining = 30.0 if follow else max(1.0, deadline - time.monotonic())
        report = client.wait(info.group_id, timeout=min(30.0, remaining))
        show_warnings(client)
        if not report.events:
            if not follow and time.monotonic() >= deadline:
                break
            continue
        happened = True
        names = names_of(client, info)
        for line in describe_events(report, {**names}):
            click.echo(f"{group_label(info)}: {line}")
        for event in report.events:
            if isinstance(event, ev.NewPost) and event.kind in ("post", "reply"):
                try:
                    post = client.get_post(info.group_id, event.post_id)
                except VaultError:  # deleted or expired meanwhile
                    continue
                click.echo(render_post(post, names, show_cw=show_cw, depth=0))
        if not follow:
            return
    if not happened:
        raise TimedOut(f"nothing new within {int(timeout)} seconds")


# --- identities and the device ---------------------------------------------------------------


@click.command("export-identity")
@group_option
@click.argument("path", type=click.Path(dir_okay=False))
@click.option("--force", is_flag=True, help="Overwrite PATH if it exists.")
@pass_state
def export_identity_command(state: State, group_ref: str | None, path: str, force: bool) -> None:
    """Save your identity in a group to a file sealed with a passphrase, to move it to
    another device (`vault import-identity` there). [env: VAULT_TRANSFER_PASSPHRASE]"""
    if os.path.exists(path) and not force:
        fail(f"{path} already exists; choose another name or add --force")
    client, info = _session(state, group_ref)
    passphrase = new_transfer_passphrase()
    data = client.export_identity(info.group_id, passphrase)
    with private_file(path, overwrite=force) as handle:
        handle.write(data)
    click.echo(f"Your identity in {group_label(info)} is in {path}.")
    click.echo("Keep the file as safe as this device. Use the identity on one device only: "
               "once it is imported on the other one, remove it here with `vault forget` "
               "(not `vault leave`, which would end your membership).")


@click.command("import-identity")
@click.argument("path", type=click.Path(exists=True, dir_okay=False))
@pass_state
def import_identity_command(state: State, path: str) -> None:
    """Take an identity exported with `vault export-identity` and sync its group."""
    with open(path, "rb") as handle:
        data = handle.read()
    client = open_client(state)
    info = client.import_identity(data, transfer_passphrase())
    click.echo(f"Imported: this device is now your member identity in {group_label(info)}.")


@click.command("wipe")
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


def _table(rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        click.echo("  ".join(cell.ljust(width) for cell, width in zip(row, widths,
                                                                        strict=True)).rstrip())


COMMANDS: tuple[click.Command, ...] = (
    config_command, group_command, invite_command, revoke_invite, join_command,
    requests_command, approve_command, deny_command, post_command, react_command,
    edit_command, delete_command, read_command, attachments_command, members_command,
    name_command, role_command, remove_command, leave_command, forget_command, verify_command,
    sync_command, wait_command, export_identity_command, import_identity_command, wipe_command,
)
