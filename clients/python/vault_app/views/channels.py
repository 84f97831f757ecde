"""A group's channels: the list every member sees, and (admins) adding, renaming, moving and
removing channels. Each change is one signed, encrypted update of the group's details, said
to have reached every member or refused, as the SDK answers."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from vault_client import ChannelInfo, Client, GroupInfo

from vault_app.i18n import gettext
from vault_app.messages import Message
from vault_app.views.admin import page
from vault_app.views.common import ViewResult, go, notify, problem_for, with_client
from vault_app.views.groups import find_group

blueprint = Blueprint("channels", __name__)


def channels_page(client: Client, info: GroupInfo, *, problem: Message | None = None,
                  typed: str = "") -> str:
    return page("admin/channels.html", client, info, channels=client.channels(info.group_id),
                problem=problem, typed=typed)


def listed(client: Client, info: GroupInfo, channel_id: str) -> ChannelInfo | None:
    return next((c for c in client.channels(info.group_id)
                 if c.channel_id == channel_id and not c.is_main), None)


def back(info: GroupInfo) -> ViewResult:
    return go(url_for("channels.index", group_id=info.group_id))


@blueprint.get("/groups/<group_id>/channels")
@with_client
def index(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    try:
        client.sync(info.group_id)
    except Exception as error:  # the list this computer has is shown, and what went wrong
        return channels_page(client, info, problem=problem_for(error))
    return channels_page(client, info)


@blueprint.post("/groups/<group_id>/channels")
@with_client
def add(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    name = request.form.get("name", "").strip()
    if not name:
        return channels_page(client, info, problem=Message(
            gettext("Give the channel a name."))), 422
    try:
        made = client.add_channel(info.group_id, name,
                                  announcements=request.form.get("announcements") == "1")
    except Exception as error:
        return channels_page(client, info, problem=problem_for(error), typed=name), 422
    notify(Message(gettext("The channel was added for every member.")))
    return go(url_for("groups.show", group_id=info.group_id, channel=made.channel_id))


@blueprint.post("/groups/<group_id>/channels/<channel_id>/rename")
@with_client
def rename(client: Client, group_id: str, channel_id: str) -> ViewResult:
    info = find_group(client, group_id)
    channel = listed(client, info, channel_id)
    name = request.form.get("name", "").strip()
    if channel is None or not name:
        return back(info)
    try:
        client.rename_channel(info.group_id, channel.channel_id, name)
    except Exception as error:
        return channels_page(client, info, problem=problem_for(error)), 422
    notify(Message(gettext("The channel was renamed for every member.")))
    return back(info)


@blueprint.post("/groups/<group_id>/channels/<channel_id>/move")
@with_client
def move(client: Client, group_id: str, channel_id: str) -> ViewResult:
    """One place up or down (``direction``) among the channels admins added."""
    info = find_group(client, group_id)
    channels = [c for c in client.channels(info.group_id) if not c.is_main]
    position = next((i for i, c in enumerate(channels) if c.channel_id == channel_id), None)
    step = -1 if request.form.get("direction") == "up" else 1
    if position is None or not 0 <= position + step < len(channels):
        return back(info)
    try:
        client.move_channel(info.group_id, channel_id, position + step)
    except Exception as error:
        return channels_page(client, info, problem=problem_for(error)), 422
    return back(info)


@blueprint.post("/groups/<group_id>/channels/<channel_id>/remove")
@with_client
def remove(client: Client, group_id: str, channel_id: str) -> ViewResult:
    info = find_group(client, group_id)
    channel = listed(client, info, channel_id)
    if channel is None:
        return back(info)
    try:
        client.remove_channel(info.group_id, channel.channel_id)
    except Exception as error:
        return channels_page(client, info, problem=problem_for(error)), 422
    notify(Message(gettext("The channel was removed for every member."),
                   gettext("Nothing was deleted: its posts are now in General.")))
    return back(info)
