"""Writing: a post or a reply (with a content warning, an expiry and attachments), a
reaction, editing and deleting one's own posts (and, for moderators and admins, others').
Each says plainly where the post is now: delivered, kept on this computer until it can be
sent, or refused (and why). And reading attachments: ``GET .../attachments/<id>`` serves
a file as :mod:`vault_app.files` decides (images inline, everything else downloaded)."""

from __future__ import annotations

from typing import Final, Literal
from urllib.parse import quote

from flask import Blueprint, Response, abort, render_template, request, url_for
from vault_client import MAIN_CHANNEL, AttachmentInfo, Client, Posted, PostView
from vault_client import errors as er

from vault_app import files
from vault_app.i18n import DEFAULT, N_, gettext, language, ngettext
from vault_app.messages import Message, sentence
from vault_app.views.common import ViewResult, go, notify, problem_for, with_client
from vault_app.views.groups import EXPIRY_CHOICES, can_moderate, find_group, render_page

blueprint = Blueprint("posts", __name__)


Written = Literal["post", "reply", "reaction", "change", "deletion", "poll", "vote", "pin",
                  "unpin"]
"""What a person sent, for :func:`outcome`."""

# Whole sentences, one for each kind of thing sent (translated when said: see outcome()).
QUEUED: Final[dict[Written, str]] = {
    "post": N_("Your post is saved on this computer but not sent yet."),
    "reply": N_("Your reply is saved on this computer but not sent yet."),
    "reaction": N_("Your reaction is saved on this computer but not sent yet."),
    "change": N_("Your change is saved on this computer but not sent yet."),
    "deletion": N_("Your deletion is saved on this computer but not sent yet."),
    "poll": N_("Your poll is saved on this computer but not sent yet."),
    "vote": N_("Your vote is saved on this computer but not sent yet."),
    "pin": N_("Your pin is saved on this computer but not sent yet."),
    "unpin": N_("Your unpinning is saved on this computer but not sent yet."),
}
REFUSED: Final[dict[Written, str]] = {
    "post": N_("Your post was not sent."),
    "reply": N_("Your reply was not sent."),
    "reaction": N_("Your reaction was not sent."),
    "change": N_("Your change was not sent."),
    "deletion": N_("Your deletion was not sent."),
    "poll": N_("Your poll was not sent."),
    "vote": N_("Your vote was not sent."),
    "pin": N_("Your pin was not sent."),
    "unpin": N_("Your unpinning was not sent."),
}


def _reason(posted: Posted, own: str) -> str:
    """Why it was not sent: the SDK's words, which are English, so in another language (or
    when the SDK gave no reason) *own* sentence instead."""
    if language() != DEFAULT:
        return own
    return sentence(posted.reason or "") or own


def outcome(posted: Posted, what: Written) -> None:
    """Tell the person what happened to what they wrote (nothing says "done" that is not)."""
    if posted.status == "queued":
        notify(Message(gettext(QUEUED[what]),
                       _reason(posted, gettext("It is sent as soon as possible."))))
    elif posted.status == "refused":
        notify(Message(gettext(REFUSED[what]), _reason(posted, gettext("Please try again."))))


def to_post(group_id: str, post_id: str | None = None) -> str:
    """The group's page showing *post_id* (in its channel, far enough back to reach it)."""
    if not post_id:
        return url_for("groups.show", group_id=group_id)
    return url_for("groups.show", group_id=group_id, at=post_id) + f"#post-{post_id}"


def find_post(client: Client, group_id: str, post_id: str) -> PostView:
    try:
        return client.get_post(group_id, post_id)
    except (er.UnknownReferenceError, er.UnknownGroupError, er.InvalidArgumentError,
            er.MalformedError):
        abort(404)


def form_text(name: str) -> str:
    # Browsers send line breaks as CRLF; members' devices expect the text as typed.
    return request.form.get(name, "").replace("\r\n", "\n")


def form_files() -> tuple[list[tuple[bytes, str, str]], Message | None]:
    """The attached files, as the SDK takes them, or what is wrong with them (checked here
    first to say it plainly; the SDK refuses the same)."""
    uploads = [f for f in request.files.getlist("attachments") if f.filename]
    if len(uploads) > files.MAX_ATTACHMENTS:
        return [], Message(
            gettext("A post can carry at most %(num)d files.", num=files.MAX_ATTACHMENTS),
            gettext("Choose fewer files, or send them in several posts."))
    out: list[tuple[bytes, str, str]] = []
    for upload in uploads:
        data = upload.read()
        name = files.safe_file_name(upload.filename or "", "file")
        if len(data) > files.MAX_ATTACHMENT_SIZE:
            return [], Message(
                gettext("The file “%(name)s” is too large to send: files can be at most "
                        "10 MB.", name=name),
                gettext("Choose a smaller file, or make the picture smaller first."))
        out.append((data, files.media_type_to_send(upload.mimetype), name))
    return out, None


def form_expiry() -> tuple[str, int | None]:
    chosen = request.form.get("expires", "never")
    for key, seconds in EXPIRY_CHOICES:
        if key == chosen:
            return key, seconds
    return "never", None


