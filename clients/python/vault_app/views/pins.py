"""Pinning and unpinning a post (moderators and admins): a button on each post; pinned posts
are listed at the top of the feed (``groups/_feed.html``)."""

from __future__ import annotations

from flask import Blueprint, abort, request
from vault_client import Client

from vault_app.i18n import gettext
from vault_app.messages import Message
from vault_app.views.common import ViewResult, go, notify, problem_for, with_client
from vault_app.views.groups import find_group
from vault_app.views.posts import find_post, outcome, to_post

blueprint = Blueprint("pins", __name__)


@blueprint.post("/groups/<group_id>/posts/<post_id>/pin")
@with_client
def pin(client: Client, group_id: str, post_id: str) -> ViewResult:
    """``pin=1`` pins, ``pin=0`` unpins; whether this member may is the SDK's to decide,
    and its refusal is said."""
    info = find_group(client, group_id)
    post = find_post(client, info.group_id, post_id)
    chosen = request.form.get("pin")
    if chosen not in ("0", "1"):
        abort(400)
    pinning = chosen == "1"
    try:
        if pinning:
            posted = client.pin(info.group_id, post.post_id)
        else:
            posted = client.unpin(info.group_id, post.post_id)
    except Exception as error:
        notify(problem_for(error))
    else:
        outcome(posted, "pin" if pinning else "unpin")
        if posted.status == "delivered":
            notify(Message(gettext("The post is pinned for everyone in the group.") if pinning
                           else gettext("The post is no longer pinned.")))
    return go(to_post(info.group_id, post.post_id))
