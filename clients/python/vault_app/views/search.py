"""Searching a group's posts on this computer (``Client.search``).

The words are sent by POST, kept in this process's memory (:mod:`vault_app.searches`), and
the answer is a redirect to the results under a random token: never in an address, where
the browser's history (and any history it syncs) would keep them, and Back shows the
results again without asking to send the form again. The search box asks the browser not
to remember what was typed in it (``autocomplete="off"``)."""

from __future__ import annotations

from typing import Any, cast

from flask import Blueprint, current_app, render_template, request, url_for
from vault_client import Client, GroupInfo, PostView
from vault_client import errors as er

from vault_app.i18n import gettext
from vault_app.messages import Message
from vault_app.searches import RecentSearches
from vault_app.security import current_session
from vault_app.views.common import ViewResult, go, with_client
from vault_app.views.groups import Item, find_group, post_context

blueprint = Blueprint("search", __name__)

SHOWN = 50
"""Results on the page, newest first (more: the person adds words)."""
MAX_QUERY = 200


def conversation_link(group_id: str, post: PostView) -> str:
    """The group's page, opened far enough back to show *post* (``?at=``: counted when the
    page is drawn, after the posts that came in meanwhile), at the post."""
    return url_for("groups.show", group_id=group_id, at=post.post_id) + f"#post-{post.post_id}"


def page_context(client: Client, info: GroupInfo) -> dict[str, Any]:
    """What ``groups/search.html`` needs besides the results: the group's posts drawn as
    in the feed, without the buttons that write (a result is read here, answered in its
    conversation)."""
    return {**post_context(client, info), "can_write": False, "can_moderate": False,
            "read_only": True, "reactions": ()}


def recent() -> RecentSearches:
    return cast(RecentSearches, current_app.extensions["vault_searches"])


@blueprint.post("/groups/<group_id>/search")
@with_client
def search(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    query = request.form.get("q", "")[:MAX_QUERY + 1]
    try:  # (a query the SDK refuses is refused here, with what was typed kept in the box)
        client.search(query, info.group_id, limit=1)
    except er.InvalidArgumentError:
        problem = Message(gettext("A search can be at most 200 characters long.")) \
            if len(query) > MAX_QUERY else Message(gettext("Type at least one word to search for."))
        return render_template("groups/search.html", query=query, results=None,
                               problem=problem, **page_context(client, info)), 422
    token = recent().keep(current_session().session_id, info.group_id, query)
    return go(url_for("search.results", group_id=info.group_id, r=token))


@blueprint.get("/groups/<group_id>/search")
@with_client
def results(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    context = page_context(client, info)
    token = request.args.get("r", "")
    query = recent().find(token, current_session().session_id, info.group_id) if token else None
    if query is None:  # the empty form (or a search forgotten at a lock)
        return render_template("groups/search.html", query="", results=None, problem=None,
                               **context)
    found = client.search(query, info.group_id)
    results = [(Item(post, 0), conversation_link(info.group_id, post)) for post in found[:SHOWN]]
    return render_template("groups/search.html", query=query, results=results,
                           total=len(found), problem=None, **context)