@blueprint.post("/groups/<group_id>/posts")
@with_client
def create(client: Client, group_id: str) -> ViewResult:
    """A new post, or (with ``reply_to``) a reply, with its attachments and expiry."""
    info = find_group(client, group_id)
    text = form_text("text")
    warning = form_text("content_warning").strip() or None
    reply_to = request.form.get("reply_to") or None
    expiry_key, expires_in = form_expiry()
    attachments, problem = form_files()
    if problem is None and not text.strip() and not attachments:
        problem = Message(gettext("There is nothing to send."), gettext("Write something first."))
    if problem is None:
        try:
            if reply_to:
                posted = client.reply(info.group_id, reply_to, text, content_warning=warning,
                                      expires_in=expires_in, attachments=attachments)
            else:
                posted = client.post(info.group_id, text, content_warning=warning,
                                     expires_in=expires_in, attachments=attachments,
                                     channel=request.form.get("channel") or MAIN_CHANNEL)
        except er.TooLargeError as error:
            problem = Message(problem_for(error).text,
                              gettext("Make the text shorter, or send fewer or smaller "
                                      "files."))
        except Exception as error:
            problem = problem_for(error)
        else:
            outcome(posted, "reply" if reply_to else "post")
            return go(to_post(info.group_id, posted.post_id))
    chosen = [f for f in request.files.getlist("attachments") if f.filename]
    if chosen:
        # A page cannot be given files back: say so (a sentence of its own), after the advice.
        again = ngettext("Your text is kept below; the file was not sent: choose it again.",
                         "Your text is kept below; the files were not sent: choose them again.",
                         len(chosen))
        advice = str(problem.advice)
        problem = Message(problem.text, f"{advice} {again}" if advice else again)
    # Show the page again with what they wrote, so nothing typed is lost.
    return render_page(client, info, problem=problem, status_code=422, draft={
        "text": text, "content_warning": warning or "", "reply_to": reply_to or "",
        "expires": expiry_key})


@blueprint.post("/groups/<group_id>/posts/<post_id>/react")
@with_client
def react(client: Client, group_id: str, post_id: str) -> ViewResult:
    reaction = request.form.get("reaction", "").strip()
    if reaction:
        try:
            outcome(client.react(group_id, post_id, reaction), "reaction")
        except Exception as error:
            notify(problem_for(error))
    return go(to_post(group_id, post_id))


@blueprint.route("/groups/<group_id>/posts/<post_id>/edit", methods=["GET", "POST"])
@with_client
def edit(client: Client, group_id: str, post_id: str) -> ViewResult:
    info = find_group(client, group_id)
    post = find_post(client, info.group_id, post_id)
    if request.method == "GET":
        return render_template("groups/edit.html", group=info, post=post, problem=None,
                               text=post.text, content_warning=post.content_warning or "")
    text = form_text("text")
    warning = form_text("content_warning").strip()
    problem = None
    if not text.strip():
        problem = Message(gettext("There is nothing to send."),
                          gettext("To remove the post, delete it instead."))
    else:
        try:
            # An emptied warning field removes the warning; otherwise it is kept or changed.
            posted = client.edit(info.group_id, post.post_id, text,
                                 content_warning=warning or None, keep_warning=bool(warning))
        except Exception as error:
            problem = problem_for(error)
        else:
            outcome(posted, "change")
            return go(to_post(info.group_id, post.post_id))
    return render_template("groups/edit.html", group=info, post=post, problem=problem,
                           text=text, content_warning=warning), 422


@blueprint.route("/groups/<group_id>/posts/<post_id>/delete", methods=["GET", "POST"])
@with_client
def delete(client: Client, group_id: str, post_id: str) -> ViewResult:
    """Asks once (a page of its own), then deletes: one's own post, or (moderators and
    admins) anyone's. Whether one may is the SDK's to decide: its refusal is shown."""
    info = find_group(client, group_id)
    post = find_post(client, info.group_id, post_id)
    author = post.author_label or post.author_name or ""
    if request.method == "GET":
        return render_template("groups/delete.html", group=info, post=post, problem=None,
                               author=author, can_moderate=can_moderate(info))
    try:
        outcome(client.delete(info.group_id, post.post_id), "deletion")
    except Exception as error:
        return render_template("groups/delete.html", group=info, post=post, author=author,
                               can_moderate=can_moderate(info),
                               problem=problem_for(error)), 422
    notify(Message(gettext("The post was deleted."),
                   gettext("Other members' Vault removes it too.")))
    return go(to_post(info.group_id))


def find_attachment(post: PostView, attachment_id: str) -> AttachmentInfo:
    for attachment in post.attachments:
        if attachment.attachment_id == attachment_id:
            return attachment
    abort(404)


@blueprint.get("/groups/<group_id>/posts/<post_id>/attachments/<attachment_id>")
@with_client
def attachment(client: Client, group_id: str, post_id: str, attachment_id: str) -> ViewResult:
    """One attachment of a visible post, decrypted. A PNG, JPEG, GIF or WebP (by its bytes)
    is served for the page to show, unless ``?download=1``; anything else only as a
    download of opaque bytes (see :mod:`vault_app.files`)."""
    info = find_group(client, group_id)
    post = find_post(client, info.group_id, post_id)
    if post.deleted:
        abort(404)
    found = find_attachment(post, attachment_id)
    try:
        data = client.attachment(info.group_id, found)
    except Exception as error:
        problem = problem_for(error)
        return render_template("error.html", code=502, problem=problem), 502
    image = files.sniff_image(data)
    fallback = "attachment-" + found.attachment_id[:8]
    name = files.safe_file_name(found.file_name, fallback)
    if image is not None and request.args.get("download") != "1":
        response = Response(data, mimetype=image)
        disposition = "inline"
    else:
        response = Response(data, mimetype="application/octet-stream")
        disposition = "attachment"
    # The name as RFC 6266 wants it: ASCII for old browsers, UTF-8 for the rest.
    ascii_name = "".join(c if c.isascii() and c.isprintable() and c not in '"\\;' else "_"
                         for c in name)
    response.headers["Content-Disposition"] = (
        f'{disposition}; filename="{ascii_name}"; filename*=UTF-8\'\'{quote(name, safe="")}')
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response
