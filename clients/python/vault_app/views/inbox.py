"""The moderators' inbox in the app: reporting a post (a form under each post), asking the
moderators for support, and the inbox page -- for moderators and admins the reports and
requests with their answers and resolutions, for members the threads they began. Each item
is sealed to the moderators and admins and sent at once: the page says it was sent, or why
not (nothing is kept to send later)."""

from __future__ import annotations

from flask import Blueprint, request, url_for
from vault_client import Client, GroupInfo

from vault_app.i18n import gettext
from vault_app.messages import Message
from vault_app.views.admin import page
from vault_app.views.common import ViewResult, go, notify, problem_for, with_client
from vault_app.views.groups import find_group
from vault_app.views.manage import is_moderator, my_role
from vault_app.views.posts import form_text, to_post

blueprint = Blueprint("inbox", __name__)

OUTCOMES = ("answered", "dismissed", "post_deleted", "member_removed")


def inbox_page(client: Client, info: GroupInfo, *, problem: Message | None = None,
               typed: str = "") -> str:
    threads = []
    if problem is None:
        try:
            threads = client.inbox(info.group_id)
        except Exception as error:  # the page says what went wrong, and shows nothing old
            problem = problem_for(error)
    threads.reverse()  # newest first
    return page("groups/inbox.html", client, info, threads=threads, problem=problem,
                typed=typed, outcomes=OUTCOMES,
                moderating=is_moderator(my_role(client, info.group_id)))


def back(info: GroupInfo, thread: str | None = None) -> ViewResult:
    target = url_for("inbox.index", group_id=info.group_id)
    return go(f"{target}#thread-{thread}" if thread else target)


@blueprint.get("/groups/<group_id>/inbox")
@with_client
def index(client: Client, group_id: str) -> ViewResult:
    return inbox_page(client, find_group(client, group_id))


@blueprint.post("/groups/<group_id>/inbox")
@with_client
def ask(client: Client, group_id: str) -> ViewResult:
    """A request for support (or, with ``thread``, writing again in one's own thread)."""
    info = find_group(client, group_id)
    text = form_text("text").strip()
    thread = request.form.get("thread") or None
    if not text:
        return inbox_page(client, info, problem=Message(
            gettext("There is nothing to send."), gettext("Write something first."))), 422
    try:
        sent = client.ask_moderators(info.group_id, text, thread=thread)
    except Exception as error:
        return inbox_page(client, info, problem=problem_for(error), typed=text), 422
    notify(Message(gettext("Sent to the moderators."),
                   gettext("Only the group's moderators and admins read it.")))
    return back(info, sent)


@blueprint.post("/groups/<group_id>/posts/<post_id>/report")
@with_client
def report(client: Client, group_id: str, post_id: str) -> ViewResult:
    info = find_group(client, group_id)
    reason = form_text("reason").strip()
    if not reason:
        notify(Message(gettext("The report was not sent."),
                       gettext("Say why you report the post: the moderators read your reason.")))
        return go(to_post(info.group_id, post_id))
    try:
        client.report(info.group_id, post_id, reason)
    except Exception as error:
        problem = problem_for(error)
        notify(Message(gettext("The report was not sent."), problem.text))
        return go(to_post(info.group_id, post_id))
    notify(Message(gettext("The post was reported to the moderators."),
                   gettext("Only they read your report; the person who wrote the post is not "
                           "told who reported it.")))
    return go(to_post(info.group_id, post_id))


@blueprint.post("/groups/<group_id>/inbox/<thread_id>/answer")
@with_client
def answer(client: Client, group_id: str, thread_id: str) -> ViewResult:
    info = find_group(client, group_id)
    text = form_text("text").strip()
    if not text:
        return back(info, thread_id)
    try:
        client.reply_in_inbox(info.group_id, thread_id, text)
    except Exception as error:
        return inbox_page(client, info, problem=problem_for(error)), 422
    notify(Message(gettext("Your answer was sent, privately.")))
    return back(info, thread_id)


@blueprint.post("/groups/<group_id>/inbox/<thread_id>/resolve")
@with_client
def resolve(client: Client, group_id: str, thread_id: str) -> ViewResult:
    info = find_group(client, group_id)
    outcome = request.form.get("outcome", "")
    if outcome not in OUTCOMES:
        return inbox_page(client, info, problem=Message(
            gettext("Choose how it was resolved."))), 422
    try:
        client.resolve(info.group_id, thread_id, outcome,  # type: ignore[arg-type]
                       note=form_text("note").strip())
    except Exception as error:
        return inbox_page(client, info, problem=problem_for(error)), 422
    notify(Message(gettext("Resolved. The other moderators see it.")))
    return back(info, thread_id)
