"""Polls: asking the group a question (a page of its own, reached from the group page) and
voting in one (a form on the poll in the feed). Each says where the poll or vote is now, as
a post does (:func:`vault_app.views.posts.outcome`)."""

from __future__ import annotations

from typing import Final

from flask import Blueprint, render_template, request
from vault_client import MAIN_CHANNEL, Client

from vault_app.i18n import gettext
from vault_app.messages import Message
from vault_app.views.common import ViewResult, go, notify, problem_for, with_client
from vault_app.views.groups import find_group
from vault_app.views.posts import find_post, form_text, outcome, to_post

blueprint = Blueprint("polls", __name__)

MAX_OPTION_BYTES: Final = 100
"""An option's longest UTF-8 form (protocol POST-7; the SDK refuses the same)."""
OPTION_FIELDS: Final = 10
"""Option fields on the form: as many as a poll may have (protocol POST-7)."""
CLOSING_CHOICES: Final[tuple[tuple[str, int | None], ...]] = (
    ("never", None), ("day", 86400), ("three-days", 3 * 86400), ("week", 7 * 86400))
"""The form's "Voting closes" choices (the template words each one)."""


def _closing() -> tuple[str, int | None]:
    chosen = request.form.get("closes", "never")
    return next(((key, s) for key, s in CLOSING_CHOICES if key == chosen), ("never", None))


@blueprint.route("/groups/<group_id>/polls/new", methods=["GET", "POST"])
@with_client
def new(client: Client, group_id: str) -> ViewResult:
    """The form, and asking: empty option fields are left out; what members' devices would
    refuse (one option, the same option twice...) is said, with everything typed kept."""
    info = find_group(client, group_id)
    # The channel the group page showed (the SDK refuses one this member may not ask in).
    channel = request.values.get("channel") or MAIN_CHANNEL
    form = {"question": "", "options": [""] * OPTION_FIELDS, "closes": "never",
            "content_warning": ""}
    problem: Message | None = None
    if request.method == "POST":
        question = form_text("question").strip()
        typed = [form_text(f"option-{i}").strip() for i in range(OPTION_FIELDS)]
        options = [option for option in typed if option]
        closes_key, closes_in = _closing()
        warning = form_text("content_warning").strip()
        form = {"question": question, "options": typed, "closes": closes_key,
                "content_warning": warning}
        if not question:
            problem = Message(gettext("The poll needs a question."),
                              gettext("Write what you would like to ask the group."))
        elif len(options) < 2:
            problem = Message(gettext("A poll needs at least two options."),
                              gettext("Fill in two or more of the option fields."))
        elif len(set(options)) != len(options):
            problem = Message(gettext("Two options are the same."),
                              gettext("Each option can be listed once."))
        elif (long := next((o for o in options
                            if len(o.encode("utf-8", "replace")) > MAX_OPTION_BYTES), None)):
            problem = Message(
                gettext("The option “%(option)s” is too long.", option=long[:30] + "…"),
                gettext("Make it shorter: an option holds about 100 letters of the Latin "
                        "alphabet, fewer with accents or in other alphabets."))
        else:
            try:
                posted = client.create_poll(info.group_id, question, options,
                                            closes_in=closes_in,
                                            content_warning=warning or None, channel=channel)
            except Exception as error:
                problem = problem_for(error)
            else:
                outcome(posted, "poll")
                return go(to_post(info.group_id, posted.post_id))
    return render_template("groups/new_poll.html", group=info, form=form, problem=problem,
                           closing_choices=CLOSING_CHOICES,
                           channel=channel), 422 if problem else 200


@blueprint.post("/groups/<group_id>/posts/<post_id>/vote")
@with_client
def vote(client: Client, group_id: str, post_id: str) -> ViewResult:
    info = find_group(client, group_id)
    post = find_post(client, info.group_id, post_id)
    chosen = request.form.get("option", "")
    if not (chosen.isascii() and chosen.isdigit() and len(chosen) <= 2):
        notify(Message(gettext("Choose an option first."),
                       gettext("Then press “Vote” again.")))
        return go(to_post(info.group_id, post.post_id))
    try:
        posted = client.vote(info.group_id, post.post_id, int(chosen))
    except Exception as error:
        notify(problem_for(error))
    else:
        outcome(posted, "vote")
    return go(to_post(info.group_id, post.post_id))
