"""The groups list (with unread counts), creating a group, and a group's page: its feed as
threads, the compose form and the sync warnings as banners.

Neither page waits for an unreachable relay: they sync in the background
(:mod:`vault_app.refresh`) and are drawn from this computer's store as soon as the relay
fails to answer, saying so; the live stream (a group's page) and a periodic htmx refresh
(the groups list) show what the sync brings."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, cast

from flask import Blueprint, abort, current_app, render_template, request, url_for
from vault_client import (
    MAIN_CHANNEL,
    ChannelInfo,
    Client,
    GroupInfo,
    PostView,
    Role,
    SyncWarning,
    Thread,
)
from vault_client import errors as er

from vault_app import files, messages, text
from vault_app.i18n import gettext, lazy_gettext
from vault_app.messages import Message
from vault_app.notify_settings import NotifySettings
from vault_app.refresh import Outcome, Refresher, all_groups_work, group_work
from vault_app.shown_warnings import ShownWarnings, warning_key
from vault_app.views.common import (
    ViewResult,
    current_device,
    current_settings,
    go,
    notify,
    problem_for,
    seen_posts,
    with_client,
)

log = logging.getLogger(__name__)
blueprint = Blueprint("groups", __name__)

FEED_PAGE = 50
"""Conversations drawn at first (newest first); "Show older posts" adds as many again. A
feed of 1,000 posts drawn whole took seconds to appear (benchmarks/app.py)."""
MAX_SHOWN = 100_000
MAX_DEPTH = 4
"""Replies to replies are indented up to this depth, then stay there (narrow screens)."""
MAX_BANNERS = 6
REACTIONS = ("💜", "🙏", "🕯", "🤗", "👍")
"""The reaction buttons under each post (any text up to 64 bytes is a valid reaction)."""
EXPIRY_CHOICES: tuple[tuple[str, int | None], ...] = (
    ("never", None), ("hour", 3600), ("day", 86400), ("week", 7 * 86400))
"""The compose form's "Disappears" choices (the SDK takes any number of seconds; the
template words each one)."""

MAIN = ChannelInfo(MAIN_CHANNEL, "", "main", True)
"""The main channel, for a group this computer cannot list the channels of yet."""

STATUS_TEXT: dict[str, Message] = {  # lazy: translated each time a page shows one
    "pending": Message(lazy_gettext("Your request to join is waiting for an admin."),
                       lazy_gettext("When they approve it, the group's posts appear here.")),
    "denied": Message(lazy_gettext("An admin did not accept your request to join this group.")),
    "removed": Message(
        lazy_gettext("You are no longer a member of this group: an admin removed you."),
        lazy_gettext("What was on this computer stays readable here; nothing new arrives.")),
    "left": Message(lazy_gettext("You left this group.")),
    "creating": Message(lazy_gettext("This group is not on the server yet."),
                        lazy_gettext("It is created as soon as the server can be reached.")),
}


@dataclass(frozen=True)
class GroupRow:
    info: GroupInfo
    unread: int


@dataclass(frozen=True)
class Item:
    """A post or reply on the page, with its indentation."""

    post: PostView
    depth: int


def group_name(info: GroupInfo) -> str:
    if info.name is not None:
        return info.name  # the group's own words: never through gettext
    return gettext("A group (its name cannot be read yet)")


def thread_items(thread: Thread) -> list[Item]:
    """The thread's posts in order, each reply one step deeper than what it answers."""
    depth = {thread.root.post_id: 0}
    items = [Item(thread.root, 0)]
    for reply in thread.replies:
        level = min(depth.get(reply.reply_to or "", 0) + 1, MAX_DEPTH)
        depth[reply.post_id] = level
        items.append(Item(reply, level))
    return items


def find_group(client: Client, group_id: str) -> GroupInfo:
    """The group, or 404; a group an owner deleted leads to the groups list, which says so."""
    try:
        return client.group(group_id)
    except (er.UnknownGroupError, er.UnknownReferenceError):
        if any(n.group_id == group_id for n in client.deleted_groups()):
            abort(go(url_for("groups.index")))
        abort(404)


def names_of(client: Client, group_id: str) -> Callable[[str], str]:
    labels = {m.member_id: m.label or (m.display_name or "") for m in client.members(group_id)}
    return lambda member_id: labels.get(member_id) or gettext("a former member")


