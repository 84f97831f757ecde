"""``vault pin`` and ``vault unpin`` (moderators and admins)."""

from __future__ import annotations

import click

from vault_client.cli._config import State, pass_state
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import group_option, session
from vault_client.cli._posting import report_posted
from vault_client.cli._references import find_post


@click.command("pin", cls=IdCommand)
@group_option
@click.argument("post", metavar="POST")
@pass_state
def pin_command(state: State, group_ref: str | None, post: str) -> None:
    """Pin POST (an id from `vault read`) for everyone: it is listed first (moderators and
    admins)."""
    client, info = session(state, group_ref)
    target = find_post(client, info, post)
    state.writing = "pin"
    report_posted(client, client.pin(info.group_id, target.post_id), "Pinned", target.post_id)


@click.command("unpin", cls=IdCommand)
@group_option
@click.argument("post", metavar="POST")
@pass_state
def unpin_command(state: State, group_ref: str | None, post: str) -> None:
    """Unpin POST for everyone (moderators and admins)."""
    client, info = session(state, group_ref)
    target = find_post(client, info, post)
    state.writing = "unpinning"
    report_posted(client, client.unpin(info.group_id, target.post_id), "Unpinned",
                  target.post_id)
