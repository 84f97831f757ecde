"""``vault poll`` (ask the group) and ``vault vote``."""

from __future__ import annotations

from collections.abc import Sequence

import click

from vault_client.cli._channels import channel_option, find_channel
from vault_client.cli._config import State, pass_state
from vault_client.cli._failures import fail
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import duration_callback, group_option, session
from vault_client.cli._posting import report_posted
from vault_client.cli._references import find_post


@click.command("poll", cls=IdCommand)
@group_option
@click.argument("question")
@click.argument("options", nargs=-1, required=True)
@click.option("--closes", callback=duration_callback, default=None, metavar="DURATION",
              help="Stop counting votes after this long (e.g. 3d); without it the poll "
                   "stays open.")
@click.option("--cw", "content_warning", metavar="WARNING",
              help="A content warning: readers see only it until they choose to read on.")
@channel_option("ask in")
@pass_state
def poll_command(state: State, group_ref: str | None, question: str, options: Sequence[str],
                 closes: float | None, content_warning: str | None,
                 channel_ref: str | None) -> None:
    """Ask the group QUESTION with 2 to 10 OPTIONS. Members vote with `vault vote`; every
    member sees who voted for what (a vote is a signed post, not a secret ballot)."""
    if content_warning is not None and not content_warning.strip():
        fail("a content warning needs some words (e.g. --cw 'loss')")
    client, info = session(state, group_ref)
    channel = find_channel(client, info, channel_ref)
    state.writing = "poll"
    posted = client.create_poll(info.group_id, question, list(options), closes_in=closes,
                                content_warning=content_warning, channel=channel.channel_id)
    report_posted(client, posted, "Asked")


@click.command("vote", cls=IdCommand)
@group_option
@click.argument("poll", metavar="POLL")
@click.argument("option")
@pass_state
def vote_command(state: State, group_ref: str | None, poll: str, option: str) -> None:
    """Vote in POLL (an id from `vault read`) for OPTION: its number as `vault read` shows
    it (1, 2, ...) or its text. Voting again changes your vote; everyone in the group sees
    what you chose."""
    client, info = session(state, group_ref)
    target = find_post(client, info, poll)
    if target.poll is None:
        fail("that post is not a poll")
    # A number is the one `vault read` shows next to the option (1, 2, ...), even when an
    # option's text is a number too; anything else is an option's text.
    choice: int | str = option
    count = len(target.poll.options)
    if option.isascii() and option.isdigit():
        if len(option) > 2 or not 1 <= int(option) <= count:
            fail(f"that poll has options 1 to {count}")
        choice = int(option) - 1
    state.writing = "vote"
    report_posted(client, client.vote(info.group_id, target.post_id, choice), "Voted in",
            target.post_id)
