"""``vault channels`` and ``vault channel add|rename|move|remove`` (admins), and the
``--channel`` option of ``post``, ``poll`` and ``read``."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import click

from vault_client import MAIN_CHANNEL, ChannelInfo, Client, GroupInfo
from vault_client.cli._config import State, pass_state
from vault_client.cli._failures import fail
from vault_client.cli._formatting import group_label, note
from vault_client.cli._ids import IdCommand
from vault_client.cli._options import group_option, session, table
from vault_client.cli._references import sync_quietly

F = TypeVar("F", bound=Callable[..., Any])

MAIN_NAME = "General"
"""What the main channel is called here (it has no name of its own)."""


def channel_option(verb: str) -> Callable[[F], F]:
    def decorate(func: F) -> F:
        return click.option(
            "--channel", "channel_ref", metavar="CHANNEL",
            help=f"The channel to {verb}: its name or number from `vault channels` "
                 f"(default: {MAIN_NAME}, the main channel).")(func)
    return decorate


def label(channel: ChannelInfo) -> str:
    return MAIN_NAME if channel.is_main else channel.name


def find_channel(client: Client, info: GroupInfo, ref: str | None) -> ChannelInfo:
    """The channel *ref* names: its number in `vault channels`, its name, or its id."""
    listed = client.channels(info.group_id)
    if ref is None:
        return listed[0]
    wanted = ref.strip()
    # A channel's own name first (even "General" or "2"), then a number, an id, the main one.
    named = [c for c in listed if c.name and c.name.casefold() == wanted.casefold()]
    if len(named) == 1:
        return named[0]
    if wanted.isdigit() and 1 <= int(wanted) <= len(listed):
        return listed[int(wanted) - 1]
    for channel in listed:
        if wanted in (channel.channel_id, label(channel)):
            return channel
    fail(f"{group_label(info)} has no channel {wanted!r}: `vault channels` lists them")


def channel_names(client: Client, info: GroupInfo) -> dict[str, str]:
    """Channel id -> name, for the channels besides the main one."""
    return {c.channel_id: c.name for c in client.channels(info.group_id) if not c.is_main}


@click.command("channels", cls=IdCommand)
@group_option
@pass_state
def channels_command(state: State, group_ref: str | None) -> None:
    """List the group's channels, in the order members see them."""
    client, info = session(state, group_ref)
    info = sync_quietly(client, info)
    rows = [["#", "CHANNEL", "KIND", "YOU"]]
    for number, channel in enumerate(client.channels(info.group_id), 1):
        kind = {"main": "main channel", "discussion": "discussion",
                "announcements": "announcements (moderators and admins post)"}[channel.kind]
        rows.append([str(number), label(channel), kind,
                     "can post" if channel.can_post else "react and vote"])
    click.echo(f"Channels of {group_label(info)}:")
    table(rows)
    if len(rows) == 2:
        note("Only the main channel so far; admins add more with `vault channel add`.")


@click.group("channel")
def channel_command() -> None:
    """Add, rename, move and remove channels (admins)."""


@channel_command.command("add", cls=IdCommand)
@group_option
@click.argument("name")
@click.option("--announcements", is_flag=True,
              help="Only moderators and admins post, reply and ask polls there; everyone "
                   "reacts and votes. This cannot be changed later.")
@pass_state
def channel_add(state: State, group_ref: str | None, name: str, announcements: bool) -> None:
    """Add a channel called NAME, last in the list (admins). Its name is encrypted for the
    group, like the group's name."""
    client, info = session(state, group_ref)
    state.writing = "channel"
    made = client.add_channel(info.group_id, name, announcements=announcements)
    kind = "announcements channel" if made.kind == "announcements" else "channel"
    click.echo(f"Added the {kind} {made.name!r} to {group_label(info)}.")


@channel_command.command("rename", cls=IdCommand)
@group_option
@click.argument("channel")
@click.argument("name")
@pass_state
def channel_rename(state: State, group_ref: str | None, channel: str, name: str) -> None:
    """Call CHANNEL (its name or number) NAME from now on (admins)."""
    client, info = session(state, group_ref)
    target = _not_main(find_channel(client, info, channel), "renamed")
    state.writing = "channel"
    renamed = client.rename_channel(info.group_id, target.channel_id, name)
    click.echo(f"Renamed {target.name!r} to {renamed.name!r}.")


@channel_command.command("move", cls=IdCommand)
@group_option
@click.argument("channel")
@click.argument("position", type=click.IntRange(2))
@pass_state
def channel_move(state: State, group_ref: str | None, channel: str, position: int) -> None:
    """Put CHANNEL at POSITION, a number as `vault channels` shows them (2 is first after
    the main channel) (admins)."""
    client, info = session(state, group_ref)
    target = _not_main(find_channel(client, info, channel), "moved")
    state.writing = "channel"
    client.move_channel(info.group_id, target.channel_id, position - 2)
    click.echo(f"Moved {target.name!r} to position {position}.")


@channel_command.command("remove", cls=IdCommand)
@group_option
@click.argument("channel")
@pass_state
def channel_remove(state: State, group_ref: str | None, channel: str) -> None:
    """Take CHANNEL off the list (admins). Nothing is deleted: its posts are shown in the
    main channel from then on."""
    client, info = session(state, group_ref)
    target = _not_main(find_channel(client, info, channel), "removed")
    state.writing = "channel"
    client.remove_channel(info.group_id, target.channel_id)
    click.echo(f"Removed the channel {target.name!r}; its posts are now in {MAIN_NAME}.")


def _not_main(channel: ChannelInfo, done: str) -> ChannelInfo:
    if channel.channel_id == MAIN_CHANNEL:
        fail(f"the main channel ({MAIN_NAME}) cannot be {done}")
    return channel
