"""``vault post`` (and replies), ``react``, ``edit`` and ``delete``."""

from __future__ import annotations

import os
from collections.abc import Sequence

import click

from vault_client import Client, Posted
from vault_client.cli._channels import channel_option, find_channel
from vault_client.cli._config import State, pass_state
from vault_client.cli._failures import fail
from vault_client.cli._formatting import SHORT
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import duration_callback, group_option, session, yes_option
from vault_client.cli._prompts import confirm, read_stdin, stdin_is_terminal
from vault_client.cli._references import find_post

_EDITOR_NOTE = "# Write your post above. Lines starting with '#' are left out.\n"


def _text(text: str | None, what: str, *, empty_ok: bool = False) -> str:
    """The text argument; '-' or nothing reads stdin when it is not a terminal; in a
    terminal, the editor set in $VISUAL or $EDITOR opens, or the text is typed right here."""
    if text == "-" or (text is None and not stdin_is_terminal()):
        text = read_stdin()
    elif text is None and (os.environ.get("VISUAL") or os.environ.get("EDITOR")):
        edited = click.edit("\n\n" + _EDITOR_NOTE)
        text = "" if edited is None else "\n".join(
            line for line in edited.splitlines() if not line.startswith("#"))
    elif text is None:
        click.echo(f"Type your {what}; when it is done, press Ctrl-D on a new line (Ctrl-C "
                   "cancels).", err=True)
        text = read_stdin()
    text = text.strip("\n")
    if not text.strip() and not empty_ok:
        fail(f"nothing to {what}: the text is empty")
    return text


def report_posted(client: Client, posted: Posted, verb: str, target: str | None = None) -> None:
    """Say where the post is now; a refused post is a failure (exit status 1)."""
    what = f"post {target[:SHORT]}" if target is not None else f"id {posted.post_id[:SHORT]}"
    if posted.status == "delivered":
        click.echo(f"{verb} ({what}).")
    elif posted.status == "queued":
        click.echo(f"Saved on this device, not sent yet ({what}): {posted.reason}. "
                   "Run `vault sync` to send what waits.")
    else:
        fail(f"not sent: {posted.reason or 'the relay refused it'}")


@click.command("post", cls=IdCommand)
@group_option
@click.argument("text", required=False)
@click.option("--reply-to", metavar="POST", help="Reply to this post (an id from `vault read`).")
@click.option("--cw", "content_warning", metavar="WARNING",
              help="A content warning: readers see only it until they choose to read on.")
@click.option("--expires", callback=duration_callback, default=None, metavar="DURATION",
              help="Make it disappear for everyone after this long (e.g. 1d).")
@click.option("--attach", "attachments", multiple=True,
              type=click.Path(exists=True, dir_okay=False), help="Attach a file (encrypted). "
              "Repeat for more.")
@channel_option("post in (a reply goes in its thread's)")
@pass_state
def post_command(state: State, group_ref: str | None, text: str | None,
                 reply_to: str | None, content_warning: str | None, expires: float | None,
                 attachments: Sequence[str], channel_ref: str | None) -> None:
    """Post to the group. TEXT, or '-' for standard input; without it an editor opens (or
    you type it here). With --attach, the text may be empty."""
    if reply_to is not None and channel_ref is not None:
        fail("a reply goes in its thread's channel: leave out --channel")
    client, info = session(state, group_ref)
    channel = find_channel(client, info, channel_ref)  # a mistyped channel: before the text
    body = _text(text, "post", empty_ok=bool(attachments))
    if content_warning is not None and not content_warning.strip():
        fail("a content warning needs some words (e.g. --cw 'loss')")
    if reply_to is not None:
        target = find_post(client, info, reply_to)
        state.writing = "reply"
        posted = client.reply(info.group_id, target.post_id, body,
                              content_warning=content_warning, expires_in=expires,
                              attachments=list(attachments))
        report_posted(client, posted, "Replied")
    else:
        state.writing = "post"
        posted = client.post(info.group_id, body, content_warning=content_warning,
                             expires_in=expires, attachments=list(attachments),
                             channel=channel.channel_id)
        where = "" if channel.is_main else f" in {channel.name}"
        report_posted(client, posted, "Posted" + where)


@click.command("react", cls=IdCommand)
@group_option
@click.argument("post", metavar="POST")
@click.argument("reaction")
@click.option("--cw", "content_warning", metavar="WARNING",
              help="A content warning: readers see only it until they choose to see the "
                   "reaction.")
@pass_state
def react_command(state: State, group_ref: str | None, post: str, reaction: str,
                  content_warning: str | None) -> None:
    """React to a post (e.g. with an emoji)."""
    client, info = session(state, group_ref)
    if content_warning is not None and not content_warning.strip():
        fail("a content warning needs some words (e.g. --cw 'loss')")
    target = find_post(client, info, post)
    state.writing = "reaction"
    report_posted(client, client.react(info.group_id, target.post_id, reaction,
                                 content_warning=content_warning), "Reacted to",
            target.post_id)


@click.command("edit", cls=IdCommand)
@group_option
@click.argument("post", metavar="POST")
@click.argument("text", required=False)
@click.option("--cw", "content_warning", metavar="WARNING", help="A new content warning "
              "(without it, the post keeps the one it has).")
@click.option("--no-cw", "remove_warning", is_flag=True,
              help="Remove the post's content warning.")
@pass_state
def edit_command(state: State, group_ref: str | None, post: str, text: str | None,
                 content_warning: str | None, remove_warning: bool) -> None:
    """Replace the text of one of your posts (its content warning and attachments stay)."""
    if content_warning is not None and remove_warning:
        fail("give --cw WARNING or --no-cw, not both")
    if content_warning is not None and not content_warning.strip():
        fail("a content warning needs some words (e.g. --cw 'loss')")
    body = _text(text, "post")
    client, info = session(state, group_ref)
    target = find_post(client, info, post)
    state.writing = "edit"
    edited = client.edit(info.group_id, target.post_id, body, content_warning=content_warning,
                         keep_warning=not remove_warning)
    report_posted(client, edited, "Edited", target.post_id)


@click.command("delete", cls=IdCommand)
@group_option
@click.argument("post", metavar="POST")
@yes_option
@pass_state
def delete_command(state: State, group_ref: str | None, post: str, yes: bool) -> None:
    """Delete one of your posts (moderators: anyone's)."""
    client, info = session(state, group_ref)
    target = find_post(client, info, post)
    confirm(f"Delete post {target.post_id[:SHORT]} for everyone?", yes)
    state.writing = "deletion"
    report_posted(client, client.delete(info.group_id, target.post_id), "Deleted", target.post_id)
