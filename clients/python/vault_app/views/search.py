"""Searching a group's posts on this computer (``Client.search``).

The words are sent by POST and shown only in the page that answers: never in an address,
where the browser's history (and any history it syncs) would keep them, and the search box
asks the browser not to remember what was typed in it (``autocomplete="off"``)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from flask import Blueprint, render_template, request, url_for
from vault_client import Client, GroupInfo, PostView, Thread
from vault_client import errors as er

from vault_app import files, text
from vault_app.i18n import gettext
from vault_app.messages import Message
from vault_app.shown_warnings import warning_key
from vault_app.views.common import ViewResult, with_client
from vault_app.views.groups import (
    FEED_PAGE,
    Item,
    find_group,
    group_name,
    names_of,
    shown_warnings,
)

blueprint = Blueprint("search", __name__)

SHOWN = 50
"""Results on the page, newest first (more: the person adds words)."""
MAX_QUERY = 200


def conversation_link(group_id: str, threads: Sequence[Thread], post: PostView) -> str:
    """The group page opened far enough back to show *post*, at the post."""
    for age, thread in enumerate(reversed(threads), start=1):  # 1: the newest conversation
        if post.post_id in {thread.root.post_id, *(r.post_id for r in thread.replies)}:
            show = max(FEED_PAGE, math.ceil(age / FEED_PAGE) * FEED_PAGE)
            break
    else:
        show = FEED_PAGE
    page = url_for("groups.show", group_id=group_id, show=show) if show > FEED_PAGE \
        else url_for("groups.show", group_id=group_id)
    return f"{page}#post-{post.post_id}"


def page_context(client: Client, info: GroupInfo) -> dict[str, Any]:
    """What ``groups/search.html`` needs besides the results (``groups/_post.html``'s names,
    without the buttons that write: a result is read here, answered in its conversation)."""
    always = shown_warnings().matcher(info.group_id)
    return {
        "group": info,
        "group_name": group_name(info),
        "name_of": names_of(client, info.group_id),
        "can_write": False,
        "can_moderate": False,
        "reactions": (),
        "warning_shown": lambda warning: warning_key(warning or "") in always,
        "countdown_formats": text.countdown_formats(),
        "looks_like_image": files.looks_like_image,
        "size_text": files.size_text,
    }


@blueprint.route("/groups/<group_id>/search", methods=["GET", "POST"])
@with_client
def search(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    context = page_context(client, info)
    if request.method == "GET":
        return render_template("groups/search.html", query="", results=None, problem=None,
                               **context)
    query = request.form.get("q", "")[:MAX_QUERY + 1]
    try:
        found = client.search(query, info.group_id)
    except er.InvalidArgumentError:
        problem = Message(gettext("A search can be at most 200 characters long.")) \
            if len(query) > MAX_QUERY else Message(gettext("Type at least one word to search for."))
        return render_template("groups/search.html", query=query, results=None,
                               problem=problem, **context), 422
    threads = client.threads(info.group_id)
    results = [(Item(post, 0), conversation_link(info.group_id, threads, post))
               for post in found[:SHOWN]]
    return render_template("groups/search.html", query=query, results=results,
                           total=len(found), problem=None, **context)
