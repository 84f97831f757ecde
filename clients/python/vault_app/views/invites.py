"""Inviting and joining.

* Admins make an invite (how many people, how long, whether an admin must let each one in,
  what newcomers may read), then see its QR code (SVG on the page, a PNG to download) and
  its link to copy, and the group's open invites with "Revoke".
* Anyone joins with an invite: pasted link, a photo or screenshot of the QR code (read by
  the SDK from a temporary file that is deleted at once), or the computer's camera (read in
  the page by the vendored jsQR, which fills in the link: nothing leaves the machine). They
  choose the name the group will see, and are shown the safety number to read out.

The invite's secret is not kept by Vault (only its creator's device ever has it, and only
in memory): the QR code is shown to the browser session that made it, until the keystore
locks. Everything goes through the SDK: no QR or invite format of our own.
"""

from __future__ import annotations

import logging
import os
import tempfile
from dataclasses import dataclass
from datetime import timedelta
from typing import Final

from flask import Blueprint, Response, abort, render_template, request, url_for
from vault_client import (
    Client,
    GroupInfo,
    Invite,
    InviteInfo,
    InvitePreview,
    JoinResult,
    MemberInfo,
    Role,
)
from vault_client import errors as er
from werkzeug.exceptions import RequestEntityTooLarge

from vault_app.i18n import DEFAULT, N_, gettext, language, lazy_gettext
from vault_app.messages import Message, sentence
from vault_app.views.common import ViewResult, go, notify, problem_for, with_client
from vault_app.views.groups import find_group
from vault_app.views.manage import (
    HISTORY_CHOICES,
    digit_groups,
    group_label,
    history_label,
    is_admin,
    my_role,
    parse_history,
    shown_once,
)

log = logging.getLogger(__name__)
blueprint = Blueprint("invites", __name__)

EXPIRY_CHOICES: Final[tuple[tuple[str, str, timedelta], ...]] = (
    ("1h", N_("1 hour"), timedelta(hours=1)),
    ("1d", N_("1 day"), timedelta(days=1)),
    ("7d", N_("7 days"), timedelta(days=7)),
    ("30d", N_("30 days"), timedelta(days=30)),
)
"""The invite's lifetimes offered (key, label the template translates, how long)."""
DEFAULT_EXPIRY: Final = "7d"
MAX_USES: Final = 100

NEW_INVITES: Final = "new-invites"
JOIN_RESULTS: Final = "join-results"

ANYONE_WITH_IT = Message(lazy_gettext(
    "Anyone who has this link or a picture of this QR code can ask to join, until it "
    "expires or is used up. Give it only to the people it is meant for."))


@blueprint.app_template_filter("digit_groups")
def _digit_groups(number: str) -> list[str]:
    return digit_groups(number)


def invite_form_defaults(info: GroupInfo) -> dict[str, str]:
    policy = info.history_policy if isinstance(info.history_policy, str) else "none"
    return {"max_uses": "1", "expires": DEFAULT_EXPIRY, "approval": "on", "history": policy}


def fresh_invite(group_id: str, invite_id: str) -> Invite | None:
    """The invite this browser session made (its secret is nowhere else), or None."""
    invite = shown_once(NEW_INVITES).get(invite_id)
    if isinstance(invite, Invite) and invite.group_id == group_id:
        return invite
    return None


def invites_page(client: Client, info: GroupInfo, *, form: dict[str, str] | None = None,
                 problem: Message | None = None) -> str:
    try:
        invites = client.invites(info.group_id)
    except er.VaultError as error:
        invites, problem = [], problem or problem_for(error)
    open_invites = [i for i in reversed(invites) if i.usable]
    closed = [i for i in reversed(invites) if not i.usable]
    role = my_role(client, info.group_id)
    return render_template(
        "invites/index.html", group=info, group_name=group_label(info), my_role=role,
        is_admin=is_admin(role), open_invites=open_invites,
        closed_invites=closed, why_closed=why_closed, form=form or invite_form_defaults(info),
        expiry_choices=EXPIRY_CHOICES, history_choices=HISTORY_CHOICES, max_uses=MAX_USES,
        problem=problem, anyone=ANYONE_WITH_IT)


def why_closed(invite: InviteInfo) -> str:
    """Why *invite* no longer works, untranslated (the template says ``_(why_closed(i))``)."""
    if invite.revoked:
        return N_("revoked")
    if invite.uses_left == 0:
        return N_("used up")
    return N_("expired, or its maker is no longer an admin")


# --- inviting (admins) ------------------------------------------------------------------------


@blueprint.get("/groups/<group_id>/invites")
@with_client
def index(client: Client, group_id: str) -> ViewResult:
    return invites_page(client, find_group(client, group_id))