def banners(client: Client, group_id: str, name_of: Callable[[str], str]) -> list[Message]:
    """This group's sync warnings since Vault was opened, as sentences, newest first, each
    said once."""
    out: list[Message] = []
    for warning in reversed(client.warnings()):
        if not isinstance(warning, SyncWarning) or warning.group_id != group_id:
            continue
        message = messages.for_warning(warning, name_of)
        if message not in out:
            out.append(message)
        if len(out) >= MAX_BANNERS:
            break
    return out


def shown_warnings() -> ShownWarnings:
    return cast(ShownWarnings, current_app.extensions["vault_shown_warnings"])


def notify_settings() -> NotifySettings:
    return cast(NotifySettings, current_app.extensions["vault_notify"])


def refresher() -> Refresher:
    return cast(Refresher, current_app.extensions["vault_refresher"])


def offline_notice(outcome: Outcome) -> Message | None:
    if not outcome.offline:
        return None
    return Message(gettext("Showing what is on this computer; new posts will appear when the "
                           "Vault server can be reached again."))


def can_moderate(info: GroupInfo) -> bool:
    """Moderators and admins may delete others' posts (the SDK's refusal is the real check)."""
    return info.status == "member" and info.my_role is not None \
        and info.my_role >= Role.MODERATOR


def feed_version(threads: Sequence[Thread]) -> str:
    """What the feed shows now, as a short token: it changes with any post, edit,
    deletion or reaction (the live stream compares it with the one its page was drawn
    with). Only compared within this process, never stored."""
    return format(hash(tuple(threads)) & 0xFFFFFFFFFFFF, "x")


def threads_shown() -> int:
    """How many conversations the feed shows (``?show=``): the newest FEED_PAGE, and
    FEED_PAGE more each time the person asks for older ones."""
    try:
        wanted = int(request.args.get("show", FEED_PAGE))
    except ValueError:
        wanted = FEED_PAGE
    return min(max(wanted, FEED_PAGE), MAX_SHOWN)