@blueprint.post("/groups/<group_id>/invites")
@with_client
def create(client: Client, group_id: str) -> ViewResult:
    info = find_group(client, group_id)
    form = {"max_uses": request.form.get("max_uses", "").strip(),
            "expires": request.form.get("expires", DEFAULT_EXPIRY),
            "approval": "on" if request.form.get("approval") else "",
            "history": request.form.get("history", "none")}
    try:
        max_uses = int(form["max_uses"])
    except ValueError:
        max_uses = 0
    expiry = next((delta for key, _label, delta in EXPIRY_CHOICES if key == form["expires"]),
                  None)
    history = parse_history(form["history"])
    problem = None
    if not 1 <= max_uses <= MAX_USES:
        problem = Message(gettext("Choose how many people can use the invite: 1 to "
                                  "%(most)d.", most=MAX_USES))
    elif expiry is None or history is None:
        problem = Message(gettext("Choose one of the options offered."),
                          gettext("Please check the form."))
    if problem is not None:
        return invites_page(client, info, form=form, problem=problem), 422
    assert expiry is not None and history is not None
    try:
        # The history policy is the group's (a log entry every admin's device admits by):
        # changed here only when the form asks for another one.
        if history != info.history_policy:
            client.set_history_policy(info.group_id, history)
        invite = client.create_invite(info.group_id, max_uses=max_uses, expires_in=expiry,
                                      require_approval=bool(form["approval"]))
    except Exception as error:
        return invites_page(client, info, form=form, problem=problem_for(error)), 422
    shown_once(NEW_INVITES).put(invite.invite_id, invite)
    return go(url_for("invites.show", group_id=info.group_id, invite_id=invite.invite_id))


@blueprint.get("/groups/<group_id>/invites/<invite_id>")
@with_client
def show(client: Client, group_id: str, invite_id: str) -> ViewResult:
    info = find_group(client, group_id)
    invite = fresh_invite(info.group_id, invite_id)
    return render_template("invites/show.html", group=info, group_name=group_label(info),
                           invite=invite, anyone=ANYONE_WITH_IT,
                           my_role=my_role(client, info.group_id),
                           history=history_label(client.group(info.group_id).history_policy))


def _qr(group_id: str, invite_id: str) -> Invite:
    invite = fresh_invite(group_id, invite_id)
    if invite is None:
        abort(404)
    return invite


@blueprint.get("/groups/<group_id>/invites/<invite_id>/qr.svg")
@with_client
def qr_svg(client: Client, group_id: str, invite_id: str) -> ViewResult:
    """The QR code for the page's ``<img>`` (an image: nothing in it can run)."""
    data = _qr(group_id, invite_id).render_qr("svg")
    return Response(data, mimetype="image/svg+xml")


@blueprint.get("/groups/<group_id>/invites/<invite_id>/qr.png")
@with_client
def qr_png(client: Client, group_id: str, invite_id: str) -> ViewResult:
    """The QR code as a PNG file to download (to print, or to send by a safe channel)."""
    data = _qr(group_id, invite_id).render_qr("png")
    response = Response(data, mimetype="image/png")
    response.headers["Content-Disposition"] = 'attachment; filename="vault-invite.png"'
    return response


@blueprint.post("/groups/<group_id>/invites/<invite_id>/revoke")
@with_client
def revoke(client: Client, group_id: str, invite_id: str) -> ViewResult:
    info = find_group(client, group_id)
    try:
        client.revoke_invite(info.group_id, invite_id)
    except Exception as error:
        notify(problem_for(error))
    else:
        notify(Message(gettext("The invite was revoked: nobody else can use it."),
                       gettext("People it already let in stay in the group.")))
    return go(url_for("invites.index", group_id=info.group_id))


# --- joining (anyone) -------------------------------------------------------------------------


@dataclass(frozen=True)
class Number:
    """A safety number to read out, and with whom."""

    who: str | None
    """Their name as the page shows members (None: the invite's maker, name unknown)."""
    digits: str
    inviter: bool


def join_page(form: dict[str, str], problem: Message | None, status: int = 200) -> ViewResult:
    return render_template("invites/join.html", form=form, problem=problem), status


@blueprint.errorhandler(RequestEntityTooLarge)
def too_large(error: RequestEntityTooLarge) -> ViewResult:
    """A photo bigger than the app takes: said plainly, on the join page."""
    return join_page({"link": "", "display_name": ""}, Message(
        gettext("That picture is too large for Vault to read."),
        gettext("Take a screenshot of just the QR code, or paste the invite link instead.")),
        413)