def threads_to_reach(threads: Sequence[Thread], post_id: str) -> int:
    """How many conversations (a multiple of FEED_PAGE) the feed must show, newest first,
    to show *post_id* (``?at=``, a search result's link); FEED_PAGE when it is not there."""
    for age, thread in enumerate(reversed(threads), start=1):
        if post_id == thread.root.post_id or any(r.post_id == post_id for r in thread.replies):
            return max(FEED_PAGE, -(-age // FEED_PAGE) * FEED_PAGE)
    return FEED_PAGE


def current_channel(client: Client, info: GroupInfo,
                    channels: Sequence[ChannelInfo]) -> ChannelInfo:
    """The channel the page shows (``?channel=``); with ``?at=`` (a link to one post) and no
    channel asked for, that post's; else the main one."""
    wanted = request.args.get("channel") or request.form.get("channel")
    at = request.args.get("at")
    if not wanted and at:
        with contextlib.suppress(er.VaultError):
            wanted = client.get_post(info.group_id, at).channel_id
    return next((c for c in channels if c.channel_id == wanted), channels[0])


def feed_context(client: Client, info: GroupInfo, *,
                 writing: bool = False) -> dict[str, Any]:
    """What the feed fragment needs (the whole page adds the rest): the threads of the
    channel shown. *writing*: the page shows what the person typed, which this member may
    not post in the channel asked for: the main channel is shown, with the form."""
    every = client.threads(info.group_id)
    channels = client.channels(info.group_id) or [MAIN]
    channel = current_channel(client, info, channels)
    if writing and not channel.can_post:
        channel = channels[0]
    threads = [t for t in every if t.root.channel_id == channel.channel_id]
    show = threads_shown()
    at = request.args.get("at")
    if at:  # (counted after the sync the page waited for: new posts came in first)
        show = min(max(show, threads_to_reach(threads, at)), MAX_SHOWN)
    newest = threads[-show:]  # only these are drawn: a big group's page stays quick
    return {
        **post_context(client, info),
        "threads": [thread_items(t) for t in reversed(newest)],  # newest thread first
        "pinned": [p for t in threads for p in (t.root, *t.replies) if p.pinned_by],
        "raw_threads": every,
        "channel_threads": threads,
        "channels": channels,
        "channel": channel,
        "show": show,
        "version": feed_version(every),  # the whole group's: the live stream compares it
        "older": len(threads) - len(newest),
        "show_more": show + FEED_PAGE,
        "reactions": REACTIONS,
        "can_write": info.status in ("member", "creating"),
        "can_post_here": info.status == "creating" or channel.can_post,
        "can_moderate": can_moderate(info),
    }


def post_context(client: Client, info: GroupInfo) -> dict[str, Any]:
    """What ``groups/_post.html`` needs to draw this group's posts, wherever they are shown
    (the feed adds its buttons; a search's results leave them out)."""
    always = shown_warnings().matcher(info.group_id)
    return {
        "group": info,
        "group_name": group_name(info),
        "name_of": names_of(client, info.group_id),
        "warning_shown": lambda warning: warning_key(warning or "") in always,
        "countdown_formats": text.countdown_formats(),
        "looks_like_image": files.looks_like_image,
        "size_text": files.size_text,
    }


def list_context(client: Client) -> dict[str, Any]:
    """The groups list, synced in the background (see the module), with unread counts."""
    outcome = refresher().wait("*", all_groups_work(client, current_device()))
    # one group's failure does not stop the others; an unreachable relay is said once
    failed = [e for e in outcome.errors if not isinstance(e, er.RelayUnreachableError)]
    problem = problem_for(failed[0]) if failed else None
    offline = outcome.offline or any(isinstance(e, er.RelayUnreachableError)
                                     for e in outcome.errors)
    seen = seen_posts()
    rows = [GroupRow(info, seen.unread(info.group_id, client.threads(info.group_id)))
            for info in client.groups()]
    return {"rows": rows, "group_name": group_name, "problem": problem,
            "deleted": client.deleted_groups(), "not_backed_up": len(client.not_backed_up()),
            "offline": offline_notice(Outcome(synced=False, offline=offline))}


@blueprint.get("/")
@with_client
def index(client: Client) -> ViewResult:
    return render_template("groups/index.html", **list_context(client))


@blueprint.post("/groups/deleted/<group_id>/dismiss")
@with_client
def dismiss_deleted(client: Client, group_id: str) -> ViewResult:
    """The person has read that a group was deleted: the note goes."""
    with contextlib.suppress(er.UnknownGroupError):  # (already dismissed, in another tab)
        client.dismiss_deleted_group(group_id)
    return go(url_for("groups.index"))


@blueprint.get("/groups/list")
@with_client
def group_list(client: Client) -> ViewResult:
    """The list alone, for its periodic refresh (htmx): each one syncs in the background."""
    return render_template("groups/_list.html", **list_context(client))


@blueprint.route("/groups/new", methods=["GET", "POST"])
@with_client
def create(client: Client) -> ViewResult:
    settings = current_settings()
    form = {"name": "", "description": "", "rules": "", "display_name": "",
            "relay": settings.relay_url or ""}
    if request.method == "GET":
        return render_template("groups/new.html", form=form, problem=None)
    form = {key: request.form.get(key, "").strip() for key in form}
    if not form["name"]:
        return render_template("groups/new.html", form=form,
                               problem=Message(gettext("Give the group a name."))), 422
    try:
        info = client.create_group(form["name"], form["description"], form["rules"],
                                   relay_url=form["relay"] or None,
                                   display_name=form["display_name"] or None)
    except Exception as error:
        return render_template("groups/new.html", form=form,
                               problem=problem_for(error)), 422
    return go(url_for("groups.show", group_id=info.group_id))


@blueprint.get("/groups/<group_id>")
@with_client
def show(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    outcome = refresher().wait(info.group_id, group_work(client, info, current_device()))
    unreachable = [e for e in outcome.errors if isinstance(e, er.RelayUnreachableError)]
    failed = [e for e in outcome.errors if not isinstance(e, er.RelayUnreachableError)]
    # show what this computer has, and say what went wrong
    problem = problem_for(failed[0]) if failed else None
    offline = offline_notice(Outcome(synced=False, offline=outcome.offline or bool(unreachable)))
    info = find_group(client, group_id)
    return render_page(client, info, problem=problem, offline=offline)


def render_page(client: Client, info: GroupInfo, *, problem: Message | None = None,
                offline: Message | None = None, draft: dict[str, str] | None = None,
                status_code: int = 200) -> ViewResult:
    """The whole group page (also drawn again, with what was typed, by a refused post)."""
    context = feed_context(client, info, writing=draft is not None)
    if status_code == 200:  # (the channel shown: the others' new posts stay new)
        seen_posts().mark_seen(info.group_id, context["channel_threads"], context["raw_threads"])
    page = render_template(
        "groups/show.html", problem=problem, offline=offline,
        status=STATUS_TEXT.get(info.status),
        banners=banners(client, info.group_id, context["name_of"]),
        draft=draft or {"text": "", "content_warning": "", "expires": "never"},
        notify_on=notify_settings().enabled(info.group_id),
        expiry_choices=EXPIRY_CHOICES, always_shown=shown_warnings().for_group(info.group_id),
        **context)
    return page if status_code == 200 else (page, status_code)


@blueprint.get("/groups/<group_id>/feed")
@with_client
def feed(client: Client, group_id: str) -> ViewResult:
    """The feed alone, for the live updates (the stream has synced already)."""
    info = find_group(client, group_id)
    context = feed_context(client, info)
    if request.args.get("visible") == "1":  # the person has the page in front of them
        seen_posts().mark_seen(info.group_id, context["channel_threads"], context["raw_threads"])
    return render_template("groups/_feed.html", **context)


@blueprint.post("/groups/<group_id>/rules/accept")
@with_client
def accept_rules(client: Client, group_id: str) -> ViewResult:
    """The person read the group's rules (shown on the group page) and accepts them."""
    info = find_group(client, group_id)
    try:
        # The rules the page showed: refused (and said) if they changed meanwhile.
        client.accept_rules(info.group_id, request.form.get("rules_id") or None)
    except Exception as error:
        notify(problem_for(error))
    else:
        notify(Message(gettext("You accepted the group's rules."),
                       gettext("The group's admins see that you did.")))
    return go(url_for("groups.show", group_id=info.group_id))


@blueprint.post("/groups/<group_id>/notify")
@with_client
def notify_toggle(client: Client, group_id: str) -> ViewResult:
    """Turn this group's notifications off (``on=0``) or on again, on this computer."""
    info = find_group(client, group_id)
    on = request.form.get("on") == "1"
    notify_settings().set_enabled(info.group_id, on)
    notify(Message(gettext("You will be notified of new posts in this group again.") if on
                   else gettext("No more notifications from this group on this computer.")))
    return go(url_for("groups.show", group_id=info.group_id) + "#feed-heading")


# --- content warnings shown open ---------------------------------------------------------------


@blueprint.post("/groups/<group_id>/warnings")
@with_client
def always_show(client: Client, group_id: str) -> ViewResult:
    """"Always show posts with this warning in this group" (on this computer only)."""
    info = find_group(client, group_id)
    back = request.form.get("post_id", "")
    page = url_for("groups.show", group_id=info.group_id)
    try:  # the post's own warning, as this device holds it (never text from the form)
        warning = client.get_post(info.group_id, back).content_warning
    except (er.UnknownReferenceError, er.InvalidArgumentError, er.MalformedError):
        warning = None
    if warning is None:
        return go(page)
    if shown_warnings().add(info.group_id, warning):
        notify(Message(gettext("Posts with this warning are now shown open in this group, on "
                               "this computer only."),
                       gettext("You can undo it under “Warnings you always see”.")))
    else:
        notify(Message(gettext("That warning could not be saved."),
                       gettext("A group keeps at most 50 of them: remove one first.")))
    return go(f"{page}#post-{back}")


@blueprint.post("/groups/<group_id>/warnings/remove")
@with_client
def stop_showing(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    saved = shown_warnings().for_group(info.group_id)
    position = request.form.get("position", "")
    if position.isdigit() and int(position) < len(saved):
        shown_warnings().remove(info.group_id, saved[int(position)])
    notify(Message(gettext("Posts with that warning are shown closed again.")))
    return go(url_for("groups.show", group_id=info.group_id) + "#always-shown")