@blueprint.route("/join", methods=["GET", "POST"])
@with_client
def join(client: Client) -> ViewResult:
    form = {"link": request.form.get("link", "").strip(),
            "display_name": request.form.get("display_name", "").strip()}
    if request.method == "GET":
        return join_page(form, None)
    image = request.files.get("image")
    has_image = image is not None and bool(image.filename)
    if not form["link"] and not has_image:
        return join_page(form, Message(
            gettext("There is no invite to use yet."),
            gettext("Paste the invite link, choose a picture of its QR code, or scan it with "
                    "the camera.")), 422)
    if not form["display_name"]:
        return join_page(form, Message(gettext("Choose the name the group will see."),
                                       gettext("It does not have to be your real name.")), 422)
    try:
        if form["link"]:
            uri = form["link"]
        else:
            assert image is not None
            # The picture goes to a private temporary folder, is read, and is deleted.
            with tempfile.TemporaryDirectory(prefix="vault-invite-") as folder:
                path = os.path.join(folder, "invite-picture")
                image.save(path)
                uri = client.invite_from_image(path)
        preview = client.preview_invite(uri)
    except er.InviteImageError as error:
        return join_page(form, Message(unreadable_picture(error),
                                       gettext("Or paste the invite link instead.")), 422)
    except Exception as error:
        return join_page(form, problem_for(error), 422)
    return preview_page(preview, uri, form["display_name"], None)


def preview_page(preview: InvitePreview, uri: str, display_name: str,
                 problem: Message | None, status: int = 200) -> ViewResult:
    """What the invite shows of the group, before asking to join: read, then accept."""
    history = None if preview.history_policy is None else history_label(preview.history_policy)
    return render_template("invites/preview.html", preview=preview, uri=uri,
                           display_name=display_name, problem=problem, history=history), status


@blueprint.post("/join/ask")
@with_client
def ask_to_join(client: Client) -> ViewResult:
    """Ask to join, having read the group's description and rules (and accepted them)."""
    uri = request.form.get("link", "").strip()
    display_name = request.form.get("display_name", "").strip()
    rules_id = request.form.get("rules_id") or None
    form = {"link": uri, "display_name": display_name}
    if not uri or not display_name:
        return join_page(form, Message(gettext("There is no invite to use yet."),
                                       gettext("Paste the invite link again.")), 422)
    try:
        if rules_id is not None and request.form.get("accept") != "yes":
            preview = client.preview_invite(uri)
            return preview_page(preview, uri, display_name, Message(
                gettext("To ask to join, tick the box to say you accept the group's rules."),
                gettext("If you do not accept them, you do not have to join.")), 422)
        result = client.join(uri, display_name=display_name, accept_rules=rules_id)
    except er.AlreadyMemberError:
        return join_page(form, Message(gettext("You are already a member of that group."),
                                       gettext("Find it under “Your groups”.")), 409)
    except Exception as error:
        return join_page(form, problem_for(error), 422)
    shown_once(JOIN_RESULTS).put(result.group_id, result)
    return go(url_for("invites.joined", group_id=result.group_id))


def unreadable_picture(error: er.InviteImageError) -> str:
    """What was wrong with the picture: the SDK's words (which are English), or in another
    language (or when the SDK said nothing) a sentence of our own."""
    own = gettext("Vault could not find the QR code of a Vault invite in that picture.")
    if language() != DEFAULT:
        return own
    return sentence(error.message) or own


def numbers_to_read(client: Client, info: GroupInfo, result: JoinResult | None
                    ) -> list[Number]:
    """The safety numbers this person reads out: with the invite's maker first (from the
    join, when this session did it), then with every other admin, who may be the one to
    approve."""
    out: list[Number] = []
    inviter = result.inviter if result is not None else None
    if result is not None:
        out.append(Number(result.inviter_name, result.safety_number, True))
    try:
        members: list[MemberInfo] = client.members(info.group_id)
    except er.VaultError:
        members = []
    for member in members:
        if member.is_me or member.member_id == inviter or member.role < Role.ADMIN:
            continue
        try:
            digits = client.safety_number(info.group_id, member.member_id)
        except er.VaultError:
            continue
        who = member.label or gettext("member %(fingerprint)s", fingerprint=member.fingerprint)
        out.append(Number(who, digits, False))
    return out


@blueprint.get("/join/<group_id>")
@with_client
def joined(client: Client, group_id: str) -> ViewResult:
    """After joining: waiting for an admin (the safety number to read out), or in."""
    info = find_group(client, group_id)
    problem = None
    if info.status == "pending":
        try:
            client.join_status(info.group_id)  # an admin may have answered already
        except Exception as error:
            problem = problem_for(error)
        info = find_group(client, group_id)
    result = shown_once(JOIN_RESULTS).get(info.group_id)
    result = result if isinstance(result, JoinResult) else None
    return render_template("invites/joined.html", group=info, group_name=group_label(info),
                           numbers=numbers_to_read(client, info, result), problem=problem)
